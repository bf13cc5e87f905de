//go:build linux

// create: what run does before it starts anything (create.go): the image
// is found or pulled, the name claimed, the record and the writable layer
// made, and the container is left "Created", with nothing running, no
// cgroup and no address. start runs it later, as it runs a stopped one.

package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// createCommand is the create verb.
var createCommand = &command{
	name: "create", usage: "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
	short: "Create a container without starting it", statusVerb: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &runOptions{}
		addRunFlags(fs, o)
		_ = fs.MarkHidden("detach") // nothing runs, so there is nothing to detach from
		return func(s *session, args []string) error {
			o.entrypointSet = fs.Changed("entrypoint")
			if o.detach {
				return usagef("unknown shorthand flag: 'd' in -d (create starts nothing; use run -d)")
			}
			return runCreate(s, o, args)
		}
	},
}

// runCreate makes the container and prints its id.
func runCreate(s *session, o *runOptions, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument: the image (e.g. minidocker create base echo hello)")
	}
	if err := s.open(); err != nil {
		return err
	}
	c, unlock, err := create(s, o, args[0], args[1:])
	if err != nil {
		return err
	}
	unlock()
	fmt.Println(c.ID)
	return nil
}
