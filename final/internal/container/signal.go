//go:build linux

// stop and kill. Signals go to the container's first process, by its pid
// as the record knows it, and only while that pid is still the process
// that started then (a recycled pid is someone else's). `stop` sends
// SIGTERM, waits, then SIGKILL, and waits for the monitor to record the end.

package container

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/state"
)

// Kill sends sig to a running container.
func (rt *Runtime) Kill(c *state.Container, sig unix.Signal) error {
	if !Running(c) {
		return fmt.Errorf("container %s is not running", state.Short(c.ID))
	}
	if err := unix.Kill(c.State.Pid, sig); err != nil {
		return fmt.Errorf("kill(%d, %v): %w", c.State.Pid, sig, err)
	}
	return nil
}

// Stop sends SIGTERM, and SIGKILL after timeout if the container still
// runs; it returns once the monitor has recorded the end.
func (rt *Runtime) Stop(c *state.Container, timeout time.Duration) error {
	if !Running(c) {
		return nil
	}
	_ = unix.Kill(c.State.Pid, unix.SIGTERM)
	if !rt.waitExited(c.ID, timeout) {
		_ = unix.Kill(c.State.Pid, unix.SIGKILL)
		if !rt.waitExited(c.ID, 10*time.Second) {
			return fmt.Errorf("container %s did not stop", state.Short(c.ID))
		}
	}
	return nil
}

// waitExited waits until the record no longer says running, or the timeout.
func (rt *Runtime) waitExited(id string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		c, err := rt.State.Get(id)
		if err != nil || !c.State.Running || (Stale(c) && rt.repair(c) == nil) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitExited waits without limit until the container is no longer running.
func (rt *Runtime) WaitExited(id string) {
	rt.waitExited(id, 365*24*time.Hour)
}
