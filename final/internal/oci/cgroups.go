//go:build linux

// A config's cgroup: where (linux.cgroupsPath) and what limits
// (linux.resources), mapped onto minidocker's cgroups.Manager. The
// runtime-spec's resources are v1's files by name; on v2 they are
// converted as runc converts them (shares to weight, quota and period to
// cpu.max, swap as memory plus swap).

package oci

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minidocker/minidocker/final/internal/cgroups"
)

// CgroupPath is the cgroup linux.cgroupsPath names. An absolute path is
// used as it is (cgroups.NewPath); a relative one, and none, go under
// minidocker's own parent (the spec leaves a relative path's base to the
// runtime).
func CgroupPath(cfg *specs.Spec, id string) (string, error) {
	path := cfg.Linux.CgroupsPath
	switch {
	case path == "":
		return filepath.Join(cgroups.DefaultParent, id), nil
	case strings.Contains(path, ":"):
		return "", fmt.Errorf("cgroupsPath %q is systemd's slice:prefix:name form: minidocker drives cgroupfs only; drop --systemd-cgroup (podman: --cgroup-manager=cgroupfs)", path)
	case !filepath.IsAbs(path):
		path = filepath.Join(cgroups.DefaultParent, path)
	}
	if clean := filepath.Clean(path); clean != path || clean == "/" || strings.Contains(cfg.Linux.CgroupsPath, "..") {
		return "", fmt.Errorf("cgroupsPath %q: give a clean path without \"..\", like /minidocker/box", cfg.Linux.CgroupsPath)
	}
	return path, nil
}

