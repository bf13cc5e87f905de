//go:build linux

// Repairing records. With no daemon, nothing watches a monitor: if it is
// killed (kill -9, a crash, a reboot), the container dies with it (its
// parent-death signal), and the record still says "running". Every command
// that reads records first reconciles them: a record whose monitor is gone
// is marked exited, and what the container held is released (its cgroup,
// its network lease, --rm). Repeating it is harmless.

package container

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// Stale reports whether a record claims a life that no process has: it
// says running (or is being started) but its monitor is gone.
func Stale(c *state.Container) bool {
	if c.State.Status != "running" && c.State.Status != "paused" && !(c.State.Status == "created" && c.Minidocker.MonitorPid != 0) {
		return false
	}
	return !procfs.Alive(c.Minidocker.MonitorPid, c.Minidocker.MonitorStartTime)
}

// Reconcile repairs every stale record and returns the records as they are now.
func (rt *Runtime) Reconcile() ([]*state.Container, error) {
	list, incomplete, err := rt.State.List()
	if err != nil {
		return nil, err
	}
	for _, id := range incomplete { // a create killed before its first save
		if rt.State.RemoveIncomplete(id) == nil {
			if unlock, ok := rt.State.TryLockRemoval(id); ok {
				_ = rt.finishRemoval(id)
				unlock()
			}
		}
	}
	var out []*state.Container
	for _, c := range list {
		if Stale(c) {
			if err := rt.repair(c); err != nil {
				return nil, err
			}
			if !Stale(c) && c.HostConfig.AutoRemove {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// repair marks a stale container exited and releases what it held,
// under the container's lock, on the record as it is once the lock is
// held: a command that started the container anew meanwhile has made
// a new cgroup of the same name, which must not be destroyed. While
// another command holds the lock, repair leaves c as it is: that
// command is changing the container, and repairs it if need be.
func (rt *Runtime) repair(c *state.Container) error {
	unlock, ok, err := rt.State.TryLockContainer(c.ID)
	if errors.Is(err, state.ErrNotFound) || (err == nil && !ok) {
		return nil // removed meanwhile, or being changed
	}
	if err != nil {
		return err
	}
	defer unlock()
	r, err := rt.State.Get(c.ID)
	if err != nil || !Stale(r) {
		if err == nil {
			*c = *r
		}
		return nil
	}
	oom := rt.Cgroup(r).OOMKilled()
	errs := []error{rt.release(r)}
	_ = network.Reclaim()
	err = rt.updateAndEmit(c.ID, func(r *state.Container) error {
		if !Stale(r) {
			return nil // its monitor finished it meanwhile
		}
		r.State.Status, r.State.Running, r.State.Paused, r.State.Pid = "exited", false, false, 0
		r.State.ExitCode, r.State.OOMKilled = 137, oom
		r.State.FinishedAt = lastBeat(rt.State.Dir(r.ID), r.State.StartedAt)
		r.State.Error = fmt.Sprintf("its monitor (pid %d) was killed, and the container with it", r.Minidocker.MonitorPid)
		r.Minidocker.Endpoint, r.Minidocker.MonitorPid = nil, 0
		r.NetworkSettings = state.NetworkSettings{}
		*c = *r
		return nil
	}, "die", map[string]string{"exitCode": "137"})
	if err == nil && c.HostConfig.AutoRemove {
		err = rt.Remove(c)
	}
	return errors.Join(append(errs, err)...)
}

// Find resolves a name or id prefix to a reconciled record.
func (rt *Runtime) Find(ref string) (*state.Container, error) {
	c, err := rt.State.Find(ref)
	if err != nil {
		return nil, err
	}
	if Stale(c) {
		if err := rt.repair(c); err != nil {
			return nil, err
		}
		if !Stale(c) && c.HostConfig.AutoRemove {
			return nil, fmt.Errorf("%w: %s", state.ErrNotFound, ref)
		}
	}
	return c, nil
}

// Running reports whether the container's process is alive now.
func Running(c *state.Container) bool {
	return c.State.Running && procfs.Alive(c.State.Pid, c.Minidocker.PidStartTime)
}

// release gives back what the record of a container that no longer runs
// may still name: its network lease and its cgroup. Each is harmless to
// release twice.
func (rt *Runtime) release(c *state.Container) error {
	var errs []error
	if len(c.Minidocker.Endpoint) > 0 {
		var ep network.Endpoint
		if json.Unmarshal(c.Minidocker.Endpoint, &ep) == nil {
			errs = append(errs, network.Release(&ep))
		}
	}
	return errors.Join(append(errs, rt.Cgroup(c).Destroy())...)
}
