//go:build linux

// exec: another process in a running container, given as a process.json
// (--process, what containerd and conmon write) or as arguments with
// flags, whose defaults are the container's own process.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/oci"
)

// execOpts are exec's options.
type execOpts struct {
	process, pidFile, consoleSocket, cwd, user string
	env                                        []string
	detach, tty                                bool
}

// ociExecVerb is `exec`.
var ociExecVerb = &runcVerb{
	name: "exec", usage: "[--process FILE | ARGS...] [--detach] [--pid-file FILE] [--console-socket SOCKET] [--tty] ID [COMMAND [ARG...]]",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		o := &execOpts{}
		fs.StringVarP(&o.process, "process", "p", "", "a process.json of the runtime-spec")
		fs.BoolVarP(&o.detach, "detach", "d", false, "return once the command runs")
		fs.StringVar(&o.pidFile, "pid-file", "", "write the process's pid here")
		fs.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the terminal's master to")
		fs.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal")
		fs.StringVar(&o.cwd, "cwd", "", "working directory")
		fs.StringVarP(&o.user, "user", "u", "", "UID[:GID]")
		fs.StringArrayVarP(&o.env, "env", "e", nil, "KEY=VALUE")
		return func(g *runcGlobals, args []string) error {
			if len(args) < 1 {
				return fmt.Errorf("exec: give the container's id")
			}
			return ociExec(g, o, args[0], args[1:])
		}
	},
}

// ociExec runs the process in the container; without --detach, its exit
// status is exec's.
func ociExec(g *runcGlobals, o *execOpts, id string, args []string) error {
	store := g.store()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	if st := store.Status(rec); st != specs.StateRunning && st != specs.StateCreated {
		return fmt.Errorf("cannot exec in container %s: it is %s", id, st)
	}
	p, err := execProcess(o, rec, args)
	if err != nil {
		return err
	}
	if p.Terminal && o.consoleSocket == "" {
		return fmt.Errorf("a terminal needs --console-socket, a unix socket to receive its master on")
	}
	prog, err := compileSeccomp(rec.Seccomp, p) // the container's filter, as runc gives it to exec
	if err != nil {
		return err
	}
	cg := cgroups.LoadPath(rec.Cgroup)
	pid, status, err := container.ExecOCI(id, rec.Pid, rec.StartTime, cg, &container.OCIExec{Process: p, ConsoleSocket: o.consoleSocket}, prog, o.detach)
	if err != nil {
		return err
	}
	if err := writePidFile(o.pidFile, pid); err != nil {
		return err
	}
	if status != 0 {
		return &statusError{status: status}
	}
	return nil
}

// execProcess is the process to run: --process's file, or the
// container's process with the arguments and flags applied.
func execProcess(o *execOpts, rec *oci.Record, args []string) (*specs.Process, error) {
	if o.process != "" {
		data, err := os.ReadFile(o.process)
		if err != nil {
			return nil, fmt.Errorf("read --process: %w", err)
		}
		p := &specs.Process{}
		if err := json.Unmarshal(data, p); err != nil {
			return nil, fmt.Errorf("--process %s is not a runtime-spec process: %w", o.process, err)
		}
		if len(p.Args) == 0 {
			return nil, fmt.Errorf("--process %s: args is empty", o.process)
		}
		return p, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec: give a command, or --process FILE")
	}
	p := *rec.Process
	p.Args, p.Terminal, p.Env = args, o.tty, append(append([]string{}, rec.Process.Env...), o.env...)
	if o.cwd != "" {
		p.Cwd = o.cwd
	}
	if o.user != "" {
		uid, gid, _ := strings.Cut(o.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: give UID[:GID] as numbers", o.user)
		}
		p.User.UID, p.User.GID = uint32(u), 0
		if gid != "" {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: give UID[:GID] as numbers", o.user)
			}
			p.User.GID = uint32(g)
		}
	}
	return &p, nil
}
