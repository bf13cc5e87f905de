//go:build linux

// stop: SIGTERM, a grace period, then SIGKILL. A shell as PID 1 ignores
// SIGTERM (PID 1 gets only the signals it handles), which is why stopping
// a plain `sh` takes the whole grace period; --init avoids it.

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// stopCommand is the stop verb.
var stopCommand = &command{
	name: "stop", usage: "stop [OPTIONS] CONTAINER [CONTAINER...]", short: "Stop running containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		seconds := fs.IntP("time", "t", 10, "seconds to wait before killing")
		return func(s *session, args []string) error { return runStop(s, *seconds, args) }
	},
}

// runStop stops each container, printing its name as given.
func runStop(s *session, seconds int, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if seconds < 0 {
		return usagef("invalid --time %d: seconds must not be negative", seconds)
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachLocked(s, args, func(c *state.Container) error {
		return s.rt.Stop(c, time.Duration(seconds)*time.Second)
	})
}

// eachArg runs do for each argument, reporting every failure and failing
// at the end if any did, as Docker does for several containers or images.
func eachArg(args []string, do func(ref string) error) error {
	failed := false
	for _, ref := range args {
		if err := do(ref); err != nil {
			fmt.Fprintf(os.Stderr, "minidocker: %v\n", err)
			failed = true
		}
	}
	if failed {
		return &statusError{status: 1}
	}
	return nil
}

// eachContainer finds the container each argument names and runs do on
// it, printing the argument when do succeeds, as docker stop, kill and rm do.
func eachContainer(s *session, args []string, do func(c *state.Container) error) error {
	return eachArg(args, func(ref string) error {
		c, err := s.rt.Find(ref)
		if err == nil {
			err = do(c)
		}
		if err == nil {
			fmt.Println(ref)
		}
		return err
	})
}

// eachLocked is eachContainer for the verbs that change a container's
// state (start, stop, restart, rm): do runs with the container's lock
// held, on the record as it is under the lock.
func eachLocked(s *session, args []string, do func(c *state.Container) error) error {
	return eachArg(args, func(ref string) error {
		err := withLock(s, ref, do)
		if err == nil {
			fmt.Println(ref)
		}
		return err
	})
}

// withLock runs do on the container ref names, with its lock held. Once
// the lock is ours the record is read again: the command that held the
// lock before may have started, stopped or removed the container.
func withLock(s *session, ref string, do func(c *state.Container) error) error {
	c, unlock, err := lockContainer(s, ref)
	if err != nil {
		return err
	}
	defer unlock()
	return do(c)
}

// lockContainer finds the container ref names and takes its lock.
func lockContainer(s *session, ref string) (*state.Container, func(), error) {
	c, err := s.rt.Find(ref)
	if err != nil {
		return nil, nil, err
	}
	c, unlock, err := s.rt.Lock(c.ID)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s", state.ErrNotFound, ref) // removed while we waited
	}
	return c, unlock, err
}
