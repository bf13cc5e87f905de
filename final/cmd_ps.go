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
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// psOptions are ps's flags.
type psOptions struct {
	all, quiet, noTrunc bool
	format              string
	filters             []string // KEY=VALUE, as -f gives them
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
		fs.StringArrayVarP(&o.filters, "filter", "f", nil, "show only the containers that match: id, name, status, label or ancestor, as KEY=VALUE")
		return func(s *session, args []string) error { return runPs(s, o, args) }
	},
}

// psFilter reads ps's -f KEY=VALUE flags into the daemon's filter test
// (api_containers.go), nil when there are none.
func psFilter(flags []string) (func(*state.Container) bool, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	filters := map[string][]string{}
	for _, f := range flags {
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("bad format of filter %q (expected name=value)", f)
		}
		filters[key] = append(filters[key], value)
	}
	return matchFilters(filters)
}

// psRow is one container as ps shows it, from its summary. --format
// templates call its methods ({{.Names}}, {{.Status}}, …), so a column is
// computed only when it is shown: with a thousand containers, that is
// most of ps's work.
type psRow struct {
	c       *state.Summary
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
func (r psRow) Image() string { return r.c.Image }

// Command is the command line, quoted, cut at 20 characters unless --no-trunc.
func (r psRow) Command() string {
	command := strings.Join(r.c.Command, " ")
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
func (r psRow) Status() string { return r.c.State.Line() }

// State is created, running or exited.
func (r psRow) State() string { return r.c.State.Status }

// Names is the container's name.
func (r psRow) Names() string { return r.c.Name }

// Labels are the container's labels, KEY=VALUE, comma-separated.
func (r psRow) Labels() string {
	var out []string
	for k, v := range r.c.Labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Label is the value of one label ({{.Label "com.example.key"}}).
func (r psRow) Label(name string) string { return r.c.Labels[name] }

// Mounts are the sources of the container's bind mounts, comma-separated.
func (r psRow) Mounts() string {
	var out []string
	for _, m := range r.c.Mounts {
		out = append(out, m.Source)
	}
	return strings.Join(out, ",")
}

// Networks is the network mode.
func (r psRow) Networks() string { return r.c.Network }

// Ports spells published ports as ps does: 0.0.0.0:8080->80/tcp. A
// container that is not running publishes nothing, and shows nothing (a
// record written before exit cleared its ports may still list them).
func (r psRow) Ports() string {
	if !r.c.State.Running {
		return ""
	}
	var out []string
	for port, bindings := range r.c.Ports {
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
	match, err := psFilter(o.filters)
	if err != nil {
		return err
	}
	list, err := s.summaries()
	if err != nil {
		return err
	}
	var rows []psRow
	for i := range list {
		if (o.all || (list[i].State.Running && container.Running(list[i].Record()))) && (match == nil || match(list[i].Record())) {
			rows = append(rows, psRow{&list[i], o.noTrunc})
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
	table := [][]string{{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}}
	for _, r := range rows {
		table = append(table, []string{r.ID(), r.Image(), r.Command(), r.RunningFor() + " ago", r.Status(), r.Ports(), r.Names()})
	}
	printColumns(out, table)
	return nil
}

// printColumns writes a table as docker ps does: each column as wide as
// its widest cell plus three spaces, the last one unpadded. (It is what
// text/tabwriter does; tabwriter's byte-by-byte scan of a thousand
// formatted lines was a sixth of ps's time.)
func printColumns(w *bufio.Writer, table [][]string) {
	widths := make([]int, len(table[0]))
	for _, row := range table {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	last := len(widths) - 1
	for _, row := range table {
		for i, cell := range row[:last] {
			w.WriteString(cell)
			w.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+3))
		}
		w.WriteString(row[last])
		w.WriteByte('\n')
	}
}
