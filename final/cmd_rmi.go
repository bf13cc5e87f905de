//go:build linux

// rmi: untag and remove images; an image a container uses is kept.

package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// rmiCommand is the rmi verb.
var rmiCommand = &command{
	name: "rmi", usage: "rmi [OPTIONS] IMAGE [IMAGE...]", short: "Remove images",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		force := fs.BoolP("force", "f", false, "remove even if stopped containers use it")
		return func(s *session, args []string) error { return runRmi(s, *force, args) }
	},
}

// runRmi removes each image.
func runRmi(s *session, force bool, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachArg(args, func(ref string) error {
		lines, err := s.images.Remove(ref, force, s.imageUsers())
		for _, l := range lines {
			fmt.Println(l)
		}
		return err
	})
}
