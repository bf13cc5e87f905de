//go:build linux

// Package skip is the one skip policy of every test in the repository,
// the black-box suite (tests/) and the unit tests of final's packages
// alike, described in tests/suite_test.go: a test that lacks what it needs
// (root, a program on the host) skips, unless MINIDOCKER_STRICT is set (CI
// and the cgroup v2 VM set it), when the skip is a failure, so that a run
// that must prove something cannot pass by skipping.
package skip

import (
	"os"
	"testing"
)

// UnlessRoot skips a test that needs root when it runs without root (a
// failure under MINIDOCKER_STRICT).
func UnlessRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Because(t, "needs root: namespaces, mounts, cgroups, network links and file owners are privileged (run: sudo go test ./...)")
	}
}

// Because skips the test for the reason why, which should say how to
// provide what is missing, or fails it under MINIDOCKER_STRICT.
func Because(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("MINIDOCKER_STRICT") != "" {
		t.Fatalf("%s, and MINIDOCKER_STRICT forbids skipping", why)
	}
	t.Skip(why)
}
