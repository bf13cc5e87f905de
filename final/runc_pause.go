//go:build linux

// pause and resume: the container's cgroup frozen and thawed
// (cgroups.Manager.Freeze: v1's freezer.state, v2's cgroup.freeze). A
// paused container's status is "paused", as runc reports it; it can be
// killed, and delete --force thaws it so that its processes can die.

package main

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/oci"
)

// ociPauseVerb is `pause`.
var ociPauseVerb = &runcVerb{
	name: "pause", usage: "ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		return func(g *runcGlobals, args []string) error { return ociFreeze(g, args, true) }
	},
}

// ociResumeVerb is `resume`.
var ociResumeVerb = &runcVerb{
	name: "resume", usage: "ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		return func(g *runcGlobals, args []string) error { return ociFreeze(g, args, false) }
	},
}

// ociFreeze pauses a running container (frozen) or resumes a paused one.
func ociFreeze(g *runcGlobals, args []string, frozen bool) error {
	id, err := oneID(args)
	if err != nil {
		return err
	}
	store := g.store()
	unlock, err := store.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	verb, from := "pause", specs.StateRunning
	if !frozen {
		verb, from = "resume", oci.StatePaused
	}
	if st := store.Status(rec); st != from {
		return fmt.Errorf("cannot %s container %s: it is %s, not %s", verb, id, st, from)
	}
	return cgroups.LoadPath(rec.Cgroup).Freeze(frozen)
}
