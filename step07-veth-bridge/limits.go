//go:build linux

// Resource limits as Docker spells them on the command line, parsed and
// checked before anything is created. Docker's units and messages are kept,
// so that what a learner sees here is what "docker run" would say:
// sizes are "64m" or "1g" (powers of 1024), --cpus is a decimal number of
// CPUs, rates are per device, "/dev/sda:1mb".

package main

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// minimumMemory is the smallest -m that Docker accepts.
const minimumMemory = 6 << 20

// limitFlags are the resource flags as the user typed them.
type limitFlags struct {
	memory, memorySwap, cpusetCPUs, cgroupParent string
	cpuShares, pidsLimit                         int64
	cpus                                         float64
	readBps, writeBps, readIOPS, writeIOPS       []string
}

// limits are the checked values, in the units the kernel wants.
type limits struct {
	memory     int64 // bytes, 0 for no limit
	memorySwap int64 // memory plus swap in bytes, 0 when not given, -1 for unlimited
	cpuShares  int64 // relative weight, 0 when not given
	cpuQuota   int64 // microseconds of CPU time per cpuPeriod, 0 for no limit
	cpusetCPUs string
	pidsLimit  int64 // 0 for no limit
	devices    []deviceLimit
}

// cpuPeriod is the CFS period --cpus is measured against, in microseconds.
const cpuPeriod = 100000

// deviceLimit is one --device-{read,write}-{bps,iops} value.
type deviceLimit struct {
	major, minor uint32
	kind         string // "rbps", "wbps", "riops" or "wiops", as io.max names them
	value        uint64
}

// addLimitFlags defines the resource flags on fs.
func addLimitFlags(fs *pflag.FlagSet, f *limitFlags) {
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit, e.g. 64m")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit, e.g. 128m; -1 for unlimited swap")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares: relative weight against other cgroups (default 1024)")
	fs.Var((*cpusValue)(&f.cpus), "cpus", "number of CPUs, e.g. 1.5")
	fs.StringVar(&f.cpusetCPUs, "cpuset-cpus", "", "CPUs to run on, e.g. 0-1 or 0,2")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "maximum number of processes and threads")
	fs.StringArrayVar(&f.readBps, "device-read-bps", nil, "read rate limit, e.g. /dev/sda:1mb")
	fs.StringArrayVar(&f.writeBps, "device-write-bps", nil, "write rate limit, e.g. /dev/sda:1mb")
	fs.StringArrayVar(&f.readIOPS, "device-read-iops", nil, "read operations per second, e.g. /dev/sda:100")
	fs.StringArrayVar(&f.writeIOPS, "device-write-iops", nil, "write operations per second, e.g. /dev/sda:100")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", defaultCgroupParent, "absolute cgroup under which each container gets its own")
}

// cpusValue is --cpus, read as Docker reads it: a rational number ("1.5",
// "3/2"), with Docker's message for anything else rather than strconv's.
type cpusValue float64

// String prints the value for the flag's help.
func (v *cpusValue) String() string { return strconv.FormatFloat(float64(*v), 'f', -1, 64) }

// Set parses a number of CPUs.
func (v *cpusValue) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %s as a rational number", s)
	}
	f, _ := r.Float64()
	*v = cpusValue(f)
	return nil
}

// Type names the flag's value in the help.
func (v *cpusValue) Type() string { return "decimal" }

