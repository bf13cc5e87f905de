//go:build linux

// exec: run a command in a running container (internal/container/exec.go
// explains how a Go program joins a mount namespace).

package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// execOptions are exec's flags.
type execOptions struct {
	interactive, tty, privileged bool
	detach                       bool
	env                          []string
	workdir, user                string
}

// execCommand is the exec verb.
var execCommand = &command{
	name: "exec", usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
	short: "Run a command in a running container", statusVerb: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &execOptions{}
		fs.BoolVarP(&o.detach, "detach", "d", false, "run the command in the background")
		fs.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
		fs.BoolVarP(&o.tty, "tty", "t", false, "give the command a terminal")
		fs.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable")
		fs.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
		fs.StringVarP(&o.user, "user", "u", "", "user to run as")
		fs.BoolVar(&o.privileged, "privileged", false, "give the command every capability")
		return func(s *session, args []string) error { return runExec(s, o, args) }
	},
}

// runExec joins the container and runs the command, exiting with its status.
func runExec(s *session, o *execOptions, args []string) error {
	if len(args) < 2 {
		return usagef("requires at least 2 arguments: the container and the command")
	}
	if err := s.open(); err != nil {
		return err
	}
	c, err := s.findRunning(args[0])
	if err != nil {
		return err
	}
	spec, err := execSpec(c, o, args[1:])
	if err != nil {
		return err
	}
	if rootless.Targeting() { // the first of a rootless exec's two runs (internal/rootless/exec.go)
		return rootless.WriteTarget(c.State.Pid)
	}
	if o.detach {
		spec.Tty = false // nobody would read its terminal
		return execDetached(s, c, spec)
	}
	stdio, done, err := execStdio(o)
	if err != nil {
		return err
	}
	status := s.rt.Exec(c, spec, stdio)
	done()
	if status != 0 {
		return &statusError{status: status}
	}
	return nil
}

// execDetached starts the command and returns (exec -d); a command that
// could not start gives its status (126, 127) as without -d.
func execDetached(s *session, c *state.Container, spec *container.ExecSpec) error {
	err := s.rt.ExecDetached(c, spec)
	var f *container.Failure
	if errors.As(err, &f) {
		return &statusError{status: f.Status, msg: f.Message}
	}
	return err
}

// execSpec is what exec-init needs to run args in c with o's options,
// the container's own settings filling what o leaves out.
func execSpec(c *state.Container, o *execOptions, args []string) (*container.ExecSpec, error) {
	spec := &container.ExecSpec{
		Args: args, Env: append(append([]string{}, c.Config.Env...), o.env...),
		Cwd: o.workdir, User: o.user, Tty: o.tty, Privileged: o.privileged || c.HostConfig.Privileged,
		CapAdd: c.HostConfig.CapAdd, CapDrop: c.HostConfig.CapDrop,
		NoNewPrivs: container.NoNewPrivileges(c.HostConfig.SecurityOpt),
	}
	var err error
	if spec.Seccomp, err = container.SeccompFilter(c.HostConfig); err != nil {
		return nil, err
	}
	if spec.Cwd == "" {
		spec.Cwd = c.Config.WorkingDir
	}
	if spec.User == "" {
		spec.User = c.Config.User
	}
	if err := container.CheckUser(spec.User); err != nil {
		return nil, err
	}
	return spec, nil
}

// execStdio is the command's stdio: the user's own, or a new terminal
// copied to and from the user's with -t.
func execStdio(o *execOptions) (container.Stdio, func(), error) {
	if !o.tty {
		s := container.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}
		if o.interactive {
			s.Stdin = os.Stdin
		}
		return s, func() {}, nil
	}
	master, slave, err := tty.OpenPty()
	if err != nil {
		return container.Stdio{}, nil, err
	}
	restore := func() {}
	if tty.IsTerminal(os.Stdin) {
		tty.CopyWinsize(os.Stdin, master)
		if r, err := tty.MakeRaw(os.Stdin); err == nil {
			restore = r
		}
	}
	if o.interactive {
		go func() { _, _ = io.Copy(master, os.Stdin) }()
	}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(os.Stdout, master); close(copied) }()
	return container.Stdio{Stdin: slave, Stdout: slave, Stderr: slave, Tty: true}, func() {
		slave.Close()
		<-copied
		restore()
	}, nil
}
