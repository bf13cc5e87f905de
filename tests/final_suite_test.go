// The harness of final's black-box tests: the minidocker binary (built as
// "final" next to the steps) and a static helper program, each test with
// a state root and a network namespace of its own.

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// finalBinary and helperBinary are the built minidocker and tests/helper.
var finalBinary, helperBinary string

// buildFinal compiles ./final as "final" and ./tests/helper (static) as "helper" into dir.
func buildFinal(dir string) error {
	for _, b := range []struct{ out, pkg string }{{"final", "./final"}, {"helper", "./tests/helper"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return &buildError{b.pkg, err, out}
		}
	}
	return nil
}

// buildError is a failed go build.
type buildError struct {
	pkg string
	err error
	out []byte
}

// Error says which package failed and why.
func (e *buildError) Error() string {
	return "go build " + e.pkg + ": " + e.err.Error() + "\n" + string(e.out)
}

// findFinal records where the binaries are, if they were built.
func findFinal(dir string) {
	if _, err := os.Stat(filepath.Join(dir, "final")); err == nil {
		finalBinary = filepath.Join(dir, "final")
	}
	if _, err := os.Stat(filepath.Join(dir, "helper")); err == nil {
		helperBinary = filepath.Join(dir, "helper")
	}
}

// md is one test's minidocker: its own state root, and a network
// namespace of its own in which every command runs.
type md struct {
	t    *testing.T
	root string
	jobs chan func()
	as   *rootlessUser // not nil: run by this unprivileged user, with its own state (rootless_test.go)
}

// newMD makes a test's minidocker; it needs root. At the end the host
// must be as clean as before, checked before the test's own "minidocker
// cleanup" runs (which would hide a leak), and once more after it.
func newMD(t *testing.T) *md {
	t.Helper()
	containerTest(t) // the check after cleanup
	if finalBinary == "" {
		t.Fatal("the minidocker binary (./final) was not built")
	}
	before := hostState(t)
	root, err := os.MkdirTemp("/var/tmp", "minidocker-tests-final-")
	if err != nil {
		t.Fatal(err)
	}
	m := &md{t: t, root: root, jobs: make(chan func())}
	ready := make(chan error)
	go m.netnsLoop(ready)
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.run("ps", "-a") // repairs what a killed monitor left, as any command would
		for _, leak := range difference(hostState(t), before) {
			t.Errorf("left behind on the host while minidocker's records are all final: %s", leak)
		}
		m.run("cleanup") // whatever a failed test left, as a user would
		close(m.jobs)
		os.RemoveAll(root)
	})
	return m
}

// netnsLoop runs the test's commands from one OS thread that has left the
// host's network namespace for a new one; processes started from that
// thread are born in it (fork copies the calling thread's namespaces).
// The thread is never unlocked, so Go discards it when the loop ends.
func (m *md) netnsLoop(ready chan<- error) {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		ready <- err
		return
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		_ = netlink.LinkSetUp(lo)
	}
	ready <- nil
	for job := range m.jobs {
		job()
	}
}

// on is m for a subtest: the same state root and namespace, failing t.
func (m *md) on(t *testing.T) *md {
	sub := *m
	sub.t = t
	return &sub
}

// inNetns runs fn on the test's network namespace thread.
func (m *md) inNetns(fn func()) {
	done := make(chan struct{})
	m.jobs <- func() { fn(); close(done) }
	<-done
}

// run runs minidocker with args to completion.
func (m *md) run(args ...string) result {
	return m.runInput("", args...)
}

// runInput runs minidocker with args, stdin from input.
func (m *md) runInput(input string, args ...string) result {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"--root", m.root}, args...)
	if m.as != nil {
		argv = args
	}
	cmd := exec.CommandContext(ctx, finalBinary, argv...)
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m.as != nil {
		m.as.command(cmd)
	}
	var err error
	m.inNetns(func() { err = cmd.Run() })
	code, err := exitCode(err)
	if err != nil {
		m.t.Fatalf("minidocker %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		m.t.Fatalf("minidocker %s: timed out\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// must runs minidocker and fails the test unless it exits 0; its stdout.
func (m *md) must(args ...string) string {
	m.t.Helper()
	r := m.run(args...)
	if r.code != 0 {
		m.t.Fatalf("minidocker %s: exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs minidocker, expecting the exit status code and an error
// message containing want.
func (m *md) fails(code int, want string, args ...string) {
	m.t.Helper()
	r := m.run(args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		m.t.Errorf("minidocker %s: got exit %d and stderr %q; want exit %d and an error containing %q",
			strings.Join(args, " "), r.code, r.stderr, code, want)
	}
}

// inspect reads one container's or image's inspect JSON.
func (m *md) inspect(ref string) map[string]any {
	m.t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(m.must("inspect", ref)), &out); err != nil || len(out) != 1 {
		m.t.Fatalf("inspect %s: %v", ref, err)
	}
	return out[0]
}

// field digs a value out of decoded JSON: field(v, "State", "Pid").
func field(v any, path ...string) any {
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[p]
	}
	return v
}

// helperVolume is the -v that puts the helper program at /helper.
func helperVolume(t *testing.T) string {
	t.Helper()
	if helperBinary == "" {
		t.Fatal("the test helper (./tests/helper) was not built")
	}
	return helperBinary + ":/helper:ro"
}

// syscallKill sends SIGKILL to a process this test started (through minidocker).
func syscallKill(pid int) error {
	return unix.Kill(pid, unix.SIGKILL)
}
