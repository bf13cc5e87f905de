//go:build linux

// The runtime: what every operation on a container shares (the state
// store, the default cgroup parent), and a container's own directories.
// The operations are in the files named for them: monitor.go (run),
// exec.go, signal.go (kill, stop, wait), reconcile.go, remove.go.

package container

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// Runtime is what every container operation needs to know.
type Runtime struct {
	State        *state.Store
	CgroupParent string
	// Rootless is a runtime inside a rootless user namespace
	// (internal/rootless): a container without limits gets no cgroup,
	// and the bridge network is slirp4netns (usernet.go), whose sockets
	// go in RuntimeDir.
	Rootless   bool
	RuntimeDir string
}

// Cgroup is the manager of a container's cgroup (which need not exist):
// none for a rootless container without limits.
func (rt *Runtime) Cgroup(c *state.Container) cgroups.Manager {
	if rt.Rootless && c.HostConfig.Resources.IsZero() {
		return cgroups.None{}
	}
	return cgroups.Load(rt.cgroupParent(c), c.ID)
}

// Processes lists a running container's processes: its cgroup's, or
// for a container without one, its first process and those below it.
func (rt *Runtime) Processes(c *state.Container) ([]int, error) {
	cg := rt.Cgroup(c)
	if len(cg.Paths()) == 0 {
		return procfs.Descendants(c.State.Pid)
	}
	return cg.Pids()
}

// cgroupParent is the parent the record names: the one recorded when the
// container was created, whatever --cgroup-parent a later command is given
// (a record written before that field existed falls back to the old rule:
// the container's --cgroup-parent, or the runtime's).
func (rt *Runtime) cgroupParent(c *state.Container) string {
	if c.Minidocker.CgroupParent != "" {
		return c.Minidocker.CgroupParent
	}
	if c.HostConfig.CgroupParent != "" {
		return c.HostConfig.CgroupParent
	}
	return rt.CgroupParent
}

// update changes a container's record under the store's lock.
func (rt *Runtime) update(id string, change func(*state.Container) error) error {
	unlock, err := rt.State.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	r, err := rt.State.Get(id)
	if err != nil {
		return err
	}
	if err := change(r); err != nil {
		return err
	}
	return rt.State.Save(r)
}

// updateAndEmit is update, then the event action about the container as
// it now is (state.Emit).
func (rt *Runtime) updateAndEmit(id string, change func(*state.Container) error, action string, extra map[string]string) error {
	var now *state.Container
	err := rt.update(id, func(r *state.Container) error {
		now = r
		return change(r)
	})
	if err == nil {
		rt.State.Emit(now, action, extra)
	}
	return err
}

// Paths are the directories of a container's filesystem, in its state
// directory.
type Paths struct {
	Upper  string // the writable layer: what the container changed
	Work   string // overlayfs's work directory, on the same filesystem as Upper
	Rootfs string // where the layers are mounted as the container's root
}

// PathsIn are the Paths of the container whose state directory is dir.
func PathsIn(dir string) Paths {
	return Paths{Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), Rootfs: filepath.Join(dir, "rootfs")}
}

// Prepare makes a new container's directories (the caller holds the lock).
func Prepare(dir string) error {
	p := PathsIn(dir)
	for _, d := range []string{p.Upper, p.Work, p.Rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", d, err)
		}
	}
	return nil
}
