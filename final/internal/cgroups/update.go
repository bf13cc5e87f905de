//go:build linux

// Changing the limits of a running container (docker update): the same
// files New writes, written again. On v1 a memory limit may never exceed
// memory+swap (memory.memsw.limit_in_bytes), so a raise writes memsw
// first and a cut writes memory first; either order alone would be
// refused with EINVAL half the time.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Update writes r's limits to the existing cgroup m.
func Update(m Manager, r Resources) error {
	switch c := m.(type) {
	case *v1:
		return c.update(settingsV1(r))
	case *v2:
		return writeSettings(settingsV2(r), func(setting) string { return c.dir })
	}
	return errors.New("this container has no cgroup to update: a rootless container gets one only when made with limits")
}

// update writes v1 settings, each in its controller's directory.
func (c *v1) update(want []setting) error {
	if mem := c.dirs["memory"]; mem != "" && raisesMemory(mem, want) {
		for i := range want { // memsw before memory: the limit must never pass it
			if want[i].file == "memory.memsw.limit_in_bytes" && i > 0 && want[i-1].file == "memory.limit_in_bytes" {
				want[i-1], want[i] = want[i], want[i-1]
			}
		}
	}
	return writeSettings(want, func(s setting) string { return c.dirs[s.controller] })
}

// raisesMemory reports whether want sets a memory limit above the current one.
func raisesMemory(dir string, want []setting) bool {
	data, err := os.ReadFile(filepath.Join(dir, "memory.limit_in_bytes"))
	if err != nil {
		return false
	}
	current, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	for _, s := range want {
		if s.file == "memory.limit_in_bytes" {
			n, _ := strconv.ParseInt(s.value, 10, 64)
			return n > current
		}
	}
	return false
}

// writeSettings writes each setting in the directory dirOf gives it; a
// controller the cgroup was made without is an error that says so.
func writeSettings(want []setting, dirOf func(setting) string) error {
	for _, s := range want {
		dir := dirOf(s)
		path := filepath.Join(dir, s.file)
		if _, err := os.Stat(path); dir == "" || os.IsNotExist(err) {
			if strings.Contains(s.file, "swap") || strings.Contains(s.file, "memsw") {
				continue // no swap accounting on this kernel
			}
			return fmt.Errorf("cannot update %s: the container's cgroup has no %s controller (it was made without a %s limit): recreate the container with the flag", s.file, s.controller, s.controller)
		}
		if err := writeFile(path, s.value); err != nil {
			return err
		}
	}
	return nil
}
