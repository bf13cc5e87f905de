//go:build linux

// history: the steps that made an image, newest first.

package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// historyCommand is the history verb.
var historyCommand = &command{
	name: "history", usage: "history [OPTIONS] IMAGE", short: "Show how an image was made",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		noTrunc := fs.Bool("no-trunc", false, "do not truncate the output")
		return func(s *session, args []string) error { return runHistory(s, *noTrunc, args) }
	},
}

// runHistory prints the image's history.
func runHistory(s *session, noTrunc bool, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	entries, err := s.images.History(args[0])
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
	for _, h := range entries {
		id := h.ID
		if !noTrunc {
			id = state.Short(id)
		}
		if id == "" {
			id = "<missing>"
		}
		by := h.CreatedBy
		if !noTrunc && len(by) > 45 {
			by = by[:44] + "…"
		}
		fmt.Fprintf(w, "%s\t%s ago\t%s\t%s\t%s\n", id, state.HumanDuration(time.Since(h.Created)), by, humanSize(h.Size), h.Comment)
	}
	return w.Flush()
}
