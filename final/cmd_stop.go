//go:build linux

// stop: SIGTERM, a grace period, then SIGKILL. A shell as PID 1 ignores
// SIGTERM (PID 1 gets only the signals it handles), which is why stopping
// a plain `sh` takes the whole grace period; --init avoids it.

package main

import (
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
	setup: func(fs *pflag.FlagSet) func(*env, []string) error {
		seconds := fs.IntP("time", "t", 10, "seconds to wait before killing")
		return func(e *env, args []string) error { return runStop(e, *seconds, args) }
	},
}

// runStop stops each container, printing its name as given.
func runStop(e *env, seconds int, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if seconds < 0 {
		return usagef("invalid --time %d: seconds must not be negative", seconds)
	}
	if err := e.open(); err != nil {
		return err
	}
	return eachContainer(e, args, func(c *state.Container) error {
		return e.rt.Stop(c, time.Duration(seconds)*time.Second)
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
func eachContainer(e *env, args []string, do func(c *state.Container) error) error {
	return eachArg(args, func(ref string) error {
		c, err := e.rt.Find(ref)
		if err == nil {
			err = do(c)
		}
		if err == nil {
			fmt.Println(ref)
		}
		return err
	})
}
