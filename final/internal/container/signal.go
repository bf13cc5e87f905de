//go:build linux

// stop, kill and wait. Signals go to the container's first process, by its
// pid as the record knows it, and only while that pid is still the process
// that started then (a recycled pid is someone else's): procfs.Signal
// checks that after opening a pidfd, and signals through it, so the pid
// cannot change hands between the check and the signal. `stop` sends
// SIGTERM, waits, then SIGKILL; `kill` with SIGKILL waits too, as Docker's
// does. "Waits" means: until the record says the container has exited.
// Its monitor writes that only after it has released the container's
// cgroup and network, so whoever sees "exited" finds nothing held.

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
)

// killTimeout is how long kill and stop wait for a SIGKILLed container's
// monitor to record its end.
const killTimeout = 10 * time.Second

// Kill sends sig to a running container. For SIGKILL it returns once the
// container has exited and its record says so.
func (rt *Runtime) Kill(c *state.Container, sig unix.Signal) error {
	if !Running(c) {
		return fmt.Errorf("container %s is not running", state.Short(c.ID))
	}
	rt.emitKill(c, sig) // before: the monitor's "die" must come after it
	err := rootless.Signal(c.State.Pid, c.Minidocker.PidStartTime, sig)
	if errors.Is(err, procfs.ErrGone) && sig != unix.SIGKILL {
		return fmt.Errorf("container %s is not running", state.Short(c.ID))
	}
	if err != nil && !errors.Is(err, procfs.ErrGone) {
		return fmt.Errorf("kill(%d, %v): %w", c.State.Pid, sig, err)
	}
	if err := rt.thawForSignal(c, sig); err != nil {
		return err
	}
	if sig == unix.SIGKILL { // sent, or it had ended already: wait for the record
		_, err := rt.waitExited(c.ID, killTimeout)
		return err
	}
	return nil
}

// Stop sends SIGTERM, and SIGKILL after timeout if the container still
// runs; it returns once the monitor has recorded the end. The caller
// holds the container's lock, so that no start can slip in meanwhile.
func (rt *Runtime) Stop(c *state.Container, timeout time.Duration) error {
	if !Running(c) {
		return nil
	}
	rt.emitKill(c, unix.SIGTERM)
	_ = rootless.Signal(c.State.Pid, c.Minidocker.PidStartTime, unix.SIGTERM)
	if err := rt.thawForSignal(c, unix.SIGTERM); err != nil {
		return err
	}
	if _, err := rt.waitExited(c.ID, timeout); errors.Is(err, errStillRunning) {
		if Running(c) { // for the event only: Signal checks again, through a pidfd
			rt.emitKill(c, unix.SIGKILL)
		}
		_ = rootless.Signal(c.State.Pid, c.Minidocker.PidStartTime, unix.SIGKILL)
		_, err = rt.waitExited(c.ID, killTimeout)
		return err
	}
	return nil
}

// emitKill records the event of a signal sent to c, as Docker names it.
func (rt *Runtime) emitKill(c *state.Container, sig unix.Signal) {
	rt.State.Emit(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
}

// Wait blocks until the container has exited and returns its exit code,
// as `docker wait` does. It watches the record, not a child: the
// container may belong to another process's monitor. While it waits it
// holds the container's waiters lock, so that the monitor of a --rm
// container removes the record only after Wait has read its end.
func (rt *Runtime) Wait(id string) (int, error) {
	release, err := holdWaiters(rt.State.Dir(id))
	if err != nil {
		return 0, err
	}
	defer release()
	c, err := rt.waitExited(id, forever)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, fmt.Errorf("container %s was removed before its end could be read", state.Short(id))
	}
	return c.State.ExitCode, nil
}

// forever is a timeout that does not end.
const forever = time.Duration(1<<63 - 1)

// errStillRunning says a wait for a container's end timed out.
var errStillRunning = errors.New("still running")

// waitExited waits until the record of container id says it has exited
// (repairing it if its monitor died), or timeout passes. A record that
// is gone (--rm, rm -f) has exited too: then it returns nil, nil.
func (rt *Runtime) waitExited(id string, timeout time.Duration) (*state.Container, error) {
	return rt.waitUntil(context.Background(), id, timeout, 100*time.Millisecond, Exited)
}

