//go:build linux

// exec for the OCI runtime: exec.go's exec-init, given an OCI process (its
// numeric user, its five capability sets, its rlimits) instead of
// Docker's rules. Detached (what containerd and conmon ask for), the
// runtime does not wait: exec-init outlives it, its pid goes to the pid
// file, and the caller, a child subreaper, reaps it and reads the
// command's status as exec-init's.

package container

import (
	"fmt"
	"os"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// OCIExec is the OCI part of an ExecSpec.
type OCIExec struct {
	Process       *specs.Process
	ConsoleSocket string
}

// ExecOCI starts p in the container id whose first process is pid
// (started at start, in clock ticks after boot) and whose cgroup is cg;
// in the container's user namespace too, when its config made one. Detached, it returns exec-init's pid once the command
// runs; else it waits and returns the command's status as well.
func ExecOCI(id string, pid int, start uint64, cg cgroups.Manager, ex *OCIExec, prog seccomp.Program, detach bool) (execPid, status int, err error) {
	stdio := Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Tty: ex.Process.Terminal}
	if ex.Process.Terminal {
		stdio.Stdin = nil // the command's terminal comes over the console socket
	}
	userns, err := processUserNamespace(id, pid, start) // a config's user namespace: joined as with --userns-remap
	if err != nil {
		return 0, 0, err
	}
	if userns != nil {
		defer userns.Close()
	}
	var console *os.File
	if ex.Process.Terminal {
		if console, err = dialConsole(ex.ConsoleSocket); err != nil {
			return 0, 0, err
		}
		defer console.Close()
	}
	proc, err := startExecInit(stdio, !detach, userns, console)
	if err != nil {
		return 0, 0, err
	}
	if err := cg.Apply(proc.Pid); err != nil {
		proc.Abort()
		return 0, 0, err
	}
	spec := &ExecSpec{Pid: pid, Args: ex.Process.Args, Env: ex.Process.Env, Cwd: ex.Process.Cwd,
		Tty: ex.Process.Terminal, NoNewPrivs: ex.Process.NoNewPrivileges, Seccomp: prog, OCI: ex}
	if err := proc.releaseExec(spec); err != nil {
		proc.Wait()
		return 0, 0, err
	}
	if detach {
		_ = proc.cmd.Process.Release()
		return proc.Pid, 0, nil
	}
	stop := forwardSignals(proc)
	defer stop()
	return proc.Pid, proc.Wait(), nil
}

// startOCIExec is startInContainer for an OCI process.
func startOCIExec(spec *ExecSpec) (*os.Process, error) {
	p := spec.OCI.Process
	if err := enterWorkdir(p.Cwd, rootfs.MakeNothing); err != nil {
		return nil, err
	}
	if err := newSessionKeyring(); err != nil {
		return nil, err
	}
	path, err := lookPathIn(p.Args[0], p.Env)
	if err != nil {
		return nil, err
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	if err := dropOCIPrivileges(p, spec.Seccomp); err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{}
	if spec.Tty {
		attr.Setpgid, attr.Foreground, attr.Ctty = true, true, 0
	}
	child, err := os.StartProcess(path, p.Args, &os.ProcAttr{Env: p.Env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Sys: attr})
	if err != nil {
		return nil, &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec %s: %v", path, err)}
	}
	return child, nil
}
