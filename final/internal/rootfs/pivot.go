//go:build linux

// pivot_root(".", ".") from inside the new root stacks the old root on top
// of it, and umount2(".", MNT_DETACH) peels the old root off: afterwards
// there is nothing above the container's root left to climb to (step04
// explains each EINVAL). Where "/" is the initramfs rootfs, which can never
// be unmounted, pivot_root cannot work: the rootfs is moved over "/" and
// chrooted into instead, as switch_root(8) and Docker do.

package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// PivotRoot makes root the root of this mount namespace and detaches the old one.
func PivotRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	err := unix.PivotRoot(".", ".")
	if errors.Is(err, unix.EINVAL) && rootIsInitramfs() {
		return MoveRoot(root)
	}
	if err != nil {
		return fmt.Errorf("pivot_root %s: %w (see pivot_root(2))", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount the old root: %w", err)
	}
	return unix.Chdir("/")
}

// rootIsInitramfs reports whether "/" is the kernel's initial rootfs.
func rootIsInitramfs() bool {
	mounts, err := procfs.Mountinfo("/proc/self/mountinfo")
	return err == nil && len(mounts) > 0 && mounts[0].FSType == "rootfs"
}

// MoveRoot moves the mount at root over "/" and chroots into it: what
// pivot_root does, except that the old root stays below, reachable to a
// process that can escape a chroot (`runc --no-pivot`; the initramfs case).
func MoveRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := Mount(root, "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	return unix.Chdir("/")
}
