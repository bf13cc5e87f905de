//go:build linux

// Cgroups for a rootless minidocker. An ordinary user may make and limit
// cgroups only in a subtree delegated to them: on cgroup v2, a directory
// whose cgroup.procs, cgroup.subtree_control and cgroup.threads are the
// user's (systemd's Delegate=yes, as user@.service has). Moving a process
// also needs write access to the cgroup.procs of the common ancestor of
// where it is and where it goes (cgroup-v2.rst, "Delegation
// Containment"), so a container's cgroup is made next to the cgroup
// minidocker runs in: under the same delegated parent. cgroup v1 has no
// safe delegation, so there, as without one, a rootless container gets no
// cgroup, and a limit flag is refused.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OwnParent is the parent of the v2 cgroup this process runs in, where a
// rootless minidocker puts its containers' cgroups; DefaultParent on v1,
// or when this process runs in a top-level cgroup.
func OwnParent() string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil || !IsV2() {
		return DefaultParent
	}
	for _, line := range strings.Split(string(data), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			if parent := filepath.Dir(path); parent != "/" && filepath.IsAbs(parent) {
				return parent
			}
		}
	}
	return DefaultParent
}

// CheckDelegated says why a rootless user cannot make cgroups under
// parent, or nil if they can.
func CheckDelegated(parent string) error {
	if !IsV2() {
		return fmt.Errorf("this host runs cgroup v1, which cannot be delegated to a user (boot with systemd.unified_cgroup_hierarchy=1 for v2)")
	}
	if err := CheckParent(parent); err != nil {
		return fmt.Errorf("cgroup parent %q: %w", parent, err)
	}
	dir := filepath.Join(Root, parent)
	for _, file := range []string{"", "cgroup.procs", "cgroup.subtree_control"} {
		if err := unix.Access(filepath.Join(dir, file), unix.W_OK); err != nil {
			return fmt.Errorf("%s is not delegated to you (%s: %w): run minidocker in a delegated cgroup (systemd-run --user --scope -p Delegate=yes minidocker ...) or name one of yours with --cgroup-parent", dir, filepath.Join(dir, file), err)
		}
	}
	return nil
}

// None is the cgroup of a rootless container without limits: none.
type None struct{}

// Version is that of the host.
func (None) Version() int {
	if IsV2() {
		return 2
	}
	return 1
}

// Paths is empty.
func (None) Paths() []string { return nil }

// Apply does nothing: the container stays in minidocker's own cgroup.
func (None) Apply(int) error { return nil }

// OOMKilled is false: without a limit, no cgroup's OOM killer.
func (None) OOMKilled() bool { return false }

// Stats has nothing to read.
func (None) Stats() (Stats, error) {
	return Stats{}, fmt.Errorf("a rootless container without limits has no cgroup to read")
}

// Pids is unknown.
func (None) Pids() ([]int, error) { return nil, nil }

// Destroy has nothing to remove.
func (None) Destroy() error { return nil }

// Freeze cannot freeze what has no cgroup.
func (None) Freeze(bool) error {
	return errors.New("a rootless container without limits has no cgroup to freeze")
}

// Frozen is false: nothing to freeze.
func (None) Frozen() bool { return false }
