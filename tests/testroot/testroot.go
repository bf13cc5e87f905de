//go:build linux

// Package testroot is the one root-skip policy of every test in the
// repository: the black-box suite (tests/) and the unit tests of final's
// packages alike. The policy is described in tests/suite_test.go.
package testroot

import (
	"os"
	"testing"
)

// Need skips a test that needs root when it runs without root, or fails
// it when MINIDOCKER_STRICT is set (CI and the cgroup v2 VM set it), so a
// run that must prove something cannot pass by skipping.
func Need(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("MINIDOCKER_STRICT") != "" {
		t.Fatal("needs root, and MINIDOCKER_STRICT forbids skipping: run the tests as root")
	}
	t.Skip("needs root: namespaces, mounts, cgroups, network links and file owners are privileged (run: sudo go test ./...)")
}
