//go:build linux

// ps: list containers, running ones only unless -a.

package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// psOptions are ps's flags.
type psOptions struct {
	all, quiet, noTrunc bool
	format              string
}

// psCommand is the ps verb.
var psCommand = &command{
	name: "ps", usage: "ps [OPTIONS]", short: "List containers",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &psOptions{}
		fs.BoolVarP(&o.all, "all", "a", false, "show all containers, not only running ones")
		fs.BoolVarP(&o.quiet, "quiet", "q", false, "only show ids")
		fs.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate ids and commands")
		fs.StringVar(&o.format, "format", "", "format each container with a Go template, e.g. '{{.Names}}'")
		return func(s *session, args []string) error { return runPs(s, o, args) }
	},
}

// psRow is one container as ps shows it. --format templates call its
// methods ({{.Names}}, {{.Status}}, …), so a column is computed only when
// it is shown: with a thousand containers, that is most of ps's work.
type psRow struct {
	c       *state.Container
	noTrunc bool
}

// ID is the short id, or the full one with --no-trunc.
func (r psRow) ID() string {
	if r.noTrunc {
		return r.c.ID
	}
	return state.Short(r.c.ID)
}

// Image is the image as the user named it.
func (r psRow) Image() string { return r.c.Config.Image }

// Command is the command line, quoted, cut at 20 characters unless --no-trunc.
func (r psRow) Command() string {
	command := strings.Join(append([]string{r.c.Path}, r.c.Args...), " ")
	if !r.noTrunc && len(command) > 20 {
		command = command[:19] + "…"
	}
	return strconv.Quote(command)
}

// CreatedAt is when the container was made, in local time.
func (r psRow) CreatedAt() string {
	return r.c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}

// RunningFor is how long ago the container was made.
func (r psRow) RunningFor() string { return state.HumanDuration(time.Since(r.c.Created)) }

// Status is the STATUS column: "Up 3 minutes", "Exited (0) 2 seconds ago".
func (r psRow) Status() string { return r.c.Status() }

// State is created, running or exited.
func (r psRow) State() string { return r.c.State.Status }

// Names is the container's name.
func (r psRow) Names() string { return r.c.Name }

// Networks is the network mode.
func (r psRow) Networks() string { return r.c.HostConfig.NetworkMode }

// Ports spells published ports as ps does: 0.0.0.0:8080->80/tcp. A
// container that is not running publishes nothing, and shows nothing (a
// record written before exit cleared its ports may still list them).
func (r psRow) Ports() string {
	if !r.c.State.Running {
		return ""
	}
	var out []string
	for port, bindings := range r.c.NetworkSettings.Ports {
		for _, b := range bindings {
			out = append(out, b.HostIP+":"+b.HostPort+"->"+port)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// runPs lists the containers.
func runPs(s *session, o *psOptions, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments")
	}
	if err := s.open(); err != nil {
		return err
	}
	list, err := s.summaries()
	if err != nil {
		return err
	}
	var rows []psRow
	for _, c := range list {
		if o.all || container.Running(c) {
			rows = append(rows, psRow{c, o.noTrunc})
		}
	}
	out := bufio.NewWriter(os.Stdout) // one write(2) for the listing, not one per line
	defer out.Flush()
	switch {
	case o.quiet:
		for _, r := range rows {
			fmt.Fprintln(out, r.ID())
		}
		return nil
	case o.format != "":
		return printTemplate(out, o.format, rows)
	}
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\t%s\t%s\n", r.ID(), r.Image(), r.Command(), r.RunningFor(), r.Status(), r.Ports(), r.Names())
	}
	return w.Flush()
}
