//go:build linux

// --userns-remap and --userns: a container whose root is not the host's
// (internal/userns for the ranges, internal/container/userns.go for the
// mounts, docs/12-user-namespaces.md for why).

package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/userns"
)

// addUsernsFlags defines the user namespace flags of run.
func addUsernsFlags(fs *pflag.FlagSet, o *runOptions) {
	fs.StringVar(&o.usernsRemap, "userns-remap", "", `map root inside to an unprivileged range: "default" (the minidocker entry of /etc/subuid and /etc/subgid, added when missing)`)
	fs.StringVar(&o.userns, "userns", "", `"host": no user namespace, even with --userns-remap`)
}

// checkUserns records the container's user namespace: the mapping for
// --userns-remap=default (made now, so that every start uses the same
// range), none for --userns=host.
func checkUserns(c *state.Container, o *runOptions) error {
	switch o.userns {
	case "":
	case "host":
		c.HostConfig.UsernsMode = "host"
	default:
		return usagef("--userns %q: the only mode is \"host\"", o.userns)
	}
	switch o.usernsRemap {
	case "":
		return nil
	case "default", userns.Name:
	default:
		return usagef("--userns-remap %q: only \"default\" is supported (the %s entry of /etc/subuid and /etc/subgid)", o.usernsRemap, userns.Name)
	}
	if c.HostConfig.UsernsMode == "host" {
		return nil
	}
	if c.HostConfig.Privileged {
		return fmt.Errorf("--privileged cannot be used with --userns-remap: a privileged container has the host's root (add --userns=host)")
	}
	uids, gids, err := userns.Default()
	if err != nil {
		return fmt.Errorf("--userns-remap=default: %w", err)
	}
	c.Minidocker.IDMap = &state.IDMap{
		UIDMappings: []state.IDMapping{{ContainerID: 0, HostID: uids.Start, Size: uids.Size}},
		GIDMappings: []state.IDMapping{{ContainerID: 0, HostID: gids.Start, Size: gids.Size}},
	}
	return nil
}

// unmapFilter is commit's layer filter for a remapped container c (nil
// for others): its files are owned on the host by the range's ids, and
// the image must hold the ids inside.
func unmapFilter(c *state.Container) func(io.Writer, func(io.Writer) error) error {
	m := c.Minidocker.IDMap
	if m == nil {
		return nil
	}
	uids := userns.Range{Start: m.UIDMappings[0].HostID, Size: m.UIDMappings[0].Size}
	gids := userns.Range{Start: m.GIDMappings[0].HostID, Size: m.GIDMappings[0].Size}
	return func(w io.Writer, write func(io.Writer) error) error { return userns.Unmapped(w, uids, gids, write) }
}
