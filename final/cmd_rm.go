//go:build linux

// rm: remove stopped containers (-f stops them first).

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// rmCommand is the rm verb.
var rmCommand = &command{
	name: "rm", usage: "rm [OPTIONS] CONTAINER [CONTAINER...]", short: "Remove containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		force := fs.BoolP("force", "f", false, "kill and remove a running container")
		fs.BoolP("volumes", "v", false, "remove anonymous volumes (minidocker has only bind mounts, which are kept)")
		return func(s *session, args []string) error { return runRm(s, *force, args) }
	},
}

// runRm removes each container.
func runRm(s *session, force bool, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachArg(args, func(ref string) error {
		err := withLock(s, ref, func(c *state.Container) error { return removeContainer(s, c, force) })
		if corrupt := (*state.CorruptError)(nil); force && errors.As(err, &corrupt) {
			err = removeCorrupt(s, corrupt)
		}
		if errors.Is(err, state.ErrNotFound) && s.finishedRemoval(ref) {
			err = nil // a removal a killed rm left: this command finished it
		}
		if err == nil {
			fmt.Println(ref)
		}
		return err
	})
}

// removeCorrupt removes, for rm -f, a container whose record cannot be
// read, and says on stderr what it did (container/corrupt.go).
func removeCorrupt(s *session, corrupt *state.CorruptError) error {
	done, err := s.rt.RemoveCorrupt(corrupt.ID)
	what := "nothing else of it was left"
	if len(done) > 0 {
		what = strings.Join(done, ", ")
	}
	fmt.Fprintf(os.Stderr, "minidocker: container %s: its record was unreadable (%v); %s\n", state.Short(corrupt.ID), corrupt.Err, what)
	return err
}

// removeContainer kills c when forced, waits for its monitor to release
// it, and deletes it. The caller holds its lock. Remove reads the record
// again under that lock, and a record already gone (--rm) is no error.
func removeContainer(s *session, c *state.Container, force bool) error {
	if container.Running(c) {
		if !force {
			return conflictf("cannot remove container %s: it is running: stop it first, or use rm -f", state.Short(c.ID))
		}
		if err := s.rt.Stop(c, 0); err != nil {
			return err
		}
	}
	return s.rt.Remove(c)
}
