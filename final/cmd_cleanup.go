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
	for _, dir := range append(stepTempDirs(), e.root) {
		if _, err := os.Lstat(dir); err == nil {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			fmt.Println("removed", dir)
		}
	}
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

// stepTempDirs are the directories the steps make in $TMPDIR.
func stepTempDirs() []string {
	var out []string
	for _, pattern := range []string{"minidocker-rootfs-*", "minidocker-container-*"} {
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
