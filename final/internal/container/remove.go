//go:build linux

// Removing a container, and finishing removals that a killed command
// left. A removal runs under the container's lock and checks the record
// again there; one rename takes the container out of every listing
// (state/remove.go); then what the record still names is released (its
// network lease, its cgroup, a mount of its root; normally its monitor
// released them when it ended, and each release is harmless twice) and
// its files are deleted. Whatever moment a command dies at, the next
// command finishes the job.

package container

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/state"
)

// Lock waits for container id's lock and reads its record under it,
// repaired if its monitor died; call unlock when the change is done. A
// container removed meanwhile is state.ErrNotFound.
func (rt *Runtime) Lock(id string) (c *state.Container, unlock func(), err error) {
	unlock, err = rt.State.LockContainer(id)
	if err != nil {
		return nil, nil, err
	}
	c, err = rt.State.Get(id)
	if err == nil && Stale(c) {
		err = rt.repair(c)
		if err == nil && c.HostConfig.AutoRemove {
			err = fmt.Errorf("%w: %s", state.ErrNotFound, id)
		}
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// Remove deletes a container that is not running. It takes the
// container's lock (a caller that holds it already keeps it) and reads
// the record again under it, so that a container started meanwhile is
// refused rather than deleted under its monitor; one that is gone
// already is no error.
func (rt *Runtime) Remove(c *state.Container) error {
	unlock, err := rt.State.LockContainer(c.ID)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unlock()
	r, err := rt.State.Get(c.ID)
	if errors.Is(err, state.ErrNotFound) {
		return nil
	}
	if err == nil && Running(r) {
		return fmt.Errorf("cannot remove container %s: it is running: stop it first, or use rm -f", state.Short(c.ID))
	}
	// A mount left by a crash would make the deletion reach into it.
	_ = unix.Unmount(PathsIn(rt.State.Dir(c.ID)).Rootfs, unix.MNT_DETACH)
	if err := rt.State.BeginRemove(c.ID); err != nil {
		return err
	}
	if r == nil { // unreadable: the event says what the caller knew
		r = c
	}
	err = rt.finishRemoval(c.ID)
	if err == nil {
		rt.State.Emit(r, "destroy", nil)
	}
	return err
}

// finishRemoval releases what the record of a container being removed
// still names and deletes its files. The caller holds its lock.
func (rt *Runtime) finishRemoval(id string) error {
	var errs []error
	if c, err := rt.State.RemovingRecord(id); err == nil {
		errs = append(errs, rt.release(c))
	}
	_ = unix.Unmount(PathsIn(rt.State.RemovingDir(id)).Rootfs, unix.MNT_DETACH)
	errs = append(errs, rt.State.FinishRemove(id))
	return errors.Join(errs...)
}

// FinishRemovals finishes every removal whose command died halfway; a
// removal whose command is alive is left to it. Every command calls it
// first. It returns the containers it removed: their records, or, where a
// killed command deleted the record already, their id and name.
func (rt *Runtime) FinishRemovals() []*state.Container {
	var done []*state.Container
	for _, id := range rt.State.Removals() {
		unlock, ok := rt.State.TryLockRemoval(id)
		if !ok {
			continue
		}
		c, err := rt.State.RemovingRecord(id)
		if err != nil {
			// Killed after the record went: the name is still known.
			c = &state.Container{ID: id, Name: rt.State.RemovingName(id)}
		}
		if rt.finishRemoval(id) == nil {
			done = append(done, c)
		}
		unlock()
	}
	return done
}
