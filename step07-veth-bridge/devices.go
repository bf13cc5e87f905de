//go:build linux

// A minimal /dev. The host's /dev holds every disk and device of the
// machine; a container gets a fresh tmpfs with only the harmless character
// devices that programs expect, a private devpts instance for terminals,
// and a tmpfs for POSIX shared memory. In a user namespace mknod(2) is not
// allowed, so each node is bind-mounted from the host's /dev instead, as
// rootless runtimes do.

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// deviceNode is one character device a container gets in /dev.
type deviceNode struct {
	name         string
	major, minor uint32
}

// deviceNodes are the devices of a minimal /dev, see devices.txt in the kernel docs.
var deviceNodes = []deviceNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// deviceLinks point the usual names at /proc and devpts.
var deviceLinks = map[string]string{
	"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
	"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
}

// mountDev mounts a minimal /dev inside rootfs.
func mountDev(rootfs string) error {
	dev := filepath.Join(rootfs, "dev")
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, node := range deviceNodes {
		if err := makeDevice(dev, node); err != nil {
			return err
		}
	}
	for _, dir := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, dir), 0o755); err != nil {
			return err
		}
	}
	if err := mount("devpts", dev+"/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mount("shm", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for name, target := range deviceLinks {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// makeDevice creates one device node, or bind-mounts the host's where
// mknod is refused (in a user namespace).
func makeDevice(dev string, node deviceNode) error {
	path := filepath.Join(dev, node.name)
	container("mknod(%q, S_IFCHR|0666, makedev(%d, %d))", path, node.major, node.minor)
	err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(node.major, node.minor)))
	if err == nil {
		return unix.Chmod(path, 0o666) // mknod's mode is filtered by the umask
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mknod %s: %w", path, err)
	}
	container("mknod refused (EPERM in a user namespace): bind the host's /dev/%s instead", node.name)
	if err := os.WriteFile(path, nil, 0o666); err != nil {
		return err
	}
	return mount("/dev/"+node.name, path, "", unix.MS_BIND, "")
}
