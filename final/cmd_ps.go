//go:build linux

// ps: list containers, running ones only unless -a.

package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
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
	setup: func(fs *pflag.FlagSet) func(*env, []string) error {
		o := &psOptions{}
		fs.BoolVarP(&o.all, "all", "a", false, "show all containers, not only running ones")
		fs.BoolVarP(&o.quiet, "quiet", "q", false, "only show ids")
		fs.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate ids and commands")
		fs.StringVar(&o.format, "format", "", "format each container with a Go template, e.g. '{{.Names}}'")
		return func(e *env, args []string) error { return runPs(e, o, args) }
	},
}

// psRow is one container as ps shows it; --format templates use its fields.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, Status, State, Names, Networks string
}

// runPs lists the containers.
func runPs(e *env, o *psOptions, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments")
	}
	if err := e.open(); err != nil {
		return err
	}
	list, err := e.summaries()
	if err != nil {
		return err
	}
	var rows []psRow
	for _, c := range list {
		if o.all || container.Running(c) {
			rows = append(rows, makePsRow(c, o.noTrunc))
		}
	}
	out := bufio.NewWriter(os.Stdout) // one write(2) for the listing, not one per line
	defer out.Flush()
	switch {
	case o.quiet:
		for _, r := range rows {
			fmt.Fprintln(out, r.ID)
		}
		return nil
	case o.format != "":
		return printTemplate(out, o.format, rows)
	}
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names)
	}
	return w.Flush()
}

// makePsRow turns a record into a row.
func makePsRow(c *state.Container, noTrunc bool) psRow {
	id := state.Short(c.ID)
	command := strings.Join(append([]string{c.Path}, c.Args...), " ")
	if noTrunc {
		id = c.ID
	} else if len(command) > 20 {
		command = command[:19] + "…"
	}
	return psRow{
		ID: id, Image: c.Config.Image, Command: fmt.Sprintf("%q", command),
		CreatedAt:  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: state.HumanDuration(time.Since(c.Created)), Ports: portsString(c),
		Status: c.Status(), State: c.State.Status, Names: c.Name, Networks: c.HostConfig.NetworkMode,
	}
}

// portsString spells published ports as ps does: 0.0.0.0:8080->80/tcp.
func portsString(c *state.Container) string {
	var out []string
	for port, bindings := range c.NetworkSettings.Ports {
		for _, b := range bindings {
			out = append(out, fmt.Sprintf("%s:%s->%s", b.HostIP, b.HostPort, port))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
