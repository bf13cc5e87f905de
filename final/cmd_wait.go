//go:build linux

// wait: block until containers stop, then print each one's exit code, as
// `docker wait` does. It reads the records, so it works for containers
// that another minidocker process started.

package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// waitCommand is the wait verb.
var waitCommand = &command{
	name: "wait", usage: "wait CONTAINER [CONTAINER...]", short: "Block until containers stop, then print their exit codes",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runWait(s, args) }
	},
}

// runWait waits for each container in turn and prints its exit code; a
// missing container is reported, and wait goes on with the others.
func runWait(s *session, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachArg(args, func(ref string) error {
		c, err := s.rt.Find(ref)
		if err != nil {
			return err
		}
		code, err := s.rt.Wait(c.ID)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", ref, err)
		}
		fmt.Println(code)
		return nil
	})
}
