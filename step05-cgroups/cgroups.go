//go:build linux

// cgroups: a directory per container in which the kernel counts and limits
// what its processes use. Two versions live side by side in the world:
//
//   - v1 (older hosts): one tree per controller, mounted at
//     /sys/fs/cgroup/<controller>; a container gets a directory in each
//     tree it needs, e.g. /sys/fs/cgroup/memory/minidocker/<name>.
//   - v2 (the lab VM, current distros): one tree at /sys/fs/cgroup; a
//     parent enables controllers for its children in cgroup.subtree_control,
//     and only leaves hold processes (the "no internal processes" rule).
//
// Which one is in use is read once at run time, from the type of the
// filesystem at /sys/fs/cgroup. The same limits then become different
// files (settings), so the flags mean the same on both.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup filesystems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroup is one container's cgroup: one directory per controller on v1,
// a single directory (under the key "") on v2.
type cgroup struct {
	v2     bool
	parent string            // e.g. /minidocker
	dirs   map[string]string // controller -> directory
}

// setting is one value written to one cgroup file.
type setting struct {
	controller, file, value string
}

// cgroupV2 reports whether /sys/fs/cgroup is the unified (v2) hierarchy.
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// settings turns limits into the files to write on v1 or v2.
func settings(v2 bool, l limits) []setting {
	if v2 {
		return settingsV2(l)
	}
	return settingsV1(l)
}

// settingsV1 are the files of the v1 controllers, as the seeds show them.
func settingsV1(l limits) []setting {
	var s []setting
	if l.memory > 0 {
		s = append(s, setting{"memory", "memory.limit_in_bytes", itoa(l.memory)})
		// Docker's default for --memory alone: as much swap as memory.
		swap := 2 * l.memory
		if l.memorySwap != 0 {
			swap = l.memorySwap
		}
		s = append(s, setting{"memory", "memory.memsw.limit_in_bytes", itoa(swap)})
	}
	if l.cpuShares > 0 {
		s = append(s, setting{"cpu", "cpu.shares", itoa(l.cpuShares)})
	}
	if l.cpuQuota > 0 {
		s = append(s, setting{"cpu", "cpu.cfs_period_us", itoa(cpuPeriod)}, setting{"cpu", "cpu.cfs_quota_us", itoa(l.cpuQuota)})
	}
	if l.cpusetCPUs != "" {
		s = append(s, setting{"cpuset", "cpuset.cpus", l.cpusetCPUs})
	}
	if l.pidsLimit > 0 {
		s = append(s, setting{"pids", "pids.max", itoa(l.pidsLimit)})
	}
	v1Files := map[string]string{"rbps": "read_bps", "wbps": "write_bps", "riops": "read_iops", "wiops": "write_iops"}
	for _, d := range l.devices {
		s = append(s, setting{"blkio", "blkio.throttle." + v1Files[d.kind] + "_device", fmt.Sprintf("%d:%d %d", d.major, d.minor, d.value)})
	}
	return s
}

// settingsV2 are the same limits in v2's files, with its conversions.
func settingsV2(l limits) []setting {
	var s []setting
	if l.memory > 0 {
		s = append(s, setting{"memory", "memory.max", itoa(l.memory)})
		// v2 limits swap alone, not memory plus swap as v1 and Docker's flag do.
		swap := "max"
		if l.memorySwap == 0 {
			swap = itoa(l.memory)
		} else if l.memorySwap > 0 {
			swap = itoa(l.memorySwap - l.memory)
		}
		s = append(s, setting{"memory", "memory.swap.max", swap})
	}
	if l.cpuShares > 0 {
		// shares 2..262144 map linearly onto weight 1..10000 (as runc does).
		s = append(s, setting{"cpu", "cpu.weight", itoa(1 + (l.cpuShares-2)*9999/262142)})
	}
	if l.cpuQuota > 0 {
		s = append(s, setting{"cpu", "cpu.max", fmt.Sprintf("%d %d", l.cpuQuota, cpuPeriod)})
	}
	if l.cpusetCPUs != "" {
		s = append(s, setting{"cpuset", "cpuset.cpus", l.cpusetCPUs})
	}
	if l.pidsLimit > 0 {
		s = append(s, setting{"pids", "pids.max", itoa(l.pidsLimit)})
	}
	for _, d := range l.devices {
		s = append(s, setting{"io", "io.max", fmt.Sprintf("%d:%d %s=%d", d.major, d.minor, d.kind, d.value)})
	}
	return s
}

