//go:build linux

// cleanup: remove every trace of minidocker and of the steps from this
// host: containers (their monitors and processes), cgroups, mounts, the
// bridge, veths and NAT rules of this network namespace, the steps'
// temporary directories, and the state directory. Safe to run twice; each
// line it prints is one thing it removed.

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/state"
)

// cleanupCommand is the cleanup verb.
var cleanupCommand = &command{
	name: "cleanup", usage: "cleanup", short: "Remove every container, image, mount, cgroup and network of minidocker",
	setup: func(fs *pflag.FlagSet) func(*env, []string) error {
		return func(e *env, args []string) error { return runCleanup(e) }
	},
}

// runCleanup removes everything, in the order that lets each part go:
// processes first (they hold cgroups and mounts), then mounts, cgroups,
// network, files.
func runCleanup(e *env) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("cleanup needs root (try: sudo minidocker cleanup)")
	}
	killMonitors(e.root)
	if err := cgroups.Cleanup(e.cgroupParent); err != nil {
		fmt.Fprintln(os.Stderr, "minidocker: cgroups:", err)
	}
	unmountUnder(append([]string{e.root}, stepTempDirs()...))
	if err := network.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "minidocker: network:", err)
	}
	dirs := append(stepTempDirs(), staleNetState()...)
	if e.defaultRoot {
		dirs = append(dirs, step08Root)
	}
	for _, dir := range append(dirs, e.root) {
		if _, err := os.Lstat(dir); err == nil {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			fmt.Println("removed", dir)
		}
	}
	_ = os.Remove(netStateDir) // only if empty: others' namespaces may still use it
	return nil
}

// killMonitors SIGKILLs the monitors the records name, while each pid is
// still the process that started as the monitor.
func killMonitors(root string) {
	st := &state.Store{Root: root}
	list, _, _ := st.List()
	for _, c := range list {
		if state.Alive(c.Minidocker.MonitorPid, c.Minidocker.MonitorStartTime) {
			_ = unix.Kill(c.Minidocker.MonitorPid, unix.SIGKILL)
			fmt.Println("killed the monitor of container", c.Name)
		}
	}
}

// step08Root is step08's default state directory.
const step08Root = "/var/lib/minidocker-step08"

// netStateDir holds the network leases of step07, step08 and minidocker,
// one directory per network namespace: net-<inode of the namespace>.
const netStateDir = "/run/minidocker"

// staleNetState lists the lease directories of network namespaces that no
// longer exist (no process is in them any more): a run killed with
// SIGKILL leaves its directory behind, and its namespace took the bridge
// and the veths with it. The directory of a namespace still in use is
// network.Cleanup's, run from inside that namespace.
func staleNetState() []string {
	inUse := map[string]bool{}
	links, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/ns/net")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil {
			inUse[strings.TrimSuffix(strings.TrimPrefix(target, "net:["), "]")] = true
		}
	}
	var out []string
	dirs, _ := filepath.Glob(filepath.Join(netStateDir, "net-*"))
	for _, d := range dirs {
		if !inUse[strings.TrimPrefix(filepath.Base(d), "net-")] {
			out = append(out, d)
		}
	}
	return out
}

// stepTempDirs are the directories the steps make in $TMPDIR.
func stepTempDirs() []string {
	var out []string
	for _, pattern := range []string{"minidocker-rootfs-*", "minidocker-container-*", "minidocker-etc-*"} {
		found, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
		out = append(out, found...)
	}
	return out
}

// unmountUnder detaches every mount at or below the given directories,
// deepest first.
func unmountUnder(dirs []string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var targets []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		for _, d := range dirs {
			if fields[4] == d || strings.HasPrefix(fields[4], d+"/") {
				targets = append(targets, fields[4])
			}
		}
	}
	f.Close()
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	for _, t := range targets {
		if unix.Unmount(t, unix.MNT_DETACH) == nil {
			fmt.Println("unmounted", t)
		}
	}
}
