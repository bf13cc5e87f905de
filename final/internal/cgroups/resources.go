//go:build linux

// Resource limits as Docker spells them on the command line, checked before
// anything is created and with Docker's own messages: sizes are "64m" or
// "1g" (powers of 1024), --cpus is a decimal number of CPUs, device rates
// are "/dev/sda:1mb". The same Resources become different files on v1 and
// v2 (settingsV1, settingsV2), so a flag means the same on both.

package cgroups

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
)

// MinimumMemory is the smallest -m that Docker accepts.
const MinimumMemory = 6 << 20

// cpuPeriod is the CFS period --cpus is measured against, in microseconds.
const cpuPeriod = 100000

// Flags are the resource flags as the user typed them.
type Flags struct {
	Memory, MemorySwap, CpusetCPUs         string
	CPUShares, PidsLimit                   int64
	CPUs                                   float64
	ReadBps, WriteBps, ReadIOPS, WriteIOPS []string
}

// Resources are the checked limits, in the units the kernel wants. The JSON
// names are those of Docker's HostConfig.
type Resources struct {
	Memory     int64         `json:"Memory"`     // bytes, 0 for no limit
	MemorySwap int64         `json:"MemorySwap"` // memory plus swap, 0 not given, -1 unlimited
	CPUShares  int64         `json:"CpuShares"`
	NanoCPUs   int64         `json:"NanoCpus"` // --cpus times 1e9
	CpusetCPUs string        `json:"CpusetCpus"`
	PidsLimit  int64         `json:"PidsLimit"`
	Devices    []DeviceLimit `json:"BlkioDeviceLimits,omitempty"`
	// Files are values written as they are, after the limits above, for
	// what an OCI config sets that Docker's flags do not; each names the
	// files of the host's version (the caller asks IsV2).
	Files []File `json:"-"`
	// DeviceRules, when not nil, are the devices the container may make
	// and open (see the devices package); nil leaves the device
	// controller as the parent has it. New sets Docker's default list.
	DeviceRules []devices.Rule `json:"-"`
	// Freezable asks for a directory in v1's freezer hierarchy too, when
	// it is mounted, for pause and resume (v2 can always freeze).
	Freezable bool `json:"-"`
}

// File is one value for one cgroup file: Controller "memory", Name
// "memory.swappiness". On v2, Controller is what must be enabled for it.
type File struct {
	Controller, Name, Value string
}

// DeviceLimit is one --device-{read,write}-{bps,iops} value.
type DeviceLimit struct {
	Path         string
	Major, Minor uint32
	Kind         string // "rbps", "wbps", "riops" or "wiops", as io.max names them
	Value        uint64
}

// IsZero reports whether r sets no limit at all.
func (r Resources) IsZero() bool {
	return r.Memory == 0 && r.MemorySwap == 0 && r.CPUShares == 0 && r.NanoCPUs == 0 && r.CpusetCPUs == "" &&
		r.PidsLimit == 0 && len(r.Devices) == 0 && len(r.Files) == 0
}

// cpuQuota is the microseconds of CPU per period that NanoCPUs allow.
func (r Resources) cpuQuota() int64 {
	return int64(math.Round(float64(r.NanoCPUs) / 1e9 * cpuPeriod))
}

