//go:build linux

// logs: print a container's output from its json-file log; -f follows it
// until the container stops.

package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// logsOptions are logs's flags.
type logsOptions struct {
	follow, timestamps bool
	tail               string
}

// logsCommand is the logs verb.
var logsCommand = &command{
	name: "logs", usage: "logs [OPTIONS] CONTAINER", short: "Show a container's output",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &logsOptions{}
		fs.BoolVarP(&o.follow, "follow", "f", false, "keep printing new output until the container stops")
		fs.BoolVarP(&o.timestamps, "timestamps", "t", false, "show the time of each line")
		fs.StringVarP(&o.tail, "tail", "n", "all", "number of lines to show from the end")
		return func(s *session, args []string) error { return runLogs(s, o, args) }
	},
}

// runLogs prints the log, then follows it with -f.
func runLogs(s *session, o *logsOptions, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument: the container")
	}
	tail := -1
	if o.tail != "all" {
		n, err := strconv.Atoi(o.tail)
		if err != nil || n < 0 {
			return usagef("invalid --tail %q: a number of lines, or all", o.tail)
		}
		tail = n
	}
	if err := s.open(); err != nil {
		return err
	}
	c, err := s.rt.Find(args[0])
	if err != nil {
		return err
	}
	f, err := os.Open(c.LogPath)
	if os.IsNotExist(err) {
		return nil // it never ran
	}
	if err != nil {
		return fmt.Errorf("open the log of %s: %w", args[0], err)
	}
	defer f.Close()
	entries, offset, _ := container.ReadLogAt(f, 0)
	if tail >= 0 && len(entries) > tail {
		entries = entries[len(entries)-tail:]
	}
	printEntries(entries, o.timestamps)
	if o.follow {
		print := func(entries []container.LogEntry) error { printEntries(entries, o.timestamps); return nil }
		return followLog(s, c, f, offset, 100*time.Millisecond, container.Exited, print)
	}
	return nil
}

// followLog passes what the container writes to emit, reading the log
// and the record every interval, until ended says
// the record is final (logs -f: it has exited; the daemon's attach: it
// has exited after it started) or the record is gone (--rm), or emit fails (a client went away). It
// ends when the record says so, not when the container's process is gone:
// the monitor writes "exited" after the last line of output is in the log
// and the container's cgroup and network are released, so that a
// script's next command finds the container finished.
func followLog(s *session, c *state.Container, f *os.File, offset int64, every time.Duration, ended func(*state.Container) bool, emit func([]container.LogEntry) error) error {
	for {
		done := c == nil || ended(c)
		entries, next, _ := container.ReadLogAt(f, offset)
		if err := emit(entries); err != nil {
			return err
		}
		if done {
			return nil
		}
		offset = next
		time.Sleep(every)
		var err error
		if c, err = s.rt.Find(c.ID); err != nil {
			c = nil // removed (--rm): read what is left, then end
		}
	}
}

// printEntries writes each entry to the stream it came from.
func printEntries(entries []container.LogEntry, timestamps bool) {
	for _, en := range entries {
		var w io.Writer = os.Stdout
		if en.Stream == "stderr" {
			w = os.Stderr
		}
		if timestamps {
			fmt.Fprint(w, en.Time.Format(time.RFC3339Nano)+" ")
		}
		fmt.Fprint(w, en.Log)
	}
}