// Resources converts linux.resources to minidocker's cgroups.Resources.
func Resources(r *specs.LinuxResources) (cgroups.Resources, error) {
	var out cgroups.Resources
	if r == nil {
		return out, nil
	}
	v2 := cgroups.IsV2()
	add := func(ctrl, file, value string) {
		out.Files = append(out.Files, cgroups.File{Controller: ctrl, Name: file, Value: value})
	}
	memory(r.Memory, v2, add)
	cpu(r.CPU, v2, add)
	if r.Pids != nil && r.Pids.Limit != 0 {
		out.PidsLimit = max(r.Pids.Limit, 0)
		if r.Pids.Limit < 0 {
			add("pids", "pids.max", "max")
		}
	}
	blockIO(r.BlockIO, v2, add)
	for _, h := range r.HugepageLimits {
		file := "hugetlb." + h.Pagesize + ".limit_in_bytes"
		if v2 {
			file = "hugetlb." + h.Pagesize + ".max"
		}
		add("hugetlb", file, strconv.FormatUint(h.Limit, 10))
	}
	if n := r.Network; n != nil && !v2 {
		if n.ClassID != nil {
			add("net_cls", "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10))
		}
		for _, p := range n.Priorities {
			add("net_prio", "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority))
		}
	}
	if !v2 {
		devices(r.Devices, add)
	}
	return out, nil
}

// memory maps the memory limits.
func memory(m *specs.LinuxMemory, v2 bool, add func(ctrl, file, value string)) {
	if m == nil {
		return
	}
	set := func(v *int64, f1, f2 string) {
		if v != nil && *v != 0 {
			val := strconv.FormatInt(*v, 10)
			if *v == -1 && v2 {
				val = "max"
			}
			if v2 {
				add("memory", f2, val)
			} else {
				add("memory", f1, val)
			}
		}
	}
	set(m.Limit, "memory.limit_in_bytes", "memory.max")
	set(m.Reservation, "memory.soft_limit_in_bytes", "memory.low")
	if m.Swap != nil && *m.Swap != 0 {
		if v2 {
			swap := *m.Swap
			if swap > 0 && m.Limit != nil && *m.Limit > 0 {
				swap -= *m.Limit // v2 limits swap alone
			}
			add("memory", "memory.swap.max", strconv.FormatInt(swap, 10))
		} else {
			add("memory", "memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10))
		}
	}
	if m.Swappiness != nil && !v2 {
		add("memory", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10))
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller && !v2 {
		add("memory", "memory.oom_control", "1")
	}
}

// cpu maps the cpu and cpuset limits.
func cpu(c *specs.LinuxCPU, v2 bool, add func(ctrl, file, value string)) {
	if c == nil {
		return
	}
	if c.Shares != nil && *c.Shares != 0 {
		if v2 {
			add("cpu", "cpu.weight", strconv.FormatUint(1+(*c.Shares-2)*9999/262142, 10))
		} else {
			add("cpu", "cpu.shares", strconv.FormatUint(*c.Shares, 10))
		}
	}
	if v2 {
		if c.Quota != nil && *c.Quota != 0 {
			period := uint64(100000)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			quota := "max"
			if *c.Quota > 0 {
				quota = strconv.FormatInt(*c.Quota, 10)
			}
			add("cpu", "cpu.max", fmt.Sprintf("%s %d", quota, period))
		}
	} else {
		if c.Period != nil && *c.Period != 0 {
			add("cpu", "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		if c.Quota != nil && *c.Quota != 0 {
			add("cpu", "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10))
		}
		if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
			add("cpu", "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10))
		}
		if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
			add("cpu", "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10))
		}
	}
	if c.Cpus != "" {
		add("cpuset", "cpuset.cpus", c.Cpus)
	}
	if c.Mems != "" {
		add("cpuset", "cpuset.mems", c.Mems)
	}
}

// blockIO maps the weight and the throttles.
func blockIO(b *specs.LinuxBlockIO, v2 bool, add func(ctrl, file, value string)) {
	if b == nil {
		return
	}
	if b.Weight != nil && *b.Weight != 0 {
		if v2 {
			add("io", "io.bfq.weight", strconv.FormatUint(uint64(*b.Weight), 10))
		} else {
			add("blkio", "blkio.weight", strconv.FormatUint(uint64(*b.Weight), 10))
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 && !v2 {
		add("blkio", "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10))
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil && !v2 {
			add("blkio", "blkio.weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight))
		}
		if d.LeafWeight != nil && !v2 {
			add("blkio", "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.LeafWeight))
		}
	}
	throttles := []struct {
		list     []specs.LinuxThrottleDevice
		v1, kind string
	}{
		{b.ThrottleReadBpsDevice, "read_bps", "rbps"}, {b.ThrottleWriteBpsDevice, "write_bps", "wbps"},
		{b.ThrottleReadIOPSDevice, "read_iops", "riops"}, {b.ThrottleWriteIOPSDevice, "write_iops", "wiops"},
	}
	for _, t := range throttles {
		for _, d := range t.list {
			if v2 {
				add("io", "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, t.kind, d.Rate))
			} else {
				add("blkio", "blkio.throttle."+t.v1+"_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate))
			}
		}
	}
}

// devices maps the device rules to v1's devices.allow and devices.deny,
// in order, then cgroups.AllowedDevices. On v2 they would need an eBPF program; minidocker does not
// load one (docs/11-oci-runtime.md).
func devices(rules []specs.LinuxDeviceCgroup, add func(ctrl, file, value string)) {
	for _, d := range rules {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		kind := d.Type
		if kind == "" {
			kind = "a"
		}
		major, minor := "*", "*"
		if d.Major != nil && *d.Major >= 0 {
			major = strconv.FormatInt(*d.Major, 10)
		}
		if d.Minor != nil && *d.Minor >= 0 {
			minor = strconv.FormatInt(*d.Minor, 10)
		}
		access := d.Access
		if access == "" {
			access = "rwm"
		}
		add("devices", file, fmt.Sprintf("%s %s:%s %s", kind, major, minor, access))
	}
	// As runc does, the default devices (runtime-spec: "Default Devices")
	// and mknod of any node stay allowed whatever the config denies.
	for _, rule := range cgroups.AllowedDevices {
		add("devices", "devices.allow", rule)
	}
}
