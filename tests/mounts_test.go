// Checks of step 02 and every step after it: private propagation, a tmpfs
// on /tmp and a /proc of the container's own.

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestTmpIsAnEmptyTmpfsTheHostCannotSee(t *testing.T) {
	forSteps(t, stepsFrom(2), func(t *testing.T, s step) {
		containerTest(t)
		before := hostMounts(t)
		sess := start(t, s, "-q", "--", "sh", "-c",
			`echo "[$(ls -A /tmp)]"; grep " /tmp " /proc/self/mountinfo; touch /tmp/made-inside; echo ready; read x; exit 0`)
		if got := sess.readLine(t); got != "[]" {
			t.Errorf("ls -A /tmp inside printed %s, want an empty /tmp", got)
		}
		var tmpMounts []string
		for line := sess.readLine(t); line != "ready"; line = sess.readLine(t) {
			tmpMounts = append(tmpMounts, line)
		}
		// The top mount on /tmp must be a tmpfs of the container's own: a
		// device no mount on the host has (the host's /tmp may be a tmpfs too).
		if len(tmpMounts) == 0 || !strings.Contains(tmpMounts[len(tmpMounts)-1], " - tmpfs ") {
			t.Fatalf("mounts on /tmp inside: %q, want a tmpfs on top", tmpMounts)
		}
		top := strings.Fields(tmpMounts[len(tmpMounts)-1])[2]
		hostInfo, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range lines(string(hostInfo)) {
			if strings.Fields(l)[2] == top {
				t.Errorf("the container's /tmp (device %s) is a mount the host has: %s", top, l)
			}
		}
		if leaked := difference(hostMounts(t), before); len(leaked) > 0 {
			t.Errorf("while the container runs the host has new mounts: %v", leaked)
		}
		if _, err := os.Stat(filepath.Join(os.TempDir(), "made-inside")); err == nil {
			t.Errorf("a file written to /tmp inside appeared in the host's /tmp")
		}
		if code := sess.finish(t); code != 0 {
			t.Errorf("exit status %d\nstderr:\n%s", code, sess.stderr)
		}
	})
}

func TestProcListsOnlyTheContainersProcesses(t *testing.T) {
	forSteps(t, stepsFrom(2), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--", "ls", "/proc")
		var pids []int
		for _, name := range strings.Fields(r.stdout) {
			if pid, err := strconv.Atoi(name); err == nil {
				pids = append(pids, pid)
			}
		}
		// ls itself is PID 1 and alone: the container has no other process.
		if len(pids) != 1 || pids[0] != 1 {
			t.Errorf("processes in the container's /proc: %v, want only [1]", pids)
		}
	})
}

// propagationScript runs a step in a mount namespace of its own whose / is
// made shared, as on every systemd host; that namespace plays the host. It
// prints how many mounts the "host" has before the step, while the
// container runs, and after the step ended.
const propagationScript = `
mount --make-rshared / || exit 99
before=$(wc -l < /proc/self/mountinfo)
: > "$LOG"
"$STEP" $FLAGS -- sleep 30 2>"$LOG" &
step=$!
i=0
while ! grep -q 'execve(' "$LOG" && kill -0 $step 2>/dev/null; do
	i=$((i+1)); [ $i -gt 600 ] && exit 98
	sleep 0.1
done
during=$(wc -l < /proc/self/mountinfo)
kill -INT $step 2>/dev/null; sleep 0.2; kill -INT $step 2>/dev/null
wait $step
status=$?
after=$(wc -l < /proc/self/mountinfo)
echo $before $during $after $status
`

func TestPrivateMountsDoNotPropagateToASharedHost(t *testing.T) {
	type propagationCase struct {
		flags        string
		leakedDuring bool
		status       int
		narration    string
	}
	private := propagationCase{"", false, 137, "no mount propagated back"}
	forSteps(t, stepsFrom(2), func(t *testing.T, s step) {
		containerTest(t)
		// Without MS_PRIVATE the mounts reach the host; from step 04 on,
		// pivot_root refuses a shared root outright (EINVAL).
		shared := propagationCase{"--no-private", true, 137, "it propagated from the container"}
		if s.number >= 4 {
			shared = propagationCase{"--no-private", false, 125, "is shared"}
		}
		for _, c := range []propagationCase{private, shared} {
			t.Run("flags="+c.flags, func(t *testing.T) {
				// The log lives outside /tmp: a leaked tmpfs would cover it.
				log := filepath.Join(sharedDir(t), "stderr")
				cmd := exec.Command("sh", "-c", propagationScript)
				cmd.Env = append(os.Environ(), "STEP="+s.binary, "FLAGS="+c.flags, "LOG="+log)
				// Go makes the new mount namespace private; the script shares it.
				// A network namespace of its own keeps step07's bridge off this machine.
				cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
				out, err := cmd.CombinedOutput()
				narration, _ := os.ReadFile(log)
				if err != nil {
					t.Fatalf("%v\n%s\nstep's stderr:\n%s", err, out, narration)
				}
				var before, during, after, status int
				if _, err := fmt.Sscan(string(out), &before, &during, &after, &status); err != nil {
					t.Fatalf("script printed %q: %v", out, err)
				}
				if status != c.status {
					t.Errorf("the step exited %d, want %d\n%s", status, c.status, narration)
				}
				if leaked := during > before; leaked != c.leakedDuring {
					t.Errorf("the shared host had %d mounts before and %d while the container ran; propagated = %v, want %v",
						before, during, leaked, c.leakedDuring)
				}
				if after != before {
					t.Errorf("the shared host had %d mounts before and %d after: not cleaned up", before, after)
				}
				if !strings.Contains(string(narration), "/ on the host has shared:") || !strings.Contains(string(narration), c.narration) {
					t.Errorf("the narration does not say %q under a shared /:\n%s", c.narration, narration)
				}
			})
		}
	})
}

// hostMounts lists the host's mount points.
func hostMounts(t *testing.T) []string {
	var mounts []string
	for _, item := range hostState(t) {
		if strings.HasPrefix(item, "mount ") {
			mounts = append(mounts, item)
		}
	}
	return mounts
}
