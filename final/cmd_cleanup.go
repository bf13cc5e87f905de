//go:build linux

// cleanup: remove every trace of this state root's containers, and what
// killed steps left, from this host: the containers (their monitors and
// processes), their cgroups, mounts, network leases, the steps' temporary
// directories, and the state directory. Safe to run twice; each line it
// prints is one thing it removed.
//
// It touches only what is its own. Processes and cgroups: those the
// records of its own root name, each container's PARENT/ID (see the
// package comment of internal/cgroups); another root's containers under
// the same parent, and any cgroup that no record names, are never
// entered, killed or removed. The one exception is found by name: an
// empty stepNN-PID cgroup of a step that is gone, which only rmdir
// touches. Network: the leases whose owner is gone (our monitors, once
// killed, and killed steps); veths no lease names; the kept bridges and
// NAT tables no lease uses, with ip_forward; and what has no record at all,
// removed by name only when no lease is left in this network namespace
// (network.Cleanup). The steps'
// temporary directories: those no running container uses and no running
// step holds locked (stepdirs.go); a skipped one is named on stderr.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
)

// cleanupCommand is the cleanup verb.
var cleanupCommand = &command{
	name: "cleanup", usage: "cleanup", short: "Remove this root's containers, images, mounts, cgroups and network, and what killed steps left",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runCleanup(s) }
	},
}

// runCleanup removes everything of its root, in the order that lets each
// part go: processes first (they hold cgroups and mounts), then cgroups,
// mounts, network, files.
func runCleanup(s *session) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("cleanup needs root (try: sudo minidocker cleanup)")
	}
	rt := &container.Runtime{State: &state.Store{Root: s.root}, CgroupParent: s.cgroupParent, Rootless: s.rootless}
	list, _, corrupt, _ := rt.State.ListAll()
	killMonitors(list)
	removeCgroups(rt, list)
	removeCorruptContainers(rt, corrupt)
	if s.rootless {
		return cleanupRootless(s)
	}
	removed, err := cgroups.RemoveStepLeftovers(s.cgroupParent)
	printRemoved(removed, "cgroups", err)
	stepDirs := stepTempDirs()
	unmountUnder(append([]string{s.root}, stepDirs...))
	if err := network.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "minidocker: network:", err)
	}
	removed, err = network.RemoveStale()
	printRemoved(removed, "network", err)
	dirs := stepDirs
	if s.defaultRoot {
		dirs = append(dirs, step08Root)
	}
	for _, dir := range append(dirs, s.root) {
		if _, err := os.Lstat(dir); err == nil {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			fmt.Println("removed", dir)
		}
	}
	return nil
}

// cleanupRootless finishes a rootless cleanup: the user's state root and
// what killed monitors left in the runtime directory. The steps, the
// bridge and the host's cgroups are root's, and not looked at.
func cleanupRootless(s *session) error {
	if dir, err := rootless.RuntimeDir(); err == nil {
		sockets, _ := filepath.Glob(filepath.Join(dir, "slirp-*.sock"))
		for _, sock := range sockets {
			_ = os.Remove(sock)
		}
	}
	if _, err := os.Lstat(s.root); err == nil {
		if err := os.RemoveAll(s.root); err != nil {
			return err
		}
		fmt.Println("removed", s.root)
	}
	return nil
}

// printRemoved prints what a part of cleanup removed, and its error.
func printRemoved(removed []string, part string, err error) {
	for _, r := range removed {
		fmt.Println("removed", r)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "minidocker: %s: %v\n", part, err)
	}
}

// killMonitors SIGKILLs the monitors the records name, while each pid is
// still the process that started as the monitor (procfs.Find: checked
// through a pidfd, so the signal cannot reach a process given the pid
// since), and waits (up to 5 s in all) for them to end, so that their
// network leases are seen as free.
func killMonitors(list []*state.Container) {
	var killed []*procfs.Process
	for _, c := range list {
		p, err := procfs.Find(c.Minidocker.MonitorPid, c.Minidocker.MonitorStartTime)
		if err != nil {
			continue // ended already
		}
		if p.Signal(unix.SIGKILL) == nil {
			fmt.Println("killed the monitor of container", c.Name)
		}
		killed = append(killed, p)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range killed {
		p.Wait(time.Until(deadline))
		p.Close()
	}
}

// removeCgroups removes the cgroup each record names, killing what is
// left in it; nothing else under the parent is looked at.
func removeCgroups(rt *container.Runtime, list []*state.Container) {
	for _, c := range list {
		cg := rt.Cgroup(c)
		if !exists(cg.Paths()) {
			continue
		}
		if err := cg.Destroy(); err != nil {
			fmt.Fprintln(os.Stderr, "minidocker: cgroups:", err)
			continue
		}
		fmt.Println("removed the cgroup of container", c.Name)
	}
}

// removeCorruptContainers removes the containers whose record cannot be
// read, by what their id names (container/corrupt.go).
func removeCorruptContainers(rt *container.Runtime, corrupt []*state.CorruptError) {
	for _, bad := range corrupt {
		done, err := rt.RemoveCorrupt(bad.ID)
		for _, d := range done {
			fmt.Printf("container %s, whose record was unreadable: %s\n", state.Short(bad.ID), d)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "minidocker:", err)
		}
	}
}

// exists reports whether any of the paths exists.
func exists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// step08Root is step08's default state directory.
const step08Root = "/var/lib/minidocker-step08"

// unmountUnder detaches every mount at or below the given directories,
// deepest first.
func unmountUnder(dirs []string) {
	mounts, err := procfs.Mountinfo("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var targets []string
	for _, m := range mounts {
		for _, d := range dirs {
			if m.Point == d || strings.HasPrefix(m.Point, d+"/") {
				targets = append(targets, m.Point)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	for _, t := range targets {
		if unix.Unmount(t, unix.MNT_DETACH) == nil {
			fmt.Println("unmounted", t)
		}
	}
}
