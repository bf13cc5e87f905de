//go:build linux

// The host side of starting a container: clone(2) the child side into new
// namespaces, hand it its stdio, and later its Spec. Between Start and
// SendSpec the child blocks on the spec pipe: that is when the caller puts
// it into its cgroup and wires its network.

package container

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// Stdio is what the container's fds 0, 1 and 2 are.
type Stdio struct {
	Stdin          *os.File // nil: /dev/null
	Stdout, Stderr *os.File
	Tty            bool // Stdin is the terminal's slave side: make it the controlling terminal
}

// Process is a started child side that waits for its Spec.
type Process struct {
	cmd       *exec.Cmd
	specW     *os.File
	errR      *os.File
	Pid       int
	StartTime uint64
}

// CloneFlags are the namespaces a container gets; without its own network
// (--network host) it shares the host's network namespace.
func CloneFlags(ownNetwork bool) uintptr {
	flags := uintptr(unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC)
	if ownNetwork {
		flags |= unix.CLONE_NEWNET
	}
	return flags
}

// Start clones the child side ("init") in new namespaces (with idmap, a
// user namespace too, whose maps are written before the child runs). It dies with the
// thread that started it (PR_SET_PDEATHSIG): the caller must stay alive as
// the container's monitor, on its main thread.
func Start(stdio Stdio, ownNetwork bool, idmap *state.IDMap) (*Process, error) {
	cmd := exec.Command("/proc/self/exe", "init")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: CloneFlags(ownNetwork),
		Pdeathsig:  syscall.SIGKILL,
		Setsid:     true,
		Setctty:    stdio.Tty,
	}
	remapped(cmd.SysProcAttr, idmap)
	return startChild(cmd)
}

// startChild starts cmd, a child side of this binary, with the spec pipe
// as fd 3, the error pipe as fd 4 and extra from fd 5 on.
func startChild(cmd *exec.Cmd, extra ...*os.File) (*Process, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	cmd.ExtraFiles = append([]*os.File{specR, errW}, extra...)
	err = cmd.Start()
	specR.Close()
	errW.Close()
	if err != nil {
		specW.Close()
		errR.Close()
		return nil, fmt.Errorf("clone the container's process: %w", err)
	}
	p := &Process{cmd: cmd, specW: specW, errR: errR, Pid: cmd.Process.Pid}
	p.StartTime = procfs.StartTime(p.Pid)
	return p, nil
}

// SendSpec sends the child its Spec and waits until it has executed the
// command (nil) or failed to (a *Failure with Docker's status).
func (p *Process) SendSpec(spec *Spec) error {
	return p.send(spec)
}

// send writes v as JSON on the spec pipe, closes it, and waits for the
// child's report on the error pipe.
func (p *Process) send(v any) error {
	data, err := json.Marshal(v)
	if err == nil {
		_, err = p.specW.Write(data)
	}
	p.specW.Close()
	if err != nil {
		return fmt.Errorf("send the spec to the container: %w", err)
	}
	defer p.errR.Close()
	if f := readFailure(p.errR); f != nil {
		return f
	}
	return nil
}

// Abort kills a child that will not get its spec.
func (p *Process) Abort() {
	p.specW.Close()
	p.errR.Close()
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// Signal sends sig to the container's first process. It is our child,
// reaped only by Wait, so its pid cannot have been given to another.
func (p *Process) Signal(sig os.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Wait waits for the container's first process to end and returns its
// status as a shell gives it: the exit code, or 128 plus the signal.
func (p *Process) Wait() int {
	err := p.cmd.Wait()
	if p.cmd.ProcessState == nil {
		return 125
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if err != nil && ws.ExitStatus() < 0 {
		return 125
	}
	return ws.ExitStatus()
}
