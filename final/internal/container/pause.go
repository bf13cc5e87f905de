//go:build linux

// pause and unpause: every process of a container frozen by its cgroup
// (cgroups.Manager.Freeze: v1's freezer.state, v2's cgroup.freeze), as
// `docker pause` does it. Unlike SIGSTOP, the processes cannot see or
// catch it. A paused container still runs: its record says Running and
// Paused, status "paused", as Docker's inspect does. A frozen process
// takes no signal until it is thawed, so stop and kill thaw a paused
// container once their signal is sent (as dockerd and runc do): the
// signal is then the first thing it sees.

package container

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/state"
)

// Pause freezes a running container. The caller holds its lock.
func (rt *Runtime) Pause(c *state.Container) error {
	switch {
	case !Running(c):
		return &Conflict{fmt.Sprintf("Container %s is not running", c.ID)}
	case c.State.Paused:
		return &Conflict{fmt.Sprintf("Container %s is already paused", c.ID)}
	}
	if err := rt.Cgroup(c).Freeze(true); err != nil {
		return fmt.Errorf("pause container %s: %w", state.Short(c.ID), err)
	}
	return rt.markPaused(c, true)
}

// Unpause thaws a paused container. The caller holds its lock.
func (rt *Runtime) Unpause(c *state.Container) error {
	if !c.State.Paused || !Running(c) {
		return &Conflict{fmt.Sprintf("Container %s is not paused", c.ID)}
	}
	if err := rt.Cgroup(c).Freeze(false); err != nil {
		return fmt.Errorf("unpause container %s: %w", state.Short(c.ID), err)
	}
	return rt.markPaused(c, false)
}

// markPaused records a pause or its end, unless the container ended meanwhile.
func (rt *Runtime) markPaused(c *state.Container, paused bool) error {
	action := "unpause"
	if paused {
		action = "pause"
	}
	return rt.updateAndEmit(c.ID, func(r *state.Container) error {
		if !r.State.Running {
			return nil
		}
		r.State.Paused, r.State.Status = paused, "running"
		if paused {
			r.State.Status = "paused"
		}
		*c = *r
		return nil
	}, action, nil)
}

// thawForSignal lets a paused container take the signal just sent: the
// stop signals (SIGTERM, SIGKILL) thaw it, as dockerd does; any other
// signal waits, queued, until unpause.
func (rt *Runtime) thawForSignal(c *state.Container, sig unix.Signal) error {
	cg := rt.Cgroup(c)
	if (sig != unix.SIGKILL && sig != unix.SIGTERM) || !cg.Frozen() {
		return nil
	}
	if err := cg.Freeze(false); err != nil {
		return fmt.Errorf("thaw container %s for %v: %w", state.Short(c.ID), sig, err)
	}
	return rt.markPaused(c, false)
}

// Conflict is a request that clashes with the container's state (Docker's
// 409): pause of a paused container, exec into a paused one.
type Conflict struct{ Msg string }

// Error says what clashes.
func (e *Conflict) Error() string { return e.Msg }

// checkNotPaused refuses exec into a paused container, with Docker's words.
func checkNotPaused(c *state.Container) error {
	if c.State.Paused {
		return &Failure{Status: 125, Message: fmt.Sprintf("Container %s is paused, unpause the container before exec", c.ID)}
	}
	return nil
}
