//go:build linux

// The monitor's heartbeat: while a container runs, its monitor touches
// <container dir>/heartbeat once a second. When a monitor is killed with
// SIGKILL, nothing records the moment; the kernel keeps no time of a
// process's death that can be read afterwards. The heartbeat's mtime is
// the last moment the monitor was known alive, so a repair that comes
// hours later still dates the end within a second of the truth, instead
// of at the time of the repair. (It costs one pwrite(2) a second per
// running container.)

package container

import (
	"os"
	"path/filepath"
	"time"
)

// heartbeatEvery is how often a monitor touches its heartbeat file.
const heartbeatEvery = time.Second

// heartbeatPath is the heartbeat file in a container's directory.
func heartbeatPath(dir string) string {
	return filepath.Join(dir, "heartbeat")
}

// beat writes the heartbeat every heartbeatEvery until stop is called.
func beat(dir string) (stop func()) {
	h, err := openHeartbeat(dir)
	if err != nil {
		return func() {} // a monitor without one still runs its container
	}
	h.touch()
	done := make(chan struct{})
	go func() {
		defer h.f.Close()
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.touch()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// heartbeat is the heartbeat file, held open while the container runs.
type heartbeat struct{ f *os.File }

// openHeartbeat creates (or opens) the heartbeat file in dir.
func openHeartbeat(dir string) (heartbeat, error) {
	f, err := os.OpenFile(heartbeatPath(dir), os.O_WRONLY|os.O_CREATE, 0o600)
	return heartbeat{f}, err
}

// beatByte is what every beat writes.
var beatByte = []byte{'.'}

// touch sets the file's mtime to now: a write does, through the open
// file, and allocates nothing (a utimensat by path would copy the path
// every second), so an idle monitor makes no garbage and its collector
// need never run (settleMemory, final/cmd_run.go).
func (h heartbeat) touch() { _, _ = h.f.WriteAt(beatByte, 0) }

// lastBeat is when a dead monitor was last known alive: its heartbeat's
// mtime (not before started: file times come from a coarser clock), or
// now when there is none (the monitor died before the container ran).
func lastBeat(dir string, started time.Time) time.Time {
	fi, err := os.Stat(heartbeatPath(dir))
	if err != nil {
		return time.Now().UTC()
	}
	if fi.ModTime().Before(started) {
		return started
	}
	return fi.ModTime().UTC()
}

// forgetBeat removes a previous run's heartbeat, when a monitor starts.
func forgetBeat(dir string) {
	_ = os.Remove(heartbeatPath(dir))
}
