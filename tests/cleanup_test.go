// One cleanup for everything: every step is run and killed with SIGKILL
// mid-run (so none of them can clean up after itself), then
// "minidocker cleanup" must leave the host as it was before.

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCleanupRemovesWhatKilledStepsLeft kills each step while its
// container runs, then checks that cleanup removes what they left
// (cgroups, temporary rootfs and container dirs, network leases, step08's
// state), and that a second cleanup finds nothing to do.
func TestCleanupRemovesWhatKilledStepsLeft(t *testing.T) {
	containerTest(t)
	if finalBinary == "" {
		t.Fatal("the minidocker binary (./final) was not built")
	}
	state := filepath.Join(t.TempDir(), "step08-state")
	var left []string
	for _, s := range stepsFrom(3) {
		before := hostState(t)
		sess := startWithEnv(t, s, []string{"MINIDOCKER_ROOT=" + state}, "--", "sh", "-c", "echo up; sleep 100")
		if line := sess.readLine(t); line != "up" {
			t.Fatalf("%s printed %q", s.name, line)
		}
		_ = sess.cmd.Process.Kill()
		_ = sess.cmd.Wait()
		left = append(left, difference(hostState(t), before)...)
	}
	if len(left) == 0 {
		t.Fatal("no killed step left anything behind: this test would prove nothing")
	}
	t.Logf("left behind by killed steps: %v", left)
	cmd := []string{"--root", state, "cleanup"}
	out, err := runFinal(cmd...)
	if err != nil {
		t.Fatalf("minidocker cleanup: %v\n%s", err, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("cleanup left step08's state %s", state)
	}
	out, err = runFinal(cmd...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("a second cleanup: %v, printed %q; want nothing to do", err, out)
	}
}

// runFinal runs minidocker in a network namespace of its own.
func runFinal(args ...string) (string, error) {
	cmd := exec.Command(finalBinary, args...)
	cmd.SysProcAttr = isolatedNetwork()
	out, err := cmd.CombinedOutput()
	return string(out), err
}
