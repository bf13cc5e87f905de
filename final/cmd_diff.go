//go:build linux

// diff: what a container changed in its filesystem (overlay.Changes, read
// from its upper dir), as docker diff prints it.

package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/state"
)

// diffCommand is the diff verb.
var diffCommand = &command{
	name: "diff", usage: "diff CONTAINER", short: "Inspect changes to files or directories on a container's filesystem",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			if len(args) != 1 {
				return usagef("requires exactly 1 argument")
			}
			if err := s.open(); err != nil {
				return err
			}
			list, err := containerChanges(s, args[0])
			for _, c := range list {
				fmt.Printf("%s %s\n", c.Letter(), c.Path)
			}
			return err
		}
	},
}

// containerChanges reads what the container ref names changed.
func containerChanges(s *session, ref string) ([]overlay.Change, error) {
	c, err := s.rt.Find(ref)
	if err != nil {
		return nil, err
	}
	upper := container.PathsIn(s.rt.State.Dir(c.ID)).Upper
	list, err := overlay.Changes(upper, c.Minidocker.Layers)
	if err != nil {
		return nil, fmt.Errorf("diff of container %s: %w", state.Short(c.ID), err)
	}
	return list, nil
}
