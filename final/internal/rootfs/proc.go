//go:build linux

// /proc and /sys, and the paths in them a container must not use. A fresh
// proc shows only the container's processes, but the files about the
// kernel are the host's: /proc/kcore is the host's memory, /proc/sysrq-
// trigger can reboot it, /proc/sys sets its kernel parameters. Docker masks
// the first kind (a /dev/null or an empty read-only tmpfs bound over them)
// and makes the second read-only; minidocker uses Docker's lists.

package rootfs

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MaskedPaths are hidden from a container (Docker's default list).
var MaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// ReadonlyPaths can be read but not written in a container (Docker's list).
var ReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// MountProcSys mounts a fresh /proc and a read-only /sys inside root.
// Without a network namespace of its own (--network host) sysfs cannot be
// mounted anew, so the host's is bound read-only instead.
func MountProcSys(root string, ownNetwork bool) error {
	for _, dir := range []string{"proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o555); err != nil {
			return err
		}
	}
	if err := Mount("proc", root+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	err := Mount("sysfs", root+"/sys", "sysfs", flags, "")
	if err != nil && !ownNetwork {
		if err = Mount("/sys", root+"/sys", "", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = Remount(root+"/sys", unix.MS_RDONLY)
		}
	}
	return err
}

// MaskPaths masks Docker's MaskedPaths inside root.
func MaskPaths(root string) error {
	return MaskList(root, MaskedPaths)
}

// MaskList binds /dev/null over each file of paths and an empty read-only
// tmpfs over each directory; paths the kernel lacks are skipped.
func MaskList(root string, paths []string) error {
	for _, path := range paths {
		target := filepath.Join(root, path)
		info, err := os.Stat(target)
		if err != nil {
			continue
		}
		if info.IsDir() {
			err = Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = Mount("/dev/null", target, "", unix.MS_BIND, "")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadonlyProcPaths makes Docker's ReadonlyPaths read-only inside root.
func ReadonlyProcPaths(root string) error {
	return ReadonlyList(root, ReadonlyPaths)
}

// ReadonlyList binds each of paths onto itself and remounts it read-only;
// paths that do not exist are skipped.
func ReadonlyList(root string, paths []string) error {
	for _, path := range paths {
		target := filepath.Join(root, path)
		if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if err := Remount(target, unix.MS_RDONLY); err != nil {
			return err
		}
	}
	return nil
}
