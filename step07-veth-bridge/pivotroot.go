//go:build linux

// pivot_root: swap the root of the whole mount namespace, not just of one
// process. chroot (step 03) only changes how one process resolves "/"; the
// old root stays mounted and reachable with "..". pivot_root(2) moves the
// old root away from "/", and once it is unmounted there is nothing above
// the new root left to climb to.
//
// pivot_root(".", ".") is the trick from the man page: called from inside
// the new root, it stacks the old root on top of it at "/", and
// umount2(".", MNT_DETACH) then peels the old root off.
//
// It cannot work when "/" is the initramfs rootfs, which can never be
// unmounted; there we fall back to moving the rootfs over "/" and chroot,
// as switch_root(8) does, and say so.

package main

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// pivotRoot makes rootfs the root of this mount namespace and detaches the old one.
func pivotRoot(rootfs string) error {
	// lab:cut step04 pivot_root into rootfs, detach the old root, chdir to /; on EINVAL say why (rootIsInitramfs, rootIsShared help)
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	container("pivot_root(\".\", \".\") in %s: the new root goes to /, the old root on top of it", rootfs)
	err := unix.PivotRoot(".", ".")
	if errors.Is(err, unix.EINVAL) && rootIsInitramfs() {
		return moveRootAndChroot(rootfs)
	}
	if errors.Is(err, unix.EINVAL) && rootIsShared() {
		return fmt.Errorf("pivot_root %s: %w: / is shared, and pivot_root will not move mounts out of a shared mount; make / private first (MS_REC|MS_PRIVATE, see mount_namespaces(7))", rootfs, err)
	}
	if err != nil {
		return fmt.Errorf("pivot_root %s: %w: the new root must be a mount point, not the current root, with put_old beneath it (see pivot_root(2))", rootfs, err)
	}
	container("umount2(\".\", MNT_DETACH): the old root is gone from this mount namespace")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount the old root: %w", err)
	}
	return unix.Chdir("/")
	// lab:end return fmt.Errorf("pivot_root into %s: not written yet (lab)", rootfs)
}

// rootIsInitramfs reports whether "/" is the kernel's initial rootfs.
func rootIsInitramfs() bool {
	table, _ := mountTable()
	return len(table) > 0 && table[0].fstype == "rootfs"
}

// rootIsShared reports whether "/" in this mount namespace propagates to peers.
func rootIsShared() bool {
	table, _ := mountTable()
	shared := false
	for _, m := range table {
		if m.target == "/" {
			shared = strings.Contains(m.optional, "shared:")
		}
	}
	return shared
}

// moveRootAndChroot is the fallback where pivot_root cannot work: mount the
// rootfs over "/" and chroot into it. Weaker: the old root stays beneath.
func moveRootAndChroot(rootfs string) error {
	container("pivot_root is impossible: / is the initramfs rootfs, which can never be unmounted")
	if err := mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	container("chroot(\".\"); chdir(\"/\") instead, as switch_root(8) does")
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	return unix.Chdir("/")
}
