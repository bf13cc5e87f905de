//go:build linux

// Package rootfs builds the inside of a container's mount namespace: the
// union root, /proc, /sys, /dev, the masked and read-only paths, volumes,
// and finally pivot_root into it. Every function here runs on the
// container side, after clone(2), except BuildFromHost, which makes the
// default image. Steps 02, 03, 04 and 06 are the teaching versions.
//
// Every mount goes through one wrapper, Mount, whose error names source,
// target, type, flags and data. Targets inside the container's root are
// resolved with openat2(2)'s RESOLVE_IN_ROOT and mounted through
// /proc/self/fd, so a symlink in an image cannot point a mount at the
// host's files (the lesson of runc's CVE-2021-30465).
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// flagNames spells the mount(2) flags this package uses, for errors.
var flagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"}, {unix.MS_REC, "MS_REC"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"},
}

// Mount calls mount(2) and names every argument in its error.
func Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (type %q, flags %s, data %q): %w",
			source, target, fstype, flagString(flags), data, err)
	}
	return nil
}

// flagString spells mount flags by their kernel names, e.g. MS_REC|MS_PRIVATE.
func flagString(flags uintptr) string {
	var names []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// Missing says what OpenInRoot makes of a path that does not exist.
type Missing int

const (
	// MakeNothing fails with ENOENT.
	MakeNothing Missing = iota
	// MakeDirs makes the path and its missing parents as directories
	// (mode 0755), as mkdir -p would.
	MakeDirs
	// MakeFile makes the missing parents as directories and the path
	// itself as an empty file (a mount point for a file).
	MakeFile
)

// OpenInRoot opens path inside root as if root were "/", so symlinks and
// ".." cannot lead out of it; the caller closes the file. missing says
// what to make of a path that does not exist yet.
func OpenInRoot(root, path string, missing Missing) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rootFd)
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	rel := strings.TrimLeft(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(rootFd, rel, &how)
	if errors.Is(err, unix.ENOENT) && missing != MakeNothing {
		if err = makeInRoot(rootFd, rel, missing == MakeFile); err == nil {
			fd, err = unix.Openat2(rootFd, rel, &how)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s inside %s: %w", path, root, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// makeInRoot makes what is missing of rel under rootFd: its directories,
// and the last component as a file when file is set. As mkdir -p would
// inside a chroot, a symlink on the way is followed, and the directories
// it names are made too, always inside the root (openat2 resolves every
// path as if rootFd were /).
func makeInRoot(rootFd int, rel string, file bool) error {
	parent, name := filepath.Dir(rel), filepath.Base(rel)
	if err := mkdirInRoot(rootFd, parent, 0); err != nil {
		return err
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	parentFd, err := unix.Openat2(rootFd, parent, &how)
	if err != nil {
		return fmt.Errorf("open %s: %w", parent, err)
	}
	defer unix.Close(parentFd)
	if !file {
		return mkdirInRoot(rootFd, rel, 0)
	}
	fd, err := unix.Openat(parentFd, name, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("make %s: %w", rel, err)
	}
	return unix.Close(fd)
}

// maxLinks is how many symlinks mkdirInRoot follows, as the kernel's ELOOP limit.
const maxLinks = 40

// mkdirInRoot makes the directory rel inside the root and its missing
// parents; a dangling symlink on the way is replaced by the directory it
// names, made inside the root.
func mkdirInRoot(rootFd int, rel string, links int) error {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if fd, err := unix.Openat2(rootFd, rel, &how); err == nil {
		return unix.Close(fd)
	} else if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	parent, name := filepath.Dir(rel), filepath.Base(rel)
	if err := mkdirInRoot(rootFd, parent, links); err != nil {
		return err
	}
	parentFd, err := unix.Openat2(rootFd, parent, &how)
	if err != nil {
		return fmt.Errorf("open %s: %w", parent, err)
	}
	defer unix.Close(parentFd)
	err = unix.Mkdirat(parentFd, name, 0o755)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	// name exists but rel did not resolve: a symlink to a missing directory.
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(parentFd, name, buf)
	if err != nil || links >= maxLinks {
		return fmt.Errorf("make %s: %s exists and is not a directory", rel, name)
	}
	target := string(buf[:n])
	if !filepath.IsAbs(target) {
		target = filepath.Join("/", parent, target)
	}
	return mkdirInRoot(rootFd, strings.TrimLeft(filepath.Clean(target), "/"), links+1)
}

// Bind says how BindInRoot mounts.
type Bind struct {
	Recursive bool    // MS_REC: the mounts below source come along (a volume), or not (one file)
	Extra     uintptr // MS_RDONLY, MS_NODEV, …: applied by a remount, the only way a bind mount takes them
}

// BindInRoot bind-mounts source onto path inside root, resolved safely,
// making the mount point (a file for a file, a directory otherwise).
func BindInRoot(source, root, path string, how Bind) error {
	info, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("bind %s: %w", source, err)
	}
	point := MakeDirs
	if !info.IsDir() {
		point = MakeFile
	}
	target, err := OpenInRoot(root, path, point)
	if err != nil {
		return err
	}
	defer target.Close()
	proc := fmt.Sprintf("/proc/self/fd/%d", target.Fd())
	flags := uintptr(unix.MS_BIND)
	if how.Recursive {
		flags |= unix.MS_REC
	}
	if err := Mount(source, proc, "", flags, ""); err != nil {
		return fmt.Errorf("%w (target %s)", err, path)
	}
	if how.Extra == 0 {
		return nil
	}
	// The remount must name the new mount, not the directory under it that
	// target holds: open the path again, inside the root again (a path
	// joined on the host would follow the image's symlinks there).
	mounted, err := OpenInRoot(root, path, MakeNothing)
	if err != nil {
		return err
	}
	defer mounted.Close()
	if err := Remount(fmt.Sprintf("/proc/self/fd/%d", mounted.Fd()), how.Extra); err != nil {
		return fmt.Errorf("%w (target %s)", err, path)
	}
	return nil
}

// Remount adds flags to the bind mount at target, keeping the flags the
// kernel locked on it (nosuid, nodev, noexec of the source), which a
// remount may not drop.
func Remount(target string, extra uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", target, err)
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	return Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|locked|extra, "")
}