// itoa formats an int64 in decimal.
func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}

// cgroupName names this run's cgroup after the step's number and the host
// side's pid, "step05-4211": two runs never collide, and cleanup knows a
// step's leftovers by it.
func cgroupName() string {
	return fmt.Sprintf("%s-%d", stepName[:len("step05")], os.Getpid())
}

// createCgroup makes the container's cgroup under parent and writes its
// limits; on failure nothing is left behind.
func createCgroup(parent, name string, l limits) (*cgroup, error) {
	c := &cgroup{v2: cgroupV2(), parent: parent, dirs: map[string]string{}}
	want := settings(c.v2, l)
	removeStaleCgroups(c.v2, parent)
	var err error
	if c.v2 {
		host("cgroup v2 (unified hierarchy at %s)", cgroupRoot)
		err = c.makeV2(name, want)
	} else {
		host("cgroup v1 (one hierarchy per controller under %s)", cgroupRoot)
		err = c.makeV1(name, want)
	}
	if err == nil {
		err = c.apply(want)
	}
	if err != nil {
		_ = c.remove()
		return nil, err
	}
	return c, nil
}

// makeV2 enables the controllers the settings need down to parent, then
// makes the container's directory.
func (c *cgroup) makeV2(name string, want []setting) error {
	needed := []string{"memory", "pids"}
	for _, s := range want {
		needed = append(needed, s.controller)
	}
	dir := cgroupRoot
	for _, part := range strings.Split(strings.Trim(c.parent, "/"), "/") {
		if err := enableControllers(dir, needed); err != nil {
			return err
		}
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("mkdir %s: %w", dir, err)
		}
	}
	if err := enableControllers(dir, needed); err != nil {
		return err
	}
	c.dirs[""] = filepath.Join(dir, name)
	host("mkdir %s", c.dirs[""])
	return mkdirUnder(dir, c.dirs[""])
}

// mkdirUnder makes dir inside parent, making parent too; once more if
// another container's cleanup removed the empty parent in between.
func mkdirUnder(parent, dir string) error {
	var err error
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(parent, 0o755); err == nil {
			if err = os.Mkdir(dir, 0o755); !os.IsNotExist(err) {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return nil
}

// enableControllers writes "+controller" to dir's cgroup.subtree_control
// for each needed controller not yet enabled, so dir's children get it.
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
		host("%s/cgroup.subtree_control = +%s: %s's children get the %s controller", dir, ctrl, dir, ctrl)
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+ctrl); err != nil {
			return err
		}
		enabled = append(enabled, " "+ctrl...)
	}
	return nil
}

// hasWord reports whether a space-separated list contains word.
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}

