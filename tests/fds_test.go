// Descriptors the caller leaves open must not reach a container. A shell
// that ran `exec 8</` before starting a step or minidocker hands fd 8 to
// it, and Go passes every inherited descriptor on at execve: the container
// could read the host's / as /proc/self/fd/8, whatever its root, and write
// a host file through an inherited writable one. That is the shape of
// runc's CVE-2024-21626. These tests hand fd 8 (the host's /) and fd 9 (a
// host file open for writing) to the program, as the shell would.

package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leakScript tries each way into the host through fds 8 and 9 and prints
// what worked, then "ran", so that a container that never ran is no pass.
const leakScript = `cat /proc/self/fd/8%s; echo pwned >&9; [ -e /proc/self/fd/8 ] && echo fd 8 is open; [ -e /proc/self/fd/9 ] && echo fd 9 is open; echo ran`

func TestInheritedFilesDoNotReachTheContainer(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		marker := hostMarker(t)
		files, written := callerFiles(t)
		r := runWithFiles(t, s, files, "-q", "--", "sh", "-c", fmt.Sprintf(leakScript, marker))
		if r.stdout != "ran\n" {
			t.Errorf("the caller's fds 8 and 9 reached the container: it printed %q (exit %d), want only \"ran\"\nstderr:\n%s", r.stdout, r.code, r.stderr)
		}
		assertNotWritten(t, written)
	})
}

// TestFinalInheritedFilesDoNotReachTheContainer checks run, run -d (the
// container's PID 1 and its monitor) and exec, and that -w cannot name an
// inherited descriptor to put the command's working directory on the host.
func TestFinalInheritedFilesDoNotReachTheContainer(t *testing.T) {
	m := newMD(t)
	marker := hostMarker(t)
	files, written := callerFiles(t)
	script := fmt.Sprintf(leakScript, marker)
	if r := m.runFiles(files, "run", "--rm", "base", "sh", "-c", script); r.stdout != "ran\n" {
		t.Errorf("run: the caller's fds 8 and 9 reached the container: %q (exit %d)\n%s", r.stdout, r.code, r.stderr)
	}
	// The working directory through /proc/self/fd/8 would be the host's /.
	relMarker := strings.TrimPrefix(marker, "/")
	r := m.runFiles(files, "run", "--rm", "-w", "/proc/self/fd/8", "base", "cat", relMarker)
	if r.code != 125 || strings.Contains(r.stdout, "host secret") {
		t.Errorf("run -w /proc/self/fd/8: exit %d, printed %q; want 125 and nothing of the host", r.code, r.stdout)
	}

	out := m.runFiles(files, "run", "-d", "--name", "box", "base", "sleep", "1000")
	if out.code != 0 {
		t.Fatalf("run -d: exit %d\n%s", out.code, out.stderr)
	}
	info := m.inspect("box")
	pid1 := int(field(info, "State", "Pid").(float64))
	if fds := openFds(t, pid1); strings.Join(fds, " ") != "0 1 2" {
		t.Errorf("the container's PID 1 (sleep) has fds %v, want 0 1 2 only", fds)
	}
	monitor := int(field(info, "Minidocker", "MonitorPid").(float64))
	for _, fd := range openFds(t, monitor) {
		st, err := os.Stat(fmt.Sprintf("/proc/%d/fd/%s", monitor, fd))
		for _, f := range files[5:] {
			if fst, _ := f.Stat(); err == nil && os.SameFile(st, fst) {
				t.Errorf("the monitor (pid %d) holds the caller's %s as its fd %s", monitor, f.Name(), fd)
			}
		}
	}

	if r := m.runFiles(files, "exec", "box", "sh", "-c", script); r.stdout != "ran\n" {
		t.Errorf("exec: the caller's fds 8 and 9 reached the command: %q (exit %d)\n%s", r.stdout, r.code, r.stderr)
	}
	r = m.runFiles(files, "exec", "-w", "/proc/self/fd/8", "box", "cat", relMarker)
	if r.code != 125 || strings.Contains(r.stdout, "host secret") {
		t.Errorf("exec -w /proc/self/fd/8: exit %d, printed %q; want 125 and nothing of the host", r.code, r.stdout)
	}
	assertNotWritten(t, written)
	m.must("rm", "-f", "box")
}

// callerFiles opens what a careless caller leaves open, as the child's
// ExtraFiles: fd 8 is the host's /, fd 9 a host file open for writing
// (written, which must stay empty).
func callerFiles(t *testing.T) (files []*os.File, written string) {
	t.Helper()
	root, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	written = filepath.Join(sharedDir(t), "written")
	w, err := os.OpenFile(written, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close(); w.Close() })
	return []*os.File{nil, nil, nil, nil, nil, root, w}, written // fds 3..7 closed, 8, 9
}

// assertNotWritten fails the test if the container wrote the host file.
func assertNotWritten(t *testing.T, path string) {
	t.Helper()
	if data, err := os.ReadFile(path); err != nil || len(data) != 0 {
		t.Errorf("the host file %s was written through the inherited fd 9: %q (%v)", path, data, err)
	}
}

// openFds lists the fds a process has open, in order.
func openFds(t *testing.T, pid int) []string {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range entries {
		n, _ := strconv.Atoi(e.Name())
		fds = append(fds, n)
	}
	sort.Ints(fds)
	var out []string
	for _, n := range fds {
		out = append(out, strconv.Itoa(n))
	}
	return out
}

// runWithFiles runs a step to completion, handing it files as fds 3 on.
func runWithFiles(t *testing.T, s step, files []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.binary, args...)
	cmd.ExtraFiles = files
	cmd.SysProcAttr = isolatedNetwork()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, err := exitCode(cmd.Run())
	if err != nil || ctx.Err() != nil {
		t.Fatalf("%s %s: %v %v\nstderr:\n%s", s.name, strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// runFiles runs minidocker to completion, handing it files as fds 3 on.
func (m *md) runFiles(files []*os.File, args ...string) result {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, finalBinary, append([]string{"--root", m.root}, args...)...)
	cmd.ExtraFiles = files
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Run() })
	code, err := exitCode(err)
	if err != nil || ctx.Err() != nil {
		m.t.Fatalf("minidocker %s: %v %v\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
