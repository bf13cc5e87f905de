//go:build linux

// /dev. The host's /dev holds every disk of the machine. A container gets
// a tmpfs with only the devices Docker allows, each bind-mounted from the
// host's /dev rather than made with mknod, so that the tmpfs itself can be
// nodev: a node that root inside makes there later (CAP_MKNOD is in
// Docker's default set) cannot be opened. The cgroup's device rules
// (cgroups/devices: v1's files, v2's eBPF program) say the same a second
// time, and hold where nodev does not: a filesystem the container mounts.

package rootfs

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Devices are the nodes a container's /dev gets (Docker's default list).
var Devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks point the usual names at /proc and devpts.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
}

// MountDev mounts the container's /dev inside root. A privileged
// container gets a devtmpfs instead: every device of the host, as Docker's
// --privileged gives.
func MountDev(root string, privileged bool) error {
	dev := filepath.Join(root, "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return err
	}
	if privileged {
		if err := Mount("devtmpfs", dev, "devtmpfs", unix.MS_NOSUID, "mode=755"); err != nil {
			return err
		}
	} else if err := mountMinimalDev(dev); err != nil {
		return err
	}
	for _, dir := range []string{"pts", "shm", "mqueue"} {
		if err := os.MkdirAll(filepath.Join(dev, dir), 0o755); err != nil {
			return err
		}
	}
	if err := Mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"); err != nil {
		return err
	}
	if err := Mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	return Mount("mqueue", dev+"/mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// mountMinimalDev mounts a nodev tmpfs on dev with the allowed devices
// bound into it from the host's /dev, and the usual symlinks.
func mountMinimalDev(dev string) error {
	if err := Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, name := range Devices {
		path := filepath.Join(dev, name)
		if err := os.WriteFile(path, nil, 0o666); err != nil {
			return fmt.Errorf("make mount point %s: %w", path, err)
		}
		if err := Mount("/dev/"+name, path, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if l[0] == "core" {
			continue // only the privileged get /proc/kcore
		}
		if err := os.Symlink(l[1], filepath.Join(dev, l[0])); err != nil {
			return err
		}
	}
	return nil
}