// waitUntil is waitExited for any end: it waits until done says the
// record is what the caller waits for, the record is gone (nil, nil),
// timeout passes or ctx is done. It reads the record again when the
// monitor ends, and at the latest every interval.
func (rt *Runtime) waitUntil(ctx context.Context, id string, timeout, every time.Duration, done func(*state.Container) bool) (*state.Container, error) {
	start := time.Now()
	for {
		c, err := rt.State.Get(id)
		if errors.Is(err, state.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if Stale(c) {
			if err := rt.repair(c); err != nil {
				return nil, err
			}
			if !Stale(c) {
				continue
			}
			// Another command holds the container's lock, and repairs it.
		} else if done(c) {
			return c, nil
		}
		if time.Since(start) >= timeout {
			return nil, fmt.Errorf("container %s: %w after %v", state.Short(id), errStillRunning, timeout)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		awaitMonitor(c, every)
	}
}

// WaitNextExit is Wait for an end recorded after since: the Engine API's
// condition=next-exit, which a client asks for before it starts a
// container (created, or exited from an earlier run). It gives up when
// ctx is done (the client went away).
func (rt *Runtime) WaitNextExit(ctx context.Context, id string, since time.Time) (int, error) {
	release, err := holdWaiters(rt.State.Dir(id))
	if err != nil {
		return 0, err
	}
	defer release()
	// A --rm container's monitor does not end before this waiter lets
	// go of the waiters lock: only reading the record often sees the end soon.
	c, err := rt.waitUntil(ctx, id, forever, apiPoll, func(c *state.Container) bool {
		return Exited(c) && c.State.Status == "exited" && !c.State.FinishedAt.Before(since)
	})
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, fmt.Errorf("container %s was removed before its end could be read", state.Short(id))
	}
	return c.State.ExitCode, nil
}

// apiPoll is how often the daemon's waits read a record whose monitor
// they cannot wait for.
const apiPoll = 10 * time.Millisecond

// WaitRemoved waits until the record of container id is gone, or ctx is done.
func (rt *Runtime) WaitRemoved(ctx context.Context, id string) error {
	_, err := rt.waitUntil(ctx, id, forever, apiPoll, func(*state.Container) bool { return false })
	return err
}

// waitersFile is the lock file of a container's waiters.
func waitersFile(dir string) string {
	return filepath.Join(dir, "waiters.lock")
}

// holdWaiters takes a shared lock on a container's waiters file: one
// more waiter that must read the end before --rm removes the record.
func holdWaiters(dir string) (release func(), err error) {
	f, err := os.OpenFile(waitersFile(dir), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", waitersFile(dir), err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", waitersFile(dir), err)
	}
	return func() { f.Close() }, nil
}

// awaitWaiters is the monitor's side: before --rm removes a container
// whose end is recorded, it waits (up to waitersTimeout; a stopped waiter
// must not keep the container forever) until no waiter holds the lock.
func awaitWaiters(dir string) (release func()) {
	f, err := os.OpenFile(waitersFile(dir), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return func() {}
	}
	for start := time.Now(); time.Since(start) < waitersTimeout; time.Sleep(5 * time.Millisecond) {
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			break
		}
	}
	return func() { f.Close() }
}

// waitersTimeout bounds how long --rm waits for the waiters to read the end.
const waitersTimeout = 10 * time.Second

// Exited reports whether a record is final: neither running nor being
// started by a monitor.
func Exited(c *state.Container) bool {
	return !c.State.Running && !(c.State.Status == "created" && c.Minidocker.MonitorPid != 0)
}

// awaitMonitor sleeps until the container's monitor ends or d passes. A
// pidfd (pidfd_open(2)) becomes readable when the process exits, which is
// just after the monitor has written the final record.
func awaitMonitor(c *state.Container, d time.Duration) {
	p, err := procfs.Open(c.Minidocker.MonitorPid)
	if err != nil {
		time.Sleep(20 * time.Millisecond)
		return
	}
	defer p.Close()
	if !procfs.Alive(p.Pid, c.Minidocker.MonitorStartTime) {
		return // the pid is someone else's now, or already dead: read the record again
	}
	p.Wait(d)
}
