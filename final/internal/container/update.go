//go:build linux

// update: new limits for a container (docker update), in its running
// cgroup (cgroups.Update) and in its record, so that its next start
// gets them too.

package container

import (
	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/state"
)

// Update applies r to c, which the caller holds locked: to its cgroup
// first when it runs (a limit the kernel refuses changes nothing), then
// to its record.
func (rt *Runtime) Update(c *state.Container, r cgroups.Resources) error {
	if Running(c) {
		if err := cgroups.Update(rt.Cgroup(c), r); err != nil {
			return err
		}
	}
	return rt.updateAndEmit(c.ID, func(rec *state.Container) error {
		rec.HostConfig.Resources = r
		*c = *rec
		return nil
	}, "update", nil)
}
