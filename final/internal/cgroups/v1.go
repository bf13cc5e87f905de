//go:build linux

// cgroup v1: one directory per controller tree. The container's cgroup is
// <Root>/<controller>/<parent>/<name> for every controller it needs; the
// memory, pids, cpu, cpuacct and devices trees are always used (limits,
// stats, OOM reports and device rules), the others only when a flag asks.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// v1 is a container's cgroup on a v1 host.
type v1 struct {
	parent, name string
	dirs         map[string]string // controller -> directory
}

// alwaysV1 are the controllers every container joins on v1.
var alwaysV1 = []string{"memory", "pids", "cpu", "cpuacct", "devices"}

// newV1 makes the directories, writes the limits and device rules.
func newV1(parent, name string, r Resources) (Manager, error) {
	c := &v1{parent: parent, name: name, dirs: map[string]string{}}
	want := settingsV1(r)
	needed := append([]string{}, alwaysV1...)
	for _, s := range want {
		needed = append(needed, s.controller)
	}
	if r.Freezable && mountedV1("freezer") {
		needed = append(needed, "freezer")
	}
	err := c.makeDirs(needed)
	if err == nil {
		err = c.apply(want)
	}
	if err == nil && r.DeviceRules != nil {
		err = writeDevicesV1(c.dirs["devices"], r.DeviceRules)
	}
	if err != nil {
		return nil, errors.Join(err, c.Destroy())
	}
	return c, nil
}

// loadV1 finds the directories an existing cgroup has.
func loadV1(parent, name string) *v1 {
	c := &v1{parent: parent, name: name, dirs: map[string]string{}}
	for _, ctrl := range append(alwaysV1, "cpuset", "blkio", "hugetlb", "net_cls", "net_prio", "freezer") {
		dir := filepath.Join(Root, ctrl, parent, name)
		if _, err := os.Stat(dir); err == nil {
			c.dirs[ctrl] = dir
		}
	}
	return c
}

// mountedV1 reports whether the controller's v1 hierarchy is mounted.
func mountedV1(ctrl string) bool {
	var st unix.Statfs_t
	return unix.Statfs(filepath.Join(Root, ctrl), &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC
}

// makeDirs makes the cgroup's directory in each needed controller's tree.
func (c *v1) makeDirs(needed []string) error {
	for _, ctrl := range needed {
		if c.dirs[ctrl] != "" {
			continue
		}
		hierarchy := filepath.Join(Root, ctrl)
		var st unix.Statfs_t
		if err := unix.Statfs(hierarchy, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
			return fmt.Errorf("cgroup v1: the %s controller is not mounted at %s: mount -t cgroup -o %s cgroup %s", ctrl, hierarchy, ctrl, hierarchy)
		}
		parent := filepath.Join(hierarchy, c.parent)
		dir := filepath.Join(parent, c.name)
		if err := mkdirUnder(parent, dir); err != nil {
			return err
		}
		c.dirs[ctrl] = dir
		if ctrl == "cpuset" {
			if err := copyCpuset(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyCpuset fills cpuset.cpus and cpuset.mems of every empty cpuset from
// the root down to dir, each from its parent: a new v1 cpuset starts
// empty and takes no task until it has both.
func copyCpuset(dir string) error {
	root := filepath.Join(Root, "cpuset")
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cpuset %s is not below %s", dir, root)
	}
	above := root
	for _, part := range strings.Split(rel, "/") {
		here := filepath.Join(above, part)
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			mine, _ := os.ReadFile(filepath.Join(here, file))
			if strings.TrimSpace(string(mine)) != "" {
				continue
			}
			value, err := os.ReadFile(filepath.Join(above, file))
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(here, file), strings.TrimSpace(string(value))); err != nil {
				return err
			}
		}
		above = here
	}
	return nil
}

// apply writes each setting; swap files are skipped on a kernel that does
// not account swap (the limit then holds memory alone).
func (c *v1) apply(want []setting) error {
	for _, s := range want {
		path := filepath.Join(c.dirs[s.controller], s.file)
		if _, err := os.Stat(path); os.IsNotExist(err) && strings.Contains(s.file, "memsw") {
			continue
		}
		if err := writeFile(path, s.value); err != nil {
			return err
		}
	}
	return nil
}

// Version is 1.
func (c *v1) Version() int { return 1 }

// Paths are the directories, one per controller.
func (c *v1) Paths() []string {
	var out []string
	for _, d := range c.dirs {
		out = append(out, d)
	}
	return out
}

// Apply writes pid into every controller's cgroup.procs.
func (c *v1) Apply(pid int) error {
	for _, dir := range c.dirs {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// OOMKilled reads oom_kill from memory.oom_control (kernel 4.13 and later).
func (c *v1) OOMKilled() bool {
	n, _ := keyedValue(filepath.Join(c.dirs["memory"], "memory.oom_control"), "oom_kill")
	return n > 0
}

// Stats reads cpuacct.usage, memory.usage_in_bytes and pids.current.
func (c *v1) Stats() (Stats, error) {
	mem := c.dirs["memory"]
	if mem == "" {
		return Stats{}, fmt.Errorf("cgroup %s/%s: no memory cgroup", c.parent, c.name)
	}
	s := Stats{
		CPUNanos:    readUint(filepath.Join(c.dirs["cpuacct"], "cpuacct.usage")),
		MemoryUsage: readUint(filepath.Join(mem, "memory.usage_in_bytes")),
		MemoryLimit: readUint(filepath.Join(mem, "memory.limit_in_bytes")),
		Pids:        readUint(filepath.Join(c.dirs["pids"], "pids.current")),
	}
	if s.MemoryLimit >= 1<<62 { // v1 writes "unlimited" as a huge page-aligned number
		s.MemoryLimit = 0
	}
	return s, nil
}

// Pids lists the processes of the memory cgroup (all trees hold the same).
func (c *v1) Pids() ([]int, error) {
	return readPids(c.dirs["memory"])
}

// Destroy removes every directory, killing what is left in them, and the
// default parent once no other container uses it.
func (c *v1) Destroy() error {
	var errs []error
	if c.Frozen() {
		// A frozen task takes its SIGKILL only once thawed (a paused
		// container whose monitor is gone, or cleanup): kill, then thaw.
		killAll(c.dirs["freezer"])
		errs = append(errs, setAndWait(filepath.Join(c.dirs["freezer"], "freezer.state"), "THAWED"))
	}
	for ctrl, dir := range c.dirs {
		errs = append(errs, removeDir(dir))
		removeParent(c.parent, filepath.Join(Root, ctrl, c.parent))
	}
	return errors.Join(errs...)
}
