// pause and resume of minidocker-runc: the container's cgroup frozen
// (v1 freezer.state, v2 cgroup.freeze), as the kernel reports it.

package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupFrozen reads what the kernel says of a cgroup made by the runtime
// (a path like /minidocker/ID): v1's freezer.state, or v2's "frozen" in
// cgroup.events.
func cgroupFrozen(t *testing.T, path string) bool {
	t.Helper()
	if hostCgroupV2() {
		data, err := os.ReadFile("/sys/fs/cgroup" + path + "/cgroup.events")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(data), "frozen 1")
	}
	data, err := os.ReadFile("/sys/fs/cgroup/freezer" + path + "/freezer.state")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data)) == "FROZEN"
}

func TestOCIPauseResume(t *testing.T) {
	r := newOCI(t)
	r.must("create", "--bundle", r.ociBundle(nil), "frz")
	r.fails(1, "it is created, not running", "pause", "frz")
	r.must("start", "frz")

	r.must("pause", "frz")
	if !cgroupFrozen(t, "/minidocker/frz") {
		t.Error("after pause, the container's cgroup is not frozen")
	}
	if st := r.state("frz").Status; st != "paused" {
		t.Errorf("state after pause: %s, want paused", st)
	}
	r.fails(1, "it is paused", "exec", "frz", "/helper", "print", "x")
	r.fails(1, "it is paused, not running", "pause", "frz")

	r.must("resume", "frz")
	if cgroupFrozen(t, "/minidocker/frz") {
		t.Error("after resume, the container's cgroup is still frozen")
	}
	if st := r.state("frz").Status; st != specs.StateRunning {
		t.Errorf("state after resume: %s, want running", st)
	}
	if out := r.must("exec", "frz", "/helper", "print", "thawed"); out != "thawed\n" {
		t.Errorf("exec after resume: %q", out)
	}
	r.fails(1, "it is running, not paused", "resume", "frz")

	// A paused container can be deleted: its process dies once thawed.
	r.must("pause", "frz")
	r.must("delete", "--force", "frz")
}
