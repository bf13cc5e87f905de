//go:build linux

// pull: fetch an image from a registry into the store
// (internal/registry is the client; internal/image keeps what it fetched).

package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/registry"
)

// pullCommand is the pull verb.
var pullCommand = &command{
	name: "pull", usage: "pull [OPTIONS] NAME[:TAG|@DIGEST]", short: "Download an image from a registry",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		quiet := fs.BoolP("quiet", "q", false, "print nothing")
		platform := fs.String("platform", "", "os/arch[/variant] to pull from a multi-platform image (default: this machine's)")
		return func(s *session, args []string) error { return runPull(s, *quiet, *platform, args) }
	},
}

// runPull pulls one image, printing Docker's plain progress lines.
func runPull(s *session, quiet bool, platform string, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument: the image's name")
	}
	if err := s.open(); err != nil {
		return err
	}
	var progress registry.Progress
	if !quiet {
		progress = newProgress(os.Stdout)
	}
	res, err := s.pull(args[0], platform, progress)
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Println(res.Name) // the full name, as Docker ends a pull
	}
	return nil
}
