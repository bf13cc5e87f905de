//go:build linux

// cgroups: which version the host runs (the type of the filesystem at
// /sys/fs/cgroup), and whether the controllers the limits need can be had.
// On v2 a controller must be listed in the root's cgroup.controllers (a
// controller still bound to a v1 hierarchy is not) and be delegable
// through cgroup.subtree_control; on v1 each needs a mounted hierarchy.

package doctor

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// neededControllers are the controllers the resource flags use, on each version.
var neededControllers = map[bool][]string{
	true:  {"cpu", "cpuset", "io", "memory", "pids"},
	false: {"cpu", "cpuacct", "cpuset", "blkio", "memory", "pids"},
}

// checkCgroups reports the version and any controller that cannot be used.
func (s system) checkCgroups() Check {
	c := Check{Name: "cgroups"}
	typ, err := s.fsType(s.path("/sys/fs/cgroup"))
	switch {
	case err != nil:
		c.Detail = fmt.Sprintf("statfs /sys/fs/cgroup: %v", err)
		c.Fix = "mount the cgroup filesystem: sudo mount -t cgroup2 none /sys/fs/cgroup"
		return c
	case typ == unix.CGROUP2_SUPER_MAGIC:
		return s.checkCgroupV2()
	case typ == unix.TMPFS_MAGIC:
		return s.checkCgroupV1()
	}
	c.Detail = fmt.Sprintf("/sys/fs/cgroup is neither cgroup2 nor a tmpfs of v1 hierarchies (filesystem type %#x)", typ)
	c.Fix = "mount the cgroup filesystem: sudo mount -t cgroup2 none /sys/fs/cgroup"
	return c
}

// checkCgroupV2 checks that the needed controllers exist and can be delegated.
func (s system) checkCgroupV2() Check {
	c := Check{Name: "cgroups"}
	available, _ := s.read("/sys/fs/cgroup/cgroup.controllers")
	enabled, _ := s.read("/sys/fs/cgroup/cgroup.subtree_control")
	var missing, notEnabled []string
	for _, ctrl := range neededControllers[true] {
		switch {
		case !hasWord(available, ctrl):
			missing = append(missing, ctrl)
		case !hasWord(enabled, ctrl):
			notEnabled = append(notEnabled, ctrl)
		}
	}
	c.Detail = fmt.Sprintf("cgroup v2; cgroup.controllers: %q, cgroup.subtree_control: %q", available, enabled)
	if len(missing) > 0 {
		c.Detail += "; missing: " + strings.Join(missing, " ")
		c.Fix = "the missing controllers are bound to a cgroup v1 hierarchy or disabled at boot: boot with systemd.unified_cgroup_hierarchy=1 " +
			"and without cgroup_disable=/cgroup_no_v1= for them (GRUB_CMDLINE_LINUX in /etc/default/grub, then sudo update-grub and reboot)"
		return c
	}
	// Controllers not yet enabled are enabled by the runtime, which is
	// allowed in the root cgroup (it has no cgroup.type file) and in any
	// cgroup without processes of its own ("no internal processes").
	_, typeErr := os.Stat(s.path("/sys/fs/cgroup/cgroup.type"))
	procs, _ := s.read("/sys/fs/cgroup/cgroup.procs")
	if len(notEnabled) > 0 && typeErr == nil && procs != "" {
		c.Detail += "; /sys/fs/cgroup is not the root cgroup (inside a container?) and holds processes, so " +
			strings.Join(notEnabled, " ") + " cannot be enabled for children (EBUSY)"
		c.Fix = "move the processes into a child first: sudo sh -c 'mkdir -p /sys/fs/cgroup/init && for p in $(cat /sys/fs/cgroup/cgroup.procs); do echo $p > /sys/fs/cgroup/init/cgroup.procs; done; " +
			"echo \"+" + strings.Join(notEnabled, " +") + "\" > /sys/fs/cgroup/cgroup.subtree_control'"
		return c
	}
	c.OK = true
	return c
}

// checkCgroupV1 checks that each needed controller has a mounted hierarchy.
func (s system) checkCgroupV1() Check {
	c := Check{Name: "cgroups"}
	mounted := map[string]bool{}
	mounts, _ := procfs.Mountinfo(s.path("/proc/self/mountinfo"))
	for _, m := range mounts {
		if m.FSType != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(m.SuperOptions, ",") {
			mounted[opt] = true
		}
	}
	var missing []string
	for _, ctrl := range neededControllers[false] {
		if !mounted[ctrl] {
			missing = append(missing, ctrl)
		}
	}
	c.Detail = "cgroup v1 (one hierarchy per controller)"
	if len(missing) > 0 {
		c.Detail += "; no hierarchy mounted for: " + strings.Join(missing, " ")
		c.Fix = fmt.Sprintf("mount them, e.g. sudo mkdir -p /sys/fs/cgroup/%[1]s && sudo mount -t cgroup -o %[1]s cgroup /sys/fs/cgroup/%[1]s, "+
			"or boot with systemd.unified_cgroup_hierarchy=1 to use cgroup v2", missing[0])
		return c
	}
	c.OK = true
	c.Detail += "; controllers mounted: " + strings.Join(neededControllers[false], " ")
	return c
}

// statfsType is the filesystem type (f_type) of the filesystem holding path.
func statfsType(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}
