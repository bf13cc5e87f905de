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
	limits    limitFlags
	layers    []string
	volumes   []string
	keep      bool
	merged    string // set by the host side for the container side
	overlay   string // set by the host side for the container side
	network   networkFlags
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
	addLimitFlags(fs, &o.limits)
	addNetworkFlags(fs, &o.network)
	fs.StringArrayVar(&o.layers, "layer", nil, "stack `DIR` as a read-only layer over the rootfs (repeatable; later is higher)")
	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount a volume: HOST:CONTAINER[:ro]")
	fs.BoolVar(&o.keep, "keep", false, "keep the writable layer after exit, to look at it on the host")
	fs.StringVar(&o.merged, "merged", "", "")
	fs.StringVar(&o.overlay, "overlay", "", "")
	_ = fs.MarkHidden("merged")
	_ = fs.MarkHidden("overlay")
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

// checkFlags checks the flags the host side acts on, before anything is
// created: the limits, returned in the kernel's units, the layers, and the
// volumes, whose missing host directories it makes, as Docker does.
func checkFlags(opts options) (limits, error) {
	lim, err := parseLimits(opts.limits)
	if err != nil {
		return limits{}, err
	}
	if err := checkLayers(opts.layers); err != nil {
		return limits{}, err
	}
	return lim, prepareVolumes(opts.volumes)
}
