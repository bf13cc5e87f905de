//go:build linux

// kill: send a signal (SIGKILL by default) to a container's first process.

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/state"
)

// killCommand is the kill verb.
var killCommand = &command{
	name: "kill", usage: "kill [OPTIONS] CONTAINER [CONTAINER...]", short: "Send a signal to running containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		signal := fs.StringP("signal", "s", "KILL", "signal to send, by name or number")
		return func(s *session, args []string) error { return runKill(s, *signal, args) }
	},
}

// runKill parses the signal and sends it to each container.
func runKill(s *session, name string, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	sig, err := parseSignal(name)
	if err != nil {
		return usagef("%v", err)
	}
	if err := s.open(); err != nil {
		return err
	}
	return eachContainer(s, args, func(c *state.Container) error { return s.rt.Kill(c, sig) })
}

// parseSignal reads "KILL", "SIGTERM", "term" or "9".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q: use a name like TERM or a number like 15", s)
}
