//go:build linux

// --init: a tiny init as PID 1. PID 1 is special: the kernel delivers it
// only the signals it installed a handler for, so a plain `sh` as PID 1
// ignores the SIGTERM of `minidocker stop` and is SIGKILLed ten seconds
// later; and orphans are reparented to PID 1, which must reap them or they
// stay zombies. This init starts the command as its child, forwards every
// signal to it, reaps every child that ends, and exits with the command's
// status (as tini and Docker's --init do).

package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// runInit starts the command as a child and stays as PID 1 until it ends.
func runInit(path string, spec *Spec) error {
	signals := make(chan os.Signal, 32)
	signal.Notify(signals)
	attr := &syscall.SysProcAttr{}
	if spec.Tty {
		// The command gets the terminal's foreground, so Ctrl-C reaches it.
		attr.Setpgid, attr.Foreground, attr.Ctty = true, true, 0
	}
	child, err := os.StartProcess(path, spec.Args, &os.ProcAttr{
		Env: spec.Env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Sys: attr,
	})
	if err != nil {
		return &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec %s: %v", path, err)}
	}
	// The command runs: tell the host side (the error pipe closes).
	unix.Close(errorFd)
	for sig := range signals {
		if sig == unix.SIGCHLD {
			if status, done := reap(child.Pid); done {
				os.Exit(status)
			}
			continue
		}
		if sig != unix.SIGURG { // the Go runtime's own preemption signal
			_ = child.Signal(sig)
		}
	}
	return nil
}

// reap collects every child that has ended; done is true with the exit
// status once the command itself has.
func reap(command int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return 0, false
		}
		if pid == command {
			return exitStatus(ws), true
		}
	}
}

// exitStatus is a shell's $? for a wait status: the code, or 128+signal.
func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// notRunnable is the status a shell gives a command it cannot run: 126
// when it is there but cannot be executed, 127 when it is not found.
func notRunnable(err error) int {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.ENOEXEC) || errors.Is(err, unix.EISDIR) {
		return 126
	}
	return 127
}

// cleanLookErr shortens exec.LookPath's errors to what Docker says.
func cleanLookErr(err error) string {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return "executable file not found in $PATH"
	}
	var e interface{ Unwrap() error }
	if errors.As(err, &e) && e.Unwrap() != nil {
		return e.Unwrap().Error()
	}
	return err.Error()
}
