//go:build linux

// Package overlay mounts overlay filesystems and moves their contents in
// and out of layer tars.
//
// This file holds the mount itself and the check that comes before it.
// Overlayfs stacks read-only lower dirs under one writable upper dir and
// shows the union at the merged dir; the kernel needs a scratch work dir
// on the same filesystem as the upper dir. Not every filesystem can hold
// an upper dir: it must support whiteouts (0/0 character devices),
// trusted.* xattrs and RENAME_WHITEOUT, which network and shared-folder
// filesystems do not, and an overlay cannot be the upper of another
// overlay. CheckUpper recognises those by their statfs magic number
// (see statfs(2)) so that the user gets a fix instead of "invalid
// argument" from mount(2). See Documentation/filesystems/overlayfs.rst.
package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// UserXattr is set by a rootless minidocker (internal/rootless): its
// overlays are mounted inside a user namespace, where the trusted.*
// attributes overlay keeps its marks in need CAP_SYS_ADMIN in the host's
// namespace. With "userxattr" (Linux 5.11) overlay reads user.overlay.*
// instead, and layers are unpacked with those.
var UserXattr bool

// maxOptions is the size of the page the kernel copies mount options into;
// longer option strings are cut, so Mount refuses them.
const maxOptions = 4095

// Mount mounts an overlay at merged: lower dirs top first (overlay's
// lowerdir order), upper and work may both be empty for a read-only mount.
func Mount(lower []string, upper, work, merged string, flags uintptr) error {
	if len(lower) == 0 {
		return fmt.Errorf("mount overlay on %s: no lower dirs", merged)
	}
	opts := Options(lower, upper, work)
	if len(opts) > maxOptions {
		return fmt.Errorf("mount overlay on %s: options for %d lower dirs are %d bytes, more than the kernel's limit of %d: use a shorter state directory (--root)", merged, len(lower), len(opts), maxOptions)
	}
	if err := ClearVolatileMarker(upper, work); err != nil {
		return err
	}
	if err := unix.Mount("overlay", merged, "overlay", flags, opts); err != nil {
		return fmt.Errorf("mount overlay on %s (%s): %w", merged, opts, err)
	}
	return nil
}

// MountVolatile is Mount with overlay's "volatile" option (Linux 5.10):
// the kernel then never syncs the upper dir, neither on fsync inside nor
// at unmount. Unmounting a plain overlay syncs the whole filesystem that
// holds the upper dir (and waits for the disk to flush), which costs a
// short container more than everything else together
// (docs/benchmarks.md). Only for a writable layer that is thrown away
// when the container ends (--rm): its data need never reach the disk. A
// kernel without the option gets a plain mount; when that fails too,
// both errors are reported, since the first is usually the real one.
func MountVolatile(lower []string, upper, work, merged string, flags uintptr) error {
	opts := Options(lower, upper, work) + ",volatile"
	if len(opts) > maxOptions || len(lower) == 0 {
		return Mount(lower, upper, work, merged, flags)
	}
	if err := ClearVolatileMarker(upper, work); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, bootFile), []byte(bootID()), 0o600); err != nil {
		return fmt.Errorf("note the boot of the volatile mount of %s: %w", upper, err)
	}
	first := unix.Mount("overlay", merged, "overlay", flags, opts)
	if first == nil {
		return nil
	}
	// The kernel makes the volatile marker while it sets up the work dir,
	// before checks that can still fail: a failed volatile attempt can
	// leave it, and the plain mount would then fail on it (EINVAL).
	if err := Mount(lower, upper, work, merged, flags); err != nil {
		return fmt.Errorf("mount overlay on %s with volatile: %w; and without it: %w", merged, first, err)
	}
	return nil
}

// Options builds overlay's mount options; paths are escaped so that a ':'
// or ',' in them is not read as a separator.
func Options(lower []string, upper, work string) string {
	escaped := make([]string, len(lower))
	for i, dir := range lower {
		escaped[i] = escapePath(dir)
	}
	opts := "lowerdir=" + strings.Join(escaped, ":")
	if upper != "" {
		opts += ",upperdir=" + escapePath(upper) + ",workdir=" + escapePath(work)
	}
	if UserXattr {
		opts += ",userxattr"
	}
	return opts
}

// escapePath puts a backslash before the characters overlay's option
// parser splits on.
func escapePath(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
}

// unusableUpper names the filesystems, by statfs magic number, that
// overlay refuses or misbehaves on as an upper dir.
var unusableUpper = map[int64]string{
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.V9FS_MAGIC:            "9p (v9fs)",
	0x786f4256:                 "vboxsf (VirtualBox shared folder)",
	unix.CIFS_SUPER_MAGIC:      "cifs",
	unix.SMB2_SUPER_MAGIC:      "smb2",
	unix.SMB_SUPER_MAGIC:       "smb",
	unix.ECRYPTFS_SUPER_MAGIC:  "ecryptfs",
	0x61756673:                 "aufs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
}

// CheckUpper refuses dir as an upper (or work) dir when its filesystem
// cannot be one, and says where to put the state instead.
func CheckUpper(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if name, bad := unusableUpper[int64(st.Type)]; bad {
		return fmt.Errorf("%s is on %s, which overlayfs cannot use as its writable layer: set MINIDOCKER_ROOT (or --root) to a directory on ext4, xfs, btrfs or tmpfs", dir, name)
	}
	return nil
}