// makeV1 makes the container's directory in each controller's tree it needs.
func (c *cgroup) makeV1(name string, want []setting) error {
	needed := []string{"memory", "pids"}
	for _, s := range want {
		needed = append(needed, s.controller)
	}
	for _, ctrl := range needed {
		if c.dirs[ctrl] != "" {
			continue
		}
		hierarchy := filepath.Join(cgroupRoot, ctrl)
		var st unix.Statfs_t
		if err := unix.Statfs(hierarchy, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
			return fmt.Errorf("cgroup v1: the %s controller is not mounted at %s: mount -t cgroup -o %s cgroup %s", ctrl, hierarchy, ctrl, hierarchy)
		}
		parent := filepath.Join(hierarchy, c.parent)
		c.dirs[ctrl] = filepath.Join(parent, name)
		host("mkdir %s", c.dirs[ctrl])
		if err := mkdirUnder(parent, c.dirs[ctrl]); err != nil {
			return err
		}
		if ctrl == "cpuset" {
			// A new v1 cpuset starts empty and takes no task until it has
			// CPUs and memory nodes: copy them down from the root.
			if err := copyCpuset(parent, c.dirs[ctrl]); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyCpuset fills cpuset.cpus and cpuset.mems from the root down to dir.
func copyCpuset(parent, dir string) error {
	root := filepath.Join(cgroupRoot, "cpuset")
	for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		value, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return err
		}
		for _, d := range []string{parent, dir} {
			if err := writeFile(filepath.Join(d, file), strings.TrimSpace(string(value))); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply writes each setting into the container's cgroup, narrating it.
func (c *cgroup) apply(want []setting) error {
	// lab:cut step05 write each setting's value into its file in the container's cgroup (c.dir, writeFile); skip a swap file the kernel lacks
	for _, s := range want {
		path := filepath.Join(c.dir(s.controller), s.file)
		if _, err := os.Stat(path); os.IsNotExist(err) && strings.Contains(s.file, "sw") {
			host("%s does not exist: this kernel does not account swap; skipped", path)
			continue
		}
		host("%s = %s", path, s.value)
		if err := writeFile(path, s.value); err != nil {
			return err
		}
	}
	return nil
	// lab:end return nil
}

// dir is the directory of the container's cgroup for a controller.
func (c *cgroup) dir(controller string) string {
	if c.v2 {
		return c.dirs[""]
	}
	return c.dirs[controller]
}

// add moves a process (and so all it will start) into the cgroup.
func (c *cgroup) add(pid int) error {
	for _, dir := range c.dirs {
		host("%s/cgroup.procs = %d", dir, pid)
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// oomKilled reports whether the kernel's OOM killer killed a process in
// the cgroup: memory.events on v2, memory.oom_control on v1.
func (c *cgroup) oomKilled() bool {
	file := "memory.oom_control"
	if c.v2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(c.dir("memory"), file))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			host("%s: oom_kill %s", filepath.Join(c.dir("memory"), file), f[1])
			return true
		}
	}
	return false
}

// reportOOM tells the user when the OOM killer struck in the cgroup, as
// docker inspect's "OOMKilled" would: status 137 alone could be any kill -9.
func (c *cgroup) reportOOM(status int) {
	if !c.oomKilled() {
		return
	}
	if status == 128+int(unix.SIGKILL) {
		fmt.Fprintf(os.Stderr, "%s: the container was OOM killed: it used more memory than its limit (exit status %d)\n", stepName, status)
		return
	}
	fmt.Fprintf(os.Stderr, "%s: the OOM killer killed a process in the container (memory limit reached)\n", stepName)
}

// remove deletes the container's cgroup directories once their last
// process is gone, then the default parent if no other container uses it:
// a parent named with --cgroup-parent is the user's, and stays.
func (c *cgroup) remove() error {
	var firstErr error
	for ctrl, dir := range c.dirs {
		host("rmdir %s", dir)
		if err := removeCgroupDir(dir); err != nil && firstErr == nil {
			firstErr = err
		}
		parent := filepath.Join(cgroupRoot, ctrl, c.parent)
		if c.v2 {
			parent = filepath.Dir(dir)
		}
		if c.parent == defaultCgroupParent {
			_ = unix.Rmdir(parent) // fails while other containers use it, which is fine
		}
	}
	return firstErr
}

// removeCgroupDir removes one cgroup directory, waiting briefly for the
// processes of a container that has just died to be released.
func removeCgroupDir(dir string) error {
	var err error
	for try := 0; try < 100; try++ {
		if err = unix.Rmdir(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
		if err != unix.EBUSY {
			break
		}
		if try == 10 {
			killCgroupProcs(dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rmdir %s: %w", dir, err)
}

// killCgroupProcs SIGKILLs the processes still listed in a cgroup we made.
// A listed process may end, and its pid go to someone else's process,
// before the kill: so each pid is opened as a pidfd (pidfd_open(2)), which
// stays that one process's, and only those still listed when the list is
// read again are killed, through their pidfd.
func killCgroupProcs(dir string) {
	opened := map[int]int{}
	for _, pid := range cgroupProcs(dir) {
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			opened[pid] = fd
			defer unix.Close(fd)
		}
	}
	for _, pid := range cgroupProcs(dir) {
		if fd, ok := opened[pid]; ok {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
	}
}

// cgroupProcs lists the pids in a cgroup's cgroup.procs.
func cgroupProcs(dir string) []int {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// staleName matches the cgroups this program names after its host pid.
var staleName = regexp.MustCompile(`^step\d\d-(\d+)$`)

// removeStaleCgroups removes empty cgroups left by runs that were killed
// before they could clean up (their pid no longer exists).
func removeStaleCgroups(v2 bool, parent string) {
	pattern := filepath.Join(cgroupRoot, "*", parent, "step*")
	if v2 {
		pattern = filepath.Join(cgroupRoot, parent, "step*")
	}
	dirs, _ := filepath.Glob(pattern)
	for _, dir := range dirs {
		m := staleName.FindStringSubmatch(filepath.Base(dir))
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); os.IsNotExist(err) && unix.Rmdir(dir) == nil {
			host("removed %s, left behind by a run that was killed", dir)
		}
	}
}

// writeFile writes one value to an existing cgroup file; its error names
// both. It never creates a file: a missing one means a missing controller.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = f.WriteString(value)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}
