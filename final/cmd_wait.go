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
	setup: func(fs *pflag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error { return runWait(e, args) }
	},
}

// runWait waits for each container in turn and prints its exit code; a
// missing container is reported, and wait goes on with the others.
func runWait(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := e.open(); err != nil {
		return err
	}
	return eachArg(args, func(ref string) error {
		c, err := e.rt.Find(ref)
		if err != nil {
			return err
		}
		code, err := e.rt.Wait(c.ID)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", ref, err)
		}
		fmt.Println(code)
		return nil
	})
}
