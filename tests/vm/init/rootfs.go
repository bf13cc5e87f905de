//go:build linux

// rootfs.go — leave the initramfs for a tmpfs root, then mount the system.
//
// The kernel unpacks the initramfs into "rootfs", the first mount, which has
// no parent; pivot_root(2) fails with EINVAL on it, and the steps under test
// pivot_root. So, as switch_root(8) does: mount a tmpfs on /newroot, copy the
// tree into it, delete the initramfs copy (its memory would stay in use
// otherwise), move the tmpfs over / with MS_MOVE, and chroot into it. The new
// / is an ordinary mount with a parent, and pivot_root works below it.
//
// Only then are proc, sys, dev and the rest mounted, inside the new root.
// Finally / is made shared, recursively, as systemd does on every host: the
// steps must cope with a shared / (see mount_namespaces(7)).

package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// newRoot is where the tmpfs that becomes / is first mounted.
const newRoot = "/newroot"

// switchRoot copies the initramfs onto a tmpfs and makes that tmpfs /.
func switchRoot() error {
	unix.Umask(0)
	if err := os.Mkdir(newRoot, 0o755); err != nil {
		return err
	}
	if err := mount("tmpfs", newRoot, "tmpfs", 0, "mode=0755"); err != nil {
		return err
	}
	var rootStat unix.Stat_t
	if err := unix.Lstat("/", &rootStat); err != nil {
		return fmt.Errorf("lstat /: %w", err)
	}
	n, err := copyTree("/", newRoot, rootStat.Dev)
	if err != nil {
		return err
	}
	if err := emptyRootfs(rootStat.Dev); err != nil {
		return err
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	if err := mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", newRoot, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	logf("switched root to a tmpfs (%d entries copied)", n)
	return nil
}

// copyTree copies every entry under src that lives on device dev into dst,
// keeping types, modes and symlinks; it skips dst itself.
func copyTree(src, dst string, dev uint64) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == src {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", path, err)
		}
		if path == dst || st.Dev != dev {
			return fs.SkipDir // a mount point: not part of the initramfs
		}
		n++
		return copyEntry(path, filepath.Join(dst, path), &st)
	})
	return n, err
}

// copyEntry copies one directory, file, symlink or device node.
func copyEntry(from, to string, st *unix.Stat_t) error {
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdir(to, perm); err != nil {
			return fmt.Errorf("mkdir %s: %w", to, err)
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	case unix.S_IFREG:
		return copyFile(from, to, perm)
	case unix.S_IFCHR, unix.S_IFBLK:
		if err := unix.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", to, err)
		}
	default:
		logf("copy %s: skipped (file type %#o)", from, st.Mode&unix.S_IFMT)
		return nil
	}
	return unix.Chmod(to, perm) // mkdir and mknod clear the setuid and sticky bits
}

// copyFile copies one regular file's bytes and permission bits.
func copyFile(from, to string, perm uint32) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return unix.Chmod(to, perm)
}

// emptyRootfs deletes the initramfs's own entries, not crossing into mounts.
func emptyRootfs(dev uint64) error {
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	for _, e := range entries {
		var st unix.Stat_t
		path := "/" + e.Name()
		if err := unix.Lstat(path, &st); err != nil || st.Dev != dev || path == newRoot {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("free initramfs: %w", err)
		}
	}
	return nil
}

// systemMount is one file system that every Linux host has mounted.
type systemMount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// systemMounts are mounted in order; /tmp is a plain tmpfs, as a disk /tmp
// would be, because tests build root file systems with device nodes there.
var systemMounts = []systemMount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", 0, "mode=1777"},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "nsdelegate"},
}

// mountSystem mounts systemMounts, makes / shared and checks / is not rootfs.
func mountSystem() error {
	for _, m := range systemMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return err
		}
	}
	if err := mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
		return err
	}
	fstype, err := rootFSType("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if fstype == "rootfs" {
		return fmt.Errorf("/ is still rootfs: pivot_root would fail")
	}
	logf("/ is %s, shared; system file systems mounted", fstype)
	return nil
}

// rootFSType returns the file system type of the mount at / in mountinfo.
func rootFSType(mountinfo string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fstype := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "id parent major:minor root mountpoint options [optional...] - fstype source super"
		fields := strings.Fields(sc.Text())
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || len(fields) < 5 || strings.Fields(pre)[4] != "/" {
			continue
		}
		fstype = strings.Fields(post)[0] // the last mount on / is the visible one
	}
	if fstype == "" {
		return "", fmt.Errorf("no mount on / in %s", mountinfo)
	}
	return fstype, sc.Err()
}

// mount wraps mount(2) with an error that names every argument.
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (%s, flags %#x, %q): %w", source, target, fstype, flags, data, err)
	}
	return nil
}
