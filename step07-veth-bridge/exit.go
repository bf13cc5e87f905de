//go:build linux

// How a container ends: Ctrl-C passed on to its PID 1, the wait, and its
// exit status the way a shell reports it.

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardSignals passes the first Ctrl-C or SIGTERM on to the container;
// a second one kills it, since a PID 1 without a handler ignores signals.
func forwardSignals(signals <-chan os.Signal, p *os.Process) {
	for n := 0; ; n++ {
		sig, ok := <-signals
		if !ok {
			return
		}
		if n == 0 {
			host("%v: passed on to the container's PID 1 (send it again to kill)", sig)
			_ = p.Signal(sig)
			continue
		}
		host("%v again: SIGKILL to the container", sig)
		_ = p.Kill()
	}
}

// waitContainer waits for the container side to end and returns its
// shell-style exit status.
func waitContainer(cmd *exec.Cmd) (int, error) {
	status, err := exitStatus(cmd.Wait())
	if err == nil {
		host("wait4(%d) -> the container %s", cmd.Process.Pid, describeStatus(status))
	}
	return status, err
}

// describeStatus says how a container ended, from its shell-style status.
func describeStatus(status int) string {
	if status > 128 {
		return fmt.Sprintf("was killed by %s (status %d)", unix.SignalName(unix.Signal(status-128)), status)
	}
	return fmt.Sprintf("exited with status %d", status)
}

// exitStatus turns the result of Wait into a shell-style exit status.
func exitStatus(err error) (int, error) {
	var exitErr *exec.ExitError
	if err == nil {
		return 0, nil
	}
	if !errors.As(err, &exitErr) {
		return 0, err
	}
	ws := exitErr.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
