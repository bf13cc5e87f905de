//go:build linux

// tag: give an image another name.

package main

import "github.com/spf13/pflag"

// tagCommand is the tag verb.
var tagCommand = &command{
	name: "tag", usage: "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", short: "Give an image another name",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			if len(args) != 2 {
				return usagef("requires exactly 2 arguments")
			}
			if err := s.open(); err != nil {
				return err
			}
			return s.images.Tag(args[0], args[1])
		}
	},
}
