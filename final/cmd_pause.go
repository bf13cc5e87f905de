//go:build linux

// pause and unpause: freeze and thaw every process of containers
// (container.Runtime.Pause, through the cgroup freezer).

package main

import (
	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// pauseCommand is the pause verb.
var pauseCommand = &command{
	name: "pause", usage: "pause CONTAINER [CONTAINER...]", short: "Pause all processes within containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			return eachFrozen(s, args, func(c *state.Container) error { return s.rt.Pause(c) })
		}
	},
}

// unpauseCommand is the unpause verb.
var unpauseCommand = &command{
	name: "unpause", usage: "unpause CONTAINER [CONTAINER...]", short: "Unpause all processes within containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			return eachFrozen(s, args, func(c *state.Container) error { return s.rt.Unpause(c) })
		}
	},
}

// eachFrozen runs pause or unpause on each container, under its lock.
func eachFrozen(s *session, args []string, do func(c *state.Container) error) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachLocked(s, args, do)
}
