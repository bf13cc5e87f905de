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
	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
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
	out := cgroups.Resources{Freezable: true} // for pause and resume
	if r == nil {
		r = &specs.LinuxResources{} // no limits, but the default devices
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
	var err error
	out.DeviceRules, err = deviceRules(r.Devices)
	return out, err
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

// deviceRules is the config's device list as the cgroup takes it: from
// nothing allowed, the config's rules in order, then (as runc does) the
// runtime-spec's default devices and mknod of any node, whatever the
// config denied. The same list is written to v1's files and compiled into
// v2's program.
func deviceRules(rules []specs.LinuxDeviceCgroup) ([]devices.Rule, error) {
	out := []devices.Rule{devices.DenyAll}
	for _, d := range rules {
		r := devices.Rule{Allow: d.Allow, Type: 'a', Major: devices.Wildcard, Minor: devices.Wildcard, Access: d.Access}
		if len(d.Type) == 1 {
			r.Type = d.Type[0]
		} else if d.Type != "" {
			r.Type = 0 // refused by Check
		}
		if d.Major != nil && *d.Major >= 0 {
			r.Major = *d.Major
		}
		if d.Minor != nil && *d.Minor >= 0 {
			r.Minor = *d.Minor
		}
		if r.Access == "" {
			r.Access = "rwm"
		}
		if err := r.Check(); err != nil {
			return nil, fmt.Errorf("linux.resources.devices: %w", err)
		}
		out = append(out, r)
	}
	return append(out, devices.Default[1:]...), nil
}