// Parse checks every resource flag and converts it, with Docker's messages.
func Parse(f Flags) (Resources, error) {
	var r Resources
	var err error
	if r.Memory, err = ParseSize("--memory", f.Memory); err != nil {
		return r, err
	}
	if r.Memory != 0 && r.Memory < MinimumMemory {
		return r, fmt.Errorf("Minimum memory limit allowed is 6MB")
	}
	if err := parseSwap(&r, f.MemorySwap); err != nil {
		return r, err
	}
	if f.CPUShares != 0 && (f.CPUShares < 2 || f.CPUShares > 262144) {
		return r, fmt.Errorf("--cpu-shares %d: shares range from 2 to 262144", f.CPUShares)
	}
	r.CPUShares = f.CPUShares
	if n := runtime.NumCPU(); f.CPUs != 0 && (f.CPUs < 0.01 || f.CPUs > float64(n)) {
		return r, fmt.Errorf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	r.NanoCPUs = int64(math.Round(f.CPUs * 1e9))
	if err := checkCPUs(f.CpusetCPUs); err != nil {
		return r, err
	}
	r.CpusetCPUs = f.CpusetCPUs
	r.PidsLimit = max(f.PidsLimit, 0) // Docker reads -1 as unlimited too
	r.Devices, err = parseDeviceLimits(f)
	return r, err
}

// parseSwap checks --memory-swap against --memory.
func parseSwap(r *Resources, value string) error {
	if value == "" || value == "0" {
		return nil // Docker reads 0 as "not given"
	}
	if r.Memory == 0 {
		return fmt.Errorf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if value == "-1" {
		r.MemorySwap = -1
		return nil
	}
	swap, err := ParseSize("--memory-swap", value)
	if err != nil {
		return err
	}
	if swap < r.Memory {
		return fmt.Errorf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	r.MemorySwap = swap
	return nil
}

// ParseSize reads "64m", "1g", "512k", "100" (bytes), as Docker does.
func ParseSize(flag, value string) (int64, error) {
	if value == "" {
		return 0, nil
	}
	s := strings.TrimSuffix(strings.ToLower(value), "b")
	multiplier := int64(1)
	if i := strings.IndexAny(s, "kmgt"); i >= 0 && i == len(s)-1 {
		multiplier = map[byte]int64{'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}[s[i]]
		s = s[:i]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || n*float64(multiplier) > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size: '%s' for %s (use a number and b, k, m, g or t)", value, flag)
	}
	return int64(n * float64(multiplier)), nil
}

// checkCPUs checks that every CPU in a cpuset list like "0-1,3" is online.
func checkCPUs(list string) error {
	if list == "" {
		return nil
	}
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return err
	}
	online := strings.TrimSpace(string(data))
	onlineSet, _ := cpuSet(online)
	wanted, err := cpuSet(list)
	if err != nil {
		return fmt.Errorf("invalid value %s for cpuset cpus", list)
	}
	for cpu := range wanted {
		if !onlineSet[cpu] {
			return fmt.Errorf("Requested CPUs are not available - requested %s, available: %s", list, online)
		}
	}
	return nil
}

// cpuSet expands a list like "0-2,4" into a set of CPU numbers.
func cpuSet(list string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		first, err1 := strconv.Atoi(lo)
		last, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || first > last || first < 0 || last > 4096 {
			return nil, fmt.Errorf("invalid cpu list %q", list)
		}
		for cpu := first; cpu <= last; cpu++ {
			set[cpu] = true
		}
	}
	return set, nil
}

// parseDeviceLimits reads every --device-*-{bps,iops} flag.
func parseDeviceLimits(f Flags) ([]DeviceLimit, error) {
	var all []DeviceLimit
	for _, group := range []struct {
		flag, kind string
		values     []string
	}{
		{"--device-read-bps", "rbps", f.ReadBps}, {"--device-write-bps", "wbps", f.WriteBps},
		{"--device-read-iops", "riops", f.ReadIOPS}, {"--device-write-iops", "wiops", f.WriteIOPS},
	} {
		for _, value := range group.values {
			d, err := parseDeviceLimit(group.flag, group.kind, value)
			if err != nil {
				return nil, err
			}
			all = append(all, d)
		}
	}
	return all, nil
}

// parseDeviceLimit reads "/dev/sda:1mb" (a rate) or "/dev/sda:100" (iops).
func parseDeviceLimit(flag, kind, value string) (DeviceLimit, error) {
	path, rate, ok := strings.Cut(value, ":")
	if !ok {
		return DeviceLimit{}, fmt.Errorf("invalid value %q for %s: want DEVICE:RATE, e.g. /dev/sda:1mb", value, flag)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return DeviceLimit{}, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return DeviceLimit{}, fmt.Errorf("%s %s: %s is not a block device", flag, value, path)
	}
	d := DeviceLimit{Path: path, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), Kind: kind}
	var n int64
	var err error
	if strings.HasSuffix(kind, "bps") {
		n, err = ParseSize(flag, rate)
	} else if n, err = strconv.ParseInt(rate, 10, 64); err != nil {
		err = fmt.Errorf("invalid value %q for %s: the rate must be a whole number of operations", value, flag)
	}
	if err == nil && n <= 0 {
		err = fmt.Errorf("invalid value %q for %s: the rate must be positive", value, flag)
	}
	d.Value = uint64(n)
	return d, err
}

// setting is one value written to one cgroup file.
type setting struct {
	controller, file, value string
}

// settingsV1 are the limits as files of the v1 controllers.
func settingsV1(r Resources) []setting {
	var s []setting
	if r.Memory > 0 {
		swap := 2 * r.Memory // Docker's default for --memory alone: as much swap as memory
		if r.MemorySwap != 0 {
			swap = r.MemorySwap
		}
		s = append(s, setting{"memory", "memory.limit_in_bytes", itoa(r.Memory)},
			setting{"memory", "memory.memsw.limit_in_bytes", itoa(swap)})
	}
	if r.CPUShares > 0 {
		s = append(s, setting{"cpu", "cpu.shares", itoa(r.CPUShares)})
	}
	if q := r.cpuQuota(); q > 0 {
		s = append(s, setting{"cpu", "cpu.cfs_period_us", itoa(cpuPeriod)}, setting{"cpu", "cpu.cfs_quota_us", itoa(q)})
	}
	if r.CpusetCPUs != "" {
		s = append(s, setting{"cpuset", "cpuset.cpus", r.CpusetCPUs})
	}
	if r.PidsLimit > 0 {
		s = append(s, setting{"pids", "pids.max", itoa(r.PidsLimit)})
	}
	v1Files := map[string]string{"rbps": "read_bps", "wbps": "write_bps", "riops": "read_iops", "wiops": "write_iops"}
	for _, d := range r.Devices {
		s = append(s, setting{"blkio", "blkio.throttle." + v1Files[d.Kind] + "_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Value)})
	}
	return append(s, r.files()...)
}

// settingsV2 are the same limits in v2's files, with its conversions.
func settingsV2(r Resources) []setting {
	var s []setting
	if r.Memory > 0 {
		// v2 limits swap alone, not memory plus swap as v1 and Docker's flag do.
		swap := "max"
		if r.MemorySwap == 0 {
			swap = itoa(r.Memory)
		} else if r.MemorySwap > 0 {
			swap = itoa(r.MemorySwap - r.Memory)
		}
		s = append(s, setting{"memory", "memory.max", itoa(r.Memory)}, setting{"memory", "memory.swap.max", swap})
	}
	if r.CPUShares > 0 {
		// shares 2..262144 map linearly onto weight 1..10000 (as runc does).
		s = append(s, setting{"cpu", "cpu.weight", itoa(1 + (r.CPUShares-2)*9999/262142)})
	}
	if q := r.cpuQuota(); q > 0 {
		s = append(s, setting{"cpu", "cpu.max", fmt.Sprintf("%d %d", q, cpuPeriod)})
	}
	if r.CpusetCPUs != "" {
		s = append(s, setting{"cpuset", "cpuset.cpus", r.CpusetCPUs})
	}
	if r.PidsLimit > 0 {
		s = append(s, setting{"pids", "pids.max", itoa(r.PidsLimit)})
	}
	for _, d := range r.Devices {
		s = append(s, setting{"io", "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, d.Kind, d.Value)})
	}
	return append(s, r.files()...)
}

// files are the Files as settings.
func (r Resources) files() []setting {
	var s []setting
	for _, f := range r.Files {
		s = append(s, setting{f.Controller, f.Name, f.Value})
	}
	return s
}

// itoa formats an int64 in decimal.
func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
