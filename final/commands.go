//go:build linux

// The command table, as the go command does it: a slice of commands (name,
// usage line, one line of help, flags, run), a loop, and help rendered
// from the same table so that it cannot drift. Usage errors exit 2 and
// failures 1, except for run, start, exec and the like, whose exit status
// is the container's: there, as in Docker, minidocker's own errors are
// 125, so a caller can tell them from the container's 1 or 2.

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// command is one verb.
type command struct {
	name    string
	aliases []string
	usage   string // after "minidocker "
	short   string
	// setup defines the verb's flags and returns the function that runs it.
	setup func(fs *pflag.FlagSet) func(s *session, args []string) error
	// interspersed is false for verbs whose flags stop at the first
	// argument (run IMAGE ls -l passes -l to ls).
	interspersed bool
	// statusVerb is true for verbs whose exit status is the container's.
	statusVerb bool
	hidden     bool
}

// commands is every verb, in the order help lists them.
var commands = []*command{
	runCommand, createCommand, execCommand, psCommand, logsCommand, waitCommand, stopCommand, killCommand, startCommand,
	restartCommand, pauseCommand, unpauseCommand, rmCommand, renameCommand, inspectCommand, topCommand, statsCommand,
	portCommand, diffCommand, cpCommand, containerCommand, imageCommand, eventsCommand, updateCommand,
	imagesCommand, commitCommand, rmiCommand, tagCommand, historyCommand,
	importCommand, exportCommand, saveCommand, loadCommand, pullCommand, pushCommand, loginCommand, logoutCommand,
	systemCommand, infoCommand, versionCommand, daemonCommand, cleanupCommand, doctorCommand, seccompCommand,
}

// usageError is a mistake on the command line: exit status 2 (125 for status verbs).
type usageError struct{ msg string }

// Error says what is wrong.
func (e *usageError) Error() string { return e.msg }

// usagef makes a usageError.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// conflictError is a request that clashes with the state of things: a
// name in use, a running container to remove. The CLI prints it as any
// failure; the daemon answers it 409, as Docker does.
type conflictError struct{ msg string }

// Error says what clashes.
func (e *conflictError) Error() string { return e.msg }

// conflictf makes a conflictError.
func conflictf(format string, args ...any) error {
	return &conflictError{fmt.Sprintf(format, args...)}
}

// invalidError is a request the user must change, found after the
// command line was read (a name that cannot be one): exit status 1, as
// any failure; the daemon answers it 400.
type invalidError struct{ msg string }

// Error says what is wrong.
func (e *invalidError) Error() string { return e.msg }

// invalidf makes an invalidError.
func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

// statusError ends minidocker with a given exit status, after printing
// msg if it is not empty.
type statusError struct {
	status int
	msg    string
}

// Error is the message.
func (e *statusError) Error() string { return e.msg }

// dispatch parses the global flags, finds the verb and runs it.
func dispatch(args []string) int {
	s, rest, err := parseGlobal(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "minidocker: %v\nRun 'minidocker help' for usage.\n", err)
		return 2
	}
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h" {
		if len(rest) > 1 {
			if c := lookup(rest[1]); c != nil {
				return runVerb(s, c, []string{"--help"})
			}
		}
		printHelp(os.Stdout)
		return 0
	}
	c := lookup(rest[0])
	if c == nil {
		fmt.Fprintf(os.Stderr, "minidocker: unknown command %q\nRun 'minidocker help' for usage.\n", rest[0])
		return 2
	}
	if err := s.checkParent(); err != nil {
		return exitStatus(c, err)
	}
	if status, done := enterRootless(c, args); done {
		return status
	}
	return runVerb(s, c, rest[1:])
}

// lookup finds a verb by name or alias.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
		for _, a := range c.aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// runVerb parses a verb's flags and runs it, turning its error into an
// exit status.
func runVerb(s *session, c *command, args []string) int {
	fs := pflag.NewFlagSet("minidocker "+c.name, pflag.ContinueOnError)
	fs.SetInterspersed(c.interspersed)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	run := c.setup(fs)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintf(os.Stdout, "Usage:  minidocker %s\n\n%s\n", c.usage, c.short)
		if fs.HasFlags() {
			fmt.Fprintf(os.Stdout, "\nOptions:\n%s", fs.FlagUsages())
		}
		return 0
	}
	if err == nil {
		err = run(s, fs.Args())
	} else {
		err = usagef("%v", err)
	}
	return exitStatus(c, err)
}

// exitStatus prints err and returns the status it calls for.
func exitStatus(c *command, err error) int {
	var se *statusError
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		if se.msg != "" {
			fmt.Fprintf(os.Stderr, "minidocker: %s\n", se.msg)
		}
		return se.status
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "minidocker %s: %v\nSee 'minidocker %s --help'.\n", c.name, err, c.name)
		if c.statusVerb {
			return 125
		}
		return 2
	}
	fmt.Fprintf(os.Stderr, "minidocker: %v\n", err)
	if c.statusVerb {
		return 125
	}
	return 1
}

// printHelp lists the verbs, from the table.
func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage:  minidocker [--root DIR] COMMAND [OPTIONS] [ARG...]")
	fmt.Fprintln(w, "\nA small, daemonless container runtime built from the steps of this repository.")
	fmt.Fprintln(w, "\nCommands:")
	var names []string
	for _, c := range commands {
		if !c.hidden {
			names = append(names, fmt.Sprintf("  %-10s %s", c.name, c.short))
		}
	}
	fmt.Fprintln(w, strings.Join(names, "\n"))
	fmt.Fprintln(w, "\nGlobal options:\n  --root DIR           state directory (default /var/lib/minidocker, or $MINIDOCKER_ROOT)")
	fmt.Fprintln(w, "  --cgroup-parent DIR  absolute cgroup for containers (default /minidocker)")
	fmt.Fprintln(w, "  --debug              print each registry request and its status (or $MINIDOCKER_DEBUG=1)")
	fmt.Fprintln(w, "  --insecure-registry  HOST[:PORT]: speak plain HTTP to it (loopback registries always are)")
	fmt.Fprintln(w, "  --max-layer-size N   refuse a layer larger than N (e.g. 2g) uncompressed (pull, load, import)")
	fmt.Fprintln(w, "\nRun 'minidocker COMMAND --help' for more on a command.")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