// parseLimits checks every resource flag and converts it, with Docker's messages.
func parseLimits(f limitFlags) (limits, error) {
	var l limits
	var err error
	if l.memory, err = parseSize("--memory", f.memory); err != nil {
		return l, err
	}
	if l.memory != 0 && l.memory < minimumMemory {
		return l, fmt.Errorf("Minimum memory limit allowed is 6MB")
	}
	if err := parseSwap(&l, f.memorySwap); err != nil {
		return l, err
	}
	if f.cpuShares != 0 && (f.cpuShares < 2 || f.cpuShares > 262144) {
		return l, fmt.Errorf("--cpu-shares %d: shares range from 2 to 262144", f.cpuShares)
	}
	l.cpuShares = f.cpuShares
	if n := runtime.NumCPU(); f.cpus != 0 && (f.cpus < 0.01 || f.cpus > float64(n)) {
		return l, fmt.Errorf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	l.cpuQuota = int64(math.Round(f.cpus * cpuPeriod))
	if err := checkCPUs(f.cpusetCPUs); err != nil {
		return l, err
	}
	l.cpusetCPUs = f.cpusetCPUs
	if f.pidsLimit < 0 {
		f.pidsLimit = 0 // Docker reads -1 as unlimited too
	}
	l.pidsLimit = f.pidsLimit
	if err := checkCgroupParent(f.cgroupParent); err != nil {
		return l, err
	}
	l.devices, err = parseDeviceLimits(f)
	return l, err
}

// defaultCgroupParent is the parent unless --cgroup-parent names another;
// it is the only parent a run removes once it is empty (cgroups.go).
const defaultCgroupParent = "/minidocker"

// checkCgroupParent refuses a parent that is not a tree of its own: a
// relative path, "/" (the root cgroup holds every process on the host),
// or one with ".." or "." (it could climb out of the cgroup filesystem).
func checkCgroupParent(parent string) error {
	switch {
	case !strings.HasPrefix(parent, "/"):
		return fmt.Errorf("--cgroup-parent %q: must be an absolute cgroup path, like /minidocker", parent)
	case strings.Trim(parent, "/") == "":
		return fmt.Errorf("--cgroup-parent %q: the root cgroup holds every process on the host: name a cgroup of its own, like /minidocker", parent)
	case filepath.Clean(parent) != parent || strings.Contains(parent, "/."):
		return fmt.Errorf("--cgroup-parent %q: write the cgroup's path plainly, without \"..\" or \".\", like /minidocker", parent)
	}
	return nil
}

// parseSwap checks --memory-swap against --memory.
func parseSwap(l *limits, value string) error {
	if value == "" || value == "0" {
		return nil // Docker reads 0 as "not given"
	}
	if l.memory == 0 {
		return fmt.Errorf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if value == "-1" {
		l.memorySwap = -1
		return nil
	}
	swap, err := parseSize("--memory-swap", value)
	if err != nil {
		return err
	}
	if swap < l.memory {
		return fmt.Errorf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	l.memorySwap = swap
	return nil
}

// parseSize reads "64m", "1g", "512k", "100" (bytes), as Docker does.
func parseSize(flag, value string) (int64, error) {
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
	if err != nil || n < 0 {
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
		if err1 != nil || err2 != nil || first > last || first < 0 {
			return nil, fmt.Errorf("invalid cpu list %q", list)
		}
		for cpu := first; cpu <= last; cpu++ {
			set[cpu] = true
		}
	}
	return set, nil
}

// parseDeviceLimits reads every --device-*-{bps,iops} flag.
func parseDeviceLimits(f limitFlags) ([]deviceLimit, error) {
	var all []deviceLimit
	for _, group := range []struct {
		flag, kind string
		values     []string
	}{
		{"--device-read-bps", "rbps", f.readBps}, {"--device-write-bps", "wbps", f.writeBps},
		{"--device-read-iops", "riops", f.readIOPS}, {"--device-write-iops", "wiops", f.writeIOPS},
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
func parseDeviceLimit(flag, kind, value string) (deviceLimit, error) {
	path, rate, ok := strings.Cut(value, ":")
	if !ok {
		return deviceLimit{}, fmt.Errorf("invalid value %q for %s: want DEVICE:RATE, e.g. /dev/sda:1mb", value, flag)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return deviceLimit{}, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return deviceLimit{}, fmt.Errorf("%s %s: %s is not a block device", flag, value, path)
	}
	d := deviceLimit{major: unix.Major(st.Rdev), minor: unix.Minor(st.Rdev), kind: kind}
	var n int64
	var err error
	if strings.HasSuffix(kind, "bps") {
		n, err = parseSize(flag, rate)
	} else if n, err = strconv.ParseInt(rate, 10, 64); err != nil {
		err = fmt.Errorf("invalid value %q for %s: the rate must be a whole number of operations", value, flag)
	}
	if err == nil && n <= 0 {
		err = fmt.Errorf("invalid value %q for %s: the rate must be positive", value, flag)
	}
	d.value = uint64(n)
	return d, err
}
