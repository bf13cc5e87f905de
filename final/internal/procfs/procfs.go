//go:build linux

// Package procfs reads what the kernel tells about processes and mounts
// in /proc, see proc(5). It is the one place that parses /proc/PID/stat
// and mountinfo, so the whole runtime agrees on what they say: above all,
// on when a process counts as alive.
//
// A pid alone does not name a process: once it has ended, the kernel may
// give its pid to a new one. A pid with the start time it had (clock ticks
// since boot, field 22 of /proc/PID/stat) does, for as long as the machine
// runs; the records of containers, monitors and address leases keep both.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stat is what the runtime needs of /proc/PID/stat.
type Stat struct {
	State byte   // field 3: R running, S sleeping, Z zombie, X dead, ...
	Start uint64 // field 22: start time, clock ticks since boot
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	data, err := os.ReadFile(path)
	if err != nil {
		return Stat{}, fmt.Errorf("read %s: %w", path, err)
	}
	// The command name (field 2), in parentheses, may hold spaces and
	// parentheses of its own: count the fields from after its last ")".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("parse %s: no command name", path)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 || len(fields[0]) != 1 {
		return Stat{}, fmt.Errorf("parse %s: too few fields", path)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("parse %s: start time: %w", path, err)
	}
	return Stat{State: fields[0][0], Start: start}, nil
}

// ended reports whether a state letter is that of a process that has
// ended: a zombie (Z: dead, waiting for its parent to reap it) or one
// being torn down (X). A monitor killed with SIGKILL stays a zombie until
// init reaps it, which may take a while; it will never act again.
func ended(state byte) bool {
	return state == 'Z' || state == 'X'
}

// StartTime is a process's start time, or 0 when it does not exist.
func StartTime(pid int) uint64 {
	st, err := ReadStat(pid)
	if err != nil {
		return 0
	}
	return st.Start
}

// Alive reports whether pid still is the process that started at start
// and has not ended (zombies count as ended).
func Alive(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	st, err := ReadStat(pid)
	return err == nil && st.Start == start && !ended(st.State)
}

// Ended reports whether the process pid, whatever its start time, has
// ended: it does not exist, or it is a zombie. For owners recorded by pid
// alone, such as the names of work in progress.
func Ended(pid int) bool {
	st, err := ReadStat(pid)
	if err != nil {
		// No /proc entry: gone, unless /proc shows another pid namespace.
		return errors.Is(unix.Kill(pid, 0), unix.ESRCH)
	}
	return ended(st.State)
}

// Descendants lists pid and every process below it, as the host numbers
// them, from the parents in /proc/PID/stat. For the first process of a
// PID namespace that is the namespace's processes (orphans are given to
// it). It is how a rootless container without a cgroup is listed: a
// sibling user namespace may read /proc/PID/stat, but not the
// /proc/PID/ns links, which need ptrace access.
func Descendants(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, err := parentOf(p); err == nil {
			children[parent] = append(children[parent], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// parentOf reads field 4 of /proc/PID/stat.
func parentOf(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 2 {
		return 0, fmt.Errorf("parse /proc/%d/stat: too few fields", pid)
	}
	return strconv.Atoi(fields[1])
}
