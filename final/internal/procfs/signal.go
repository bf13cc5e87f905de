//go:build linux

// Signals to a process that a record names. Checking that a pid still
// is the recorded process (Alive) and then calling kill(pid) leaves a
// window: between the two the process may exit, be reaped, and its pid
// be given to a new process, which then gets the signal. A pidfd
// (pidfd_open(2)) closes it. It refers to one process, not to a number:
// a signal sent through it (pidfd_send_signal(2)) reaches that process,
// or fails with ESRCH once it has exited, whoever holds the pid by then.
//
// The order is what makes it exact: open first, check second, signal
// third, through the pidfd. Whatever /proc/PID says after the open
// describes the opened process, or that process has already exited (its
// pid was free to be reused), and then the signal reaches nobody.

package procfs

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrGone says that the process a caller meant has exited (its pid may
// be someone else's now): for a caller that wanted it to end, it has. It
// is ESRCH, as kill(2) says it, so errors.Is(err, unix.ESRCH) holds too.
var ErrGone error = unix.ESRCH

// Process is one process, held by a pidfd.
type Process struct {
	Pid int
	fd  int
}

// Open opens a pidfd for the process that holds pid now. Check what
// the caller needs to know about it in /proc only after Open (see the
// file comment), then signal it with Signal.
func Open(pid int) (*Process, error) {
	if pid <= 0 {
		return nil, ErrGone
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrGone
	}
	if errors.Is(err, unix.ENOSYS) {
		return nil, fmt.Errorf("pidfd_open(%d): %w (minidocker needs Linux 5.3 or later)", pid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	return &Process{Pid: pid, fd: fd}, nil
}

// Find opens the process pid if it still is the one that started at
// start (and has not ended), or returns ErrGone. The start time is read
// after the open: if it matches, the pidfd holds the recorded process,
// since that process held pid before the open, and a process given pid
// later would have started later. (The clock has ticks of 10 ms: a pid
// reused within the tick its first owner started in would pass. The
// record's pair cannot tell those apart; the pid counter wraps far more
// slowly.)
func Find(pid int, start uint64) (*Process, error) {
	p, err := Open(pid)
	if err != nil {
		return nil, err
	}
	if !Alive(pid, start) {
		p.Close()
		return nil, ErrGone
	}
	afterCheck(p)
	return p, nil
}

// afterCheck runs between Find's check and the caller's signal: a test
// gives the pid to another process there, the worst moment to.
var afterCheck = func(*Process) {}

// Signal sends sig to pid if it still is the process that started at
// start; ErrGone if it is not (it has exited).
func Signal(pid int, start uint64, sig unix.Signal) error {
	p, err := Find(pid, start)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Signal(sig)
}

// Signal sends sig to the process; ErrGone if it has exited.
func (p *Process) Signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(p.fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("pidfd_send_signal(%d, %v): %w", p.Pid, sig, err)
	}
	return nil
}

// Wait waits until the process has exited (a pidfd becomes readable
// then, even for a process that is not our child), or timeout passes,
// and reports whether it has.
func (p *Process) Wait(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(max(time.Until(deadline), 0).Milliseconds()))
		switch {
		case n > 0:
			return true
		case errors.Is(err, unix.EINTR):
		case err != nil || time.Now().After(deadline):
			return false
		}
	}
}

// Close releases the pidfd.
func (p *Process) Close() {
	unix.Close(p.fd)
}
