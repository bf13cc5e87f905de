//go:build linux

// start and restart: run a stopped container again, with its writable
// layer as it was; -a attaches to it as run without -d does.

package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// startCommand is the start verb.
var startCommand = &command{
	name: "start", usage: "start [OPTIONS] CONTAINER [CONTAINER...]", short: "Start stopped containers",
	statusVerb: true, interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		attach := fs.BoolP("attach", "a", false, "attach to the container's output and exit with its status")
		interactive := fs.BoolP("interactive", "i", false, "attach stdin too")
		return func(s *session, args []string) error { return runStart(s, *attach, *interactive, args) }
	},
}

// restartCommand is the restart verb.
var restartCommand = &command{
	name: "restart", usage: "restart [OPTIONS] CONTAINER [CONTAINER...]", short: "Restart containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		seconds := fs.IntP("time", "t", 10, "seconds to wait before killing")
		return func(s *session, args []string) error { return runRestart(s, *seconds, args) }
	},
}

// runStart starts each container, detached unless -a.
func runStart(s *session, attach, interactive bool, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if attach && len(args) > 1 {
		return usagef("you cannot start and attach multiple containers at once")
	}
	if err := s.open(); err != nil {
		return err
	}
	if attach {
		c, unlock, err := startable(s, args[0])
		if err != nil {
			return err
		}
		return runAttached(s, c, interactive, unlock)
	}
	// Under the container's lock, a start that finds the container
	// running (another start won the race) has nothing to do: like
	// docker start, it prints the name and succeeds.
	return eachLocked(s, args, func(c *state.Container) error {
		if container.Running(c) {
			return nil
		}
		return startDetached(s, c)
	})
}

// startable finds a container that is not running and takes its lock.
func startable(s *session, ref string) (*state.Container, func(), error) {
	c, unlock, err := lockContainer(s, ref)
	if err != nil {
		return nil, nil, err
	}
	if container.Running(c) {
		unlock()
		return nil, nil, conflictf("container %s is already running", state.Short(c.ID))
	}
	return c, unlock, nil
}

// runRestart stops, then starts each container.
func runRestart(s *session, seconds int, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachLocked(s, args, func(c *state.Container) error { return restartContainer(s, c, seconds) })
}

// restartContainer stops c (the caller holds its lock) and starts it again.
func restartContainer(s *session, c *state.Container, seconds int) error {
	if err := s.rt.Stop(c, time.Duration(seconds)*time.Second); err != nil {
		return err
	}
	c, err := s.rt.Find(c.ID)
	if err != nil {
		return err
	}
	return startDetached(s, c)
}
