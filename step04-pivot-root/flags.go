//go:build linux

// The command line. Both sides of the program parse the same arguments with
// the same function, so a flag is defined once and means the same thing on
// either side: the container side reads what the host side was given.

package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

// options are the parsed command line; both sides of the program build the same.
type options struct {
	hostname  string
	userns    bool
	noPrivate bool
	rootfs    string
	breakout  bool
	quiet     bool
	command   []string
}

// parseFlags reads the flags and the command; flags stop at the first
// non-flag word, so "ls -l" passes -l to ls.
func parseFlags(args []string) (options, error) {
	var o options
	fs := pflag.NewFlagSet(stepName, pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.StringVar(&o.hostname, "hostname", "box", "hostname inside the container")
	fs.BoolVar(&o.userns, "userns", false, fmt.Sprintf("add a user namespace: root inside is uid %d outside", userNamespaceBase))
	fs.BoolVar(&o.noPrivate, "no-private", false, "demonstration: skip MS_PRIVATE and watch mounts propagate to a shared host")
	fs.StringVar(&o.rootfs, "rootfs", "", "use the root filesystem in `DIR` instead of building one")
	fs.BoolVar(&o.breakout, "breakout", false, "demonstration: escape the chroot before running the command")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "do not narrate the kernel calls")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: sudo go run ./%s [flags] [--] [command [args...]]\n\n%s\n\nFlags:\n%s",
			stepName, about, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.command = fs.Args()
	if len(o.command) == 0 {
		o.command = []string{"/bin/sh"}
	}
	return o, nil
}
