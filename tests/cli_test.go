// Checks of the command line every step shares: exit statuses, flags,
// narration, refusing to run without root, and Ctrl-C.

package tests

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minidocker/minidocker/tests/skip"
)

func TestExitStatusIsTheContainers(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"exit 7", []string{"--", "sh", "-c", "exit 7"}, 7},
		{"not found", []string{"--", "no-such-command"}, 127},
	}
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if r := run(t, s, c.args...); r.code != c.want {
					t.Errorf("exit status %d, want %d\nstderr:\n%s", r.code, c.want, r.stderr)
				}
			})
		}
	})
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		r := run(t, s, "--no-such-flag")
		if r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --no-such-flag") {
			t.Errorf("exit %d, stderr %q; want 2 and \"unknown flag\"", r.code, r.stderr)
		}
	})
}

func TestHelpExplainsTheStep(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		r := run(t, s, "-h")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: sudo go run ./"+s.name) || !strings.Contains(r.stderr, "--quiet") {
			t.Errorf("-h: exit %d, output:\n%s", r.code, r.stderr)
		}
	})
}

func TestRefusesToRunWithoutRoot(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		skip.UnlessRoot(t) // to become someone else
		cmd := exec.Command(s.binary, "--", "true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code, _ := exitCode(err)
		if code != 125 || !strings.Contains(string(out), "must run as root") {
			t.Errorf("as nobody: exit %d, output %q; want 125 and \"must run as root\"", code, out)
		}
	})
}

func TestNarrationAndQuiet(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "--", "true")
		for _, want := range []string{"[host]      clone(CLONE_NEWUTS|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWNET", "[container] sethostname(", "[container] execve("} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the narration lacks %q:\n%s", want, r.stderr)
			}
		}
		if strings.Contains(r.stderr, "\x1b[") {
			t.Errorf("colour codes in narration written to a pipe:\n%q", r.stderr)
		}
		if q := mustRun(t, s, "-q", "--", "true"); q.stderr != "" {
			t.Errorf("-q still narrates:\n%s", q.stderr)
		}
	})
}

func TestCtrlCEndsTheContainerAndCleansUp(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		sess := start(t, s, "--", "sleep", "60")
		child := waitForChild(t, sess, "sleep")
		// A PID 1 without a handler ignores SIGINT: the first is passed on
		// and ignored, the second makes the host side kill the container.
		_ = sess.cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(200 * time.Millisecond)
		if _, err := os.Stat("/proc/" + strconv.Itoa(child)); err != nil {
			t.Errorf("the container's PID 1 died of the first SIGINT; PID 1 should ignore it")
		}
		_ = sess.cmd.Process.Signal(syscall.SIGINT)
		if code := sess.finish(t); code != 137 {
			t.Errorf("exit status %d after Ctrl-C twice, want 137 (killed)\nstderr:\n%s", code, sess.stderr)
		}
	})
}

// clonedPid finds the pid the host side narrated after clone(2).
var clonedPid = regexp.MustCompile(`clone\([A-Z_|]+\) -> pid (\d+)`)

// waitForChild waits until the container's PID 1 runs comm, and returns its host pid.
func waitForChild(t *testing.T, sess *session, comm string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := clonedPid.FindStringSubmatch(sess.stderr.String()); m != nil {
			pid, _ := strconv.Atoi(m[1])
			if got, _ := os.ReadFile("/proc/" + m[1] + "/comm"); strings.TrimSpace(string(got)) == comm {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the container never ran %s\nstderr:\n%s", comm, sess.stderr)
	return 0
}

func TestKilledContainerLeavesNothing(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t) // which checks that mounts, cgroups and the rootfs are gone
		sess := start(t, s, "--", "sleep", "60")
		child := waitForChild(t, sess, "sleep")
		if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := sess.finish(t); code != 137 {
			t.Errorf("exit status %d after the container was killed, want 137\nstderr:\n%s", code, sess.stderr)
		}
	})
}
