//go:build linux

package container

import (
	"os"
	"testing"
	"time"
)

// TestHeartbeatTouch checks that a beat dates the heartbeat file and
// allocates nothing: a monitor beats every second for its container's
// whole life, and only because it then makes no garbage does an idle
// monitor never need a collection (settleMemory in final/cmd_run.go).
func TestHeartbeatTouch(t *testing.T) {
	dir := t.TempDir()
	h, err := openHeartbeat(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.f.Close()
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(heartbeatPath(dir), past, past); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second) // file times come from a coarser clock
	h.touch()
	fi, err := os.Stat(heartbeatPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Before(before) {
		t.Errorf("after a beat the heartbeat's mtime is %v, want about now (%v)", fi.ModTime(), before)
	}
	if n := testing.AllocsPerRun(100, h.touch); n != 0 {
		t.Errorf("a beat allocates %v times, want none", n)
	}
}
