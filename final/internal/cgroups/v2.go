//go:build linux

// cgroup v2: one directory, <Root>/<parent>/<name>. Each ancestor must hand
// the controllers down through cgroup.subtree_control, and a cgroup with
// children may hold no process of its own (the "no internal processes"
// rule), which is why the parent stays empty and each container gets a
// leaf of its own.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
)

// v2 is a container's cgroup on a v2 host.
type v2 struct {
	dir    string // "" when Load was given a name that is no cgroup
	parent string // as given, e.g. /minidocker
}

// newV2 enables the controllers down to parent, makes the leaf, writes
// the limits and attaches the device program.
func newV2(parent, name string, r Resources) (Manager, error) {
	want := settingsV2(r)
	needed := []string{"memory", "pids", "cpu"}
	for _, s := range want {
		needed = append(needed, s.controller)
	}
	dir := Root
	for _, part := range strings.Split(strings.Trim(parent, "/"), "/") {
		if err := enableControllers(dir, needed); err != nil {
			return nil, err
		}
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("mkdir %s: %w", dir, err)
		}
	}
	if err := enableControllers(dir, needed); err != nil {
		return nil, err
	}
	c := &v2{dir: filepath.Join(dir, name), parent: parent}
	if err := mkdirUnder(dir, c.dir); err != nil {
		return nil, err
	}
	for _, s := range want {
		path := filepath.Join(c.dir, s.file)
		if _, err := os.Stat(path); os.IsNotExist(err) && strings.Contains(s.file, "swap") {
			continue // no swap accounting on this kernel
		}
		if err := writeFile(path, s.value); err != nil {
			return nil, errors.Join(err, c.Destroy())
		}
	}
	if r.DeviceRules != nil {
		if err := devices.Attach(c.dir, r.DeviceRules); err != nil {
			return nil, errors.Join(err, c.Destroy())
		}
	}
	return c, nil
}

// enableControllers writes "+controller" to dir's cgroup.subtree_control
// for each needed controller not enabled yet.
func enableControllers(dir string, needed []string) error {
	enabled, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	available, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	for _, ctrl := range needed {
		if hasWord(string(enabled), ctrl) {
			continue
		}
		if !hasWord(string(available), ctrl) {
			return fmt.Errorf("cgroup v2: the %s controller is not available in %s (cgroup.controllers: %q)", ctrl, dir, strings.TrimSpace(string(available)))
		}
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+ctrl); err != nil {
			return err
		}
		enabled = append(enabled, " "+ctrl...)
	}
	return nil
}

// Version is 2.
func (c *v2) Version() int { return 2 }

// Paths is the one directory.
func (c *v2) Paths() []string { return []string{c.dir} }

// Apply writes pid into cgroup.procs.
func (c *v2) Apply(pid int) error {
	return writeFile(filepath.Join(c.dir, "cgroup.procs"), strconv.Itoa(pid))
}

// OOMKilled reads oom_kill from memory.events.
func (c *v2) OOMKilled() bool {
	n, _ := keyedValue(filepath.Join(c.dir, "memory.events"), "oom_kill")
	return n > 0
}

// Stats reads cpu.stat, memory.current, memory.max and pids.current.
func (c *v2) Stats() (Stats, error) {
	if _, err := os.Stat(c.dir); err != nil {
		return Stats{}, err
	}
	usec, _ := keyedValue(filepath.Join(c.dir, "cpu.stat"), "usage_usec")
	return Stats{
		CPUNanos:    usec * 1000,
		MemoryUsage: readUint(filepath.Join(c.dir, "memory.current")),
		MemoryLimit: readUint(filepath.Join(c.dir, "memory.max")),
		Pids:        readUint(filepath.Join(c.dir, "pids.current")),
	}, nil
}

// Pids lists cgroup.procs.
func (c *v2) Pids() ([]int, error) { return readPids(c.dir) }

// Destroy kills what is left (cgroup.kill where the kernel has it, 5.14+),
// removes the leaf, and the default parent if no other container uses it.
func (c *v2) Destroy() error {
	if _, err := os.Stat(c.dir); c.dir == "" || os.IsNotExist(err) {
		return nil
	}
	_ = writeFile(filepath.Join(c.dir, "cgroup.kill"), "1")
	err := removeDir(c.dir)
	removeParent(c.parent, filepath.Dir(c.dir))
	return err
}
