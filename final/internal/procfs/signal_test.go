//go:build linux

package procfs

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envInside marks the copy of the test binary that runs in a PID
// namespace of its own; envSleeper the copies that only wait for a signal.
const (
	envInside  = "PROCFS_TEST_INSIDE"
	envSleeper = "PROCFS_TEST_SLEEPER"
)

// TestMain lets the test binary serve as the processes the tests signal.
func TestMain(m *testing.M) {
	if os.Getenv(envSleeper) != "" {
		for {
			_ = unix.Pause()
		}
	}
	os.Exit(m.Run())
}

// TestSignalMissesAReusedPid gives a recorded process's pid to another
// process, B, at the two moments that matter, and checks that Signal
// says the recorded one is gone and that B gets nothing:
//   - before the call: the start time, read after pidfd_open, differs;
//   - between Find's check and the signal (where a check-then-kill(pid)
//     sends it to B): the pidfd holds the dead process, not the pid.
//
// Which pid B gets is chosen by writing ns_last_pid, which needs a PID
// namespace of our own: the test runs itself again as its first process.
func TestSignalMissesAReusedPid(t *testing.T) {
	if os.Getenv(envInside) == "" {
		runInPidNamespace(t, "^TestSignalMissesAReusedPid$")
		return
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		t.Fatal(err) // this namespace's pids
	}
	t.Run("before", func(t *testing.T) {
		a := startSleeper(t)
		pid, start := a.Process.Pid, StartTime(a.Process.Pid)
		b := reuse(t, a, start)
		if err := Signal(pid, start, unix.SIGKILL); !errors.Is(err, ErrGone) {
			t.Errorf("Signal(%d, %d) of a reused pid: %v, want ErrGone", pid, start, err)
		}
		checkSpared(t, b)
	})
	t.Run("between", func(t *testing.T) {
		a := startSleeper(t)
		pid, start := a.Process.Pid, StartTime(a.Process.Pid)
		var b *exec.Cmd
		afterCheck = func(*Process) { b = reuse(t, a, start) }
		defer func() { afterCheck = func(*Process) {} }()
		if err := Signal(pid, start, unix.SIGKILL); !errors.Is(err, ErrGone) {
			t.Errorf("Signal(%d, %d), pid reused after the check: %v, want ErrGone", pid, start, err)
		}
		checkSpared(t, b)
	})
}

// runInPidNamespace runs the test named by pattern again, as the first
// process of a new PID and mount namespace, and fails if it fails.
func runInPidNamespace(t *testing.T, pattern string) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a PID namespace")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envInside+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a new PID namespace: %v\n%s", err, out)
	}
	t.Logf("in a new PID namespace:\n%s", out)
}

// startSleeper starts a copy of the test binary that waits for a signal.
func startSleeper(t *testing.T) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), envSleeper+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// reuse kills and reaps a, which started at start, and starts B with
// a's pid, in a later clock tick than a (the tick is all a start time
// can tell apart): ns_last_pid is the pid the next fork's is counted from.
func reuse(t *testing.T, a *exec.Cmd, start uint64) *exec.Cmd {
	pid := a.Process.Pid
	_ = a.Process.Kill()
	_ = a.Wait()
	for ticksSinceBoot() <= start {
		time.Sleep(time.Millisecond)
	}
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
		t.Fatal(err)
	}
	b := startSleeper(t)
	if b.Process.Pid != pid || StartTime(pid) == start {
		t.Fatalf("B is pid %d, started at %d: want pid %d, not started at %d", b.Process.Pid, StartTime(pid), pid, start)
	}
	return b
}

// ticksSinceBoot is the boot-time clock in the units of /proc/PID/stat's
// start time (USER_HZ, 100 a second).
func ticksSinceBoot() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Sec)*100 + uint64(ts.Nsec)/10_000_000
}

// checkSpared ends B with SIGTERM and checks that SIGTERM is what ended
// it: a SIGKILL sent to it earlier would have decided its end already.
func checkSpared(t *testing.T, b *exec.Cmd) {
	t.Helper()
	if b == nil {
		t.Fatal("the pid was not reused")
	}
	_ = b.Process.Signal(unix.SIGTERM)
	_ = b.Wait()
	ws := b.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != unix.SIGTERM {
		t.Errorf("B (pid %d), which took the recorded pid, ended with %v: the signal for the recorded process reached it", b.Process.Pid, b.ProcessState)
	}
}
