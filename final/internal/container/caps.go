//go:build linux

// Capabilities. Root inside a container is not the host's root because it
// lacks most capabilities: Docker keeps fourteen and drops the rest from
// every set, the bounding set too, so nothing executed later can regain
// them. capset(2) and PR_CAPBSET_DROP act on the calling thread only; the
// child side runs on the main thread (locked in main's init) and execve(2)s
// from it, so the process that runs the command has exactly these sets.

package container

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// capNumbers maps capability names to numbers, see capabilities(7).
var capNumbers = map[string]int{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
	"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME,
	"CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD,
	"CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP,
	"CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE, "CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN,
	"CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
	"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// CheckCapNames checks --cap-add and --cap-drop values ("NET_ADMIN",
// "CAP_NET_ADMIN" or "ALL") before anything is created.
func CheckCapNames(names []string) error {
	for _, n := range names {
		if strings.EqualFold(n, "ALL") {
			continue
		}
		if _, ok := capNumbers[canonicalCap(n)]; !ok {
			return fmt.Errorf("unknown capability %q: see capabilities(7) for the names", n)
		}
	}
	return nil
}

// canonicalCap spells a capability as CAP_NAME.
func canonicalCap(name string) string {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	return name
}

// CapSet is the capability set a container keeps: Docker's default, with
// --cap-add and --cap-drop applied; all of them when privileged.
func CapSet(add, drop []string, privileged bool) []string {
	keep := map[string]bool{}
	for _, c := range DefaultCaps {
		keep[c] = true
	}
	for _, c := range drop {
		if strings.EqualFold(c, "ALL") {
			keep = map[string]bool{}
		}
		delete(keep, canonicalCap(c))
	}
	for _, c := range add {
		if strings.EqualFold(c, "ALL") || privileged {
			for name := range capNumbers {
				keep[name] = true
			}
		}
		keep[canonicalCap(c)] = true
	}
	if privileged {
		for name := range capNumbers {
			keep[name] = true
		}
	}
	var out []string
	for c := range keep {
		if _, ok := capNumbers[c]; ok {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// available keeps the capabilities of list that this thread has in its
// bounding set: a host (or an outer container) may lack some, and capset
// refuses to grant what the caller does not have. It asks the kernel
// (PR_CAPBSET_READ), not /proc/self/status: exec calls it after joining
// the container's mount namespace, where /proc is the container's and
// has no "self" for a process of the host, and a set read as empty there
// gave exec no capability at all.
func available(list []string) ([]string, error) {
	var out []string
	for _, name := range list {
		has, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(capNumbers[name]), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			continue // a capability this kernel does not know
		}
		if err != nil {
			return nil, fmt.Errorf("prctl(PR_CAPBSET_READ, %s): %w", name, err)
		}
		if has == 1 {
			out = append(out, name)
		}
	}
	return out, nil
}

// lastCap is the highest capability number this kernel knows: the last
// one PR_CAPBSET_READ accepts (as /proc/sys/kernel/cap_last_cap says, but
// with no file to read, so it works in any mount namespace).
func lastCap() int {
	c := 0
	for {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c+1), 0, 0, 0); err != nil {
			return c
		}
		c++
	}
}

// threadCall makes a system call that changes only the calling thread's
// credentials (prctl, capset) on that thread, or with allThreads on every
// thread of the process: the tiny init of --init lives on with its Go
// runtime threads, which must not keep what its main thread dropped.
// syscall.AllThreadsSyscall6 needs a binary without cgo; one built with
// cgo (a plain "go run" where gcc is installed) confines the calling
// thread only, as docs/final.md says.
func threadCall(allThreads bool, trap, a1, a2, a3 uintptr) syscall.Errno {
	if allThreads {
		_, _, errno := syscall.AllThreadsSyscall6(trap, a1, a2, a3, 0, 0, 0)
		if errno != syscall.ENOTSUP {
			return errno
		}
	}
	_, _, errno := unix.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	return errno
}

// errnoErr is nil for errno 0, else errno.
func errnoErr(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// dropBounding removes every capability not in keep from the calling
// thread's bounding set (every thread's with allThreads), so no later
// execve can gain it back. It must run while the thread still has
// CAP_SETPCAP, before the uid changes.
func dropBounding(keep []string, allThreads bool) error {
	kept := map[int]bool{}
	for _, name := range keep {
		kept[capNumbers[name]] = true
	}
	last := lastCap()
	for c := 0; c <= last; c++ {
		if kept[c] {
			continue
		}
		if err := errnoErr(threadCall(allThreads, unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0)); err != nil && err != unix.EINVAL {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %d): %w", c, err)
		}
	}
	return nil
}

// setCaps sets the calling thread's (or every thread's) effective and
// permitted sets to keep, and clears the inheritable and ambient sets.
func setCaps(keep []string, allThreads bool) error {
	var data [2]unix.CapUserData
	for _, name := range keep {
		c := capNumbers[name]
		data[c/32].Effective |= 1 << (uint(c) % 32)
		data[c/32].Permitted |= 1 << (uint(c) % 32)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := errnoErr(threadCall(allThreads, unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := errnoErr(threadCall(allThreads, unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0)); err != nil && err != unix.EINVAL {
		return fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", err)
	}
	return nil
}

// CapSets are the five capability sets of a process, by name.
type CapSets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient []string
}

// CapSetsOf are an OCI process's sets, without the names this kernel
// does not know (as runc, which warns and goes on); none when c is nil.
func CapSetsOf(c *specs.LinuxCapabilities) CapSets {
	if c == nil {
		return CapSets{}
	}
	known := func(list []string) []string {
		var out []string
		for _, name := range list {
			if _, ok := capNumbers[name]; ok {
				out = append(out, name)
			}
		}
		out, _ = available(out) // what the host's bounding set lacks cannot be had (as CapSet)
		return out
	}
	return CapSets{known(c.Bounding), known(c.Effective), known(c.Permitted), known(c.Inheritable), known(c.Ambient)}
}

// setCapSets sets the calling thread's effective, permitted and
// inheritable sets, then raises the ambient ones; the bounding set was
// dropped before the uid changed, and PR_SET_KEEPCAPS kept the permitted
// set across that change.
func setCapSets(s CapSets) error {
	var data [2]unix.CapUserData
	for _, name := range s.Effective {
		data[capNumbers[name]/32].Effective |= 1 << (uint(capNumbers[name]) % 32)
	}
	for _, name := range s.Permitted {
		data[capNumbers[name]/32].Permitted |= 1 << (uint(capNumbers[name]) % 32)
	}
	for _, name := range s.Inheritable {
		data[capNumbers[name]/32].Inheritable |= 1 << (uint(capNumbers[name]) % 32)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for _, name := range s.Ambient {
		// The kernel raises only what is both permitted and inheritable
		// (capabilities(7)); runc's own default config lists ambient
		// capabilities with no inheritable set, and runc skips them too.
		if !slices.Contains(s.Inheritable, name) || !slices.Contains(s.Permitted, name) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(capNumbers[name]), 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %s): %w", name, err)
		}
	}
	return nil
}

// CapNames are the capability names minidocker knows, sorted.
func CapNames() []string {
	var out []string
	for name := range capNumbers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// KnownCap reports whether name ("CAP_NET_ADMIN") is a capability minidocker knows.
func KnownCap(name string) bool {
	_, ok := capNumbers[name]
	return ok
}
