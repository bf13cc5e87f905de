//go:build linux

// Copying into and out of a container (`docker cp`), inside a root that
// is not ours: the container's "/" as the kernel shows it to the
// container (/proc/PID/root) or its layers mounted. Every path a user
// names is resolved with openat2(2) and RESOLVE_IN_ROOT, so that a
// symlink the container made ("/escape -> /../../etc", or "/etc" meant
// for the host) resolves inside the container, as it would for the
// container's own processes; RESOLVE_NO_MAGICLINKS refuses /proc's links,
// which lead anywhere. Below that, the tree is walked by file
// descriptors: each entry is opened relative to its parent with
// O_NOFOLLOW, so a symlink is archived as a symlink and never followed,
// whatever the container swaps in meanwhile. Into a container, ApplyCopy
// unpacks with the layer code (apply.go) and its rules, in a directory
// that is the root of the unpack: no tar entry, whatever its name or the
// symlinks before it, can write outside that directory.

package overlay

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PathStat is what the Engine API says of a path in a container (the
// X-Docker-Container-Path-Stat header, base64 JSON): Mode is a Go
// fs.FileMode, LinkTarget the symlink's target when it is one.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       fs.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// IsDir reports whether the path is a directory.
func (s PathStat) IsDir() bool { return s.Mode.IsDir() }

// OpenIn opens p inside the root rootFd as O_PATH, resolving it as if
// rootFd were "/"; with follow, a final symlink is followed (inside the
// root too), else the symlink itself is opened.
func OpenIn(rootFd int, p string, follow bool) (int, error) {
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(rootFd, p, &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // a rename raced with the lookup
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2 (RESOLVE_IN_ROOT)", Path: p, Err: err}
		}
		return fd, nil
	}
}

// StatIn describes p inside the root, without following a final symlink.
func StatIn(rootFd int, p string) (PathStat, error) {
	fd, err := OpenIn(rootFd, p, false)
	if err != nil {
		return PathStat{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return PathStat{}, fmt.Errorf("fstat %s: %w", p, err)
	}
	out := PathStat{Name: path.Base(path.Clean("/" + p)), Size: st.Size, Mode: fileMode(&st), Mtime: time.Unix(st.Mtim.Unix())}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, err := readlinkFd(fd)
		if err != nil {
			return PathStat{}, fmt.Errorf("readlink %s: %w", p, err)
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(path.Clean("/"+p)), target)
		}
		out.LinkTarget = target
	}
	return out, nil
}

// readlinkFd reads the target of the symlink an O_PATH fd holds.
func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fileMode turns a stat mode into Go's fs.FileMode, as Docker's stat does.
func fileMode(st *unix.Stat_t) fs.FileMode {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ArchiveName is the name docker cp gives the top of an archive of p:
// its last element, or "." for "DIR/." (the contents of DIR).
func ArchiveName(p string) string {
	if p == "." || strings.HasSuffix(p, "/.") {
		return "."
	}
	return path.Base(path.Clean("/" + p))
}

// WriteCopy writes p (inside the root rootFd) to w as a tar whose top
// entry is called name; with follow, a final symlink is followed (inside
// the root). Nothing below p is ever reached through a symlink.
func WriteCopy(w io.Writer, rootFd int, p, name string, follow bool) error {
	fd, err := OpenIn(rootFd, p, follow)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	bw := bufio.NewWriterSize(w, 256<<10)
	t := &tarWriter{tw: tar.NewWriter(bw), links: map[fileID]string{}, buf: make([]byte, copyBufferSize)}
	// The O_PATH fd names the entry; its parent is not needed: "" with
	// AT_EMPTY_PATH stands for the fd itself.
	if err := t.addAt(fd, "", name); err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("tar %s: %w", p, err)
	}
	return bw.Flush()
}

// addAt writes the entry base of the directory dirFd ("" for dirFd
// itself) as rel, and what is below it.
func (t *tarWriter) addAt(dirFd int, base, rel string) error {
	var st unix.Stat_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if base == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Fstatat(dirFd, base, &st, flags); err != nil {
		return fmt.Errorf("fstatat %s: %w", rel, err)
	}
	// The /proc/self/fd path reaches the entry through the fd we hold;
	// header's readlink and xattr calls do not follow its last element.
	at := fmt.Sprintf("/proc/self/fd/%d", dirFd)
	if base != "" {
		at += "/" + base
	}
	hdr, err := t.header(at, rel, &st)
	if err != nil || hdr == nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header for %s: %w", rel, err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return t.copyAt(dirFd, base, rel, hdr.Size)
	case tar.TypeDir:
		return t.addChildren(dirFd, base, rel)
	}
	return nil
}

// reopen opens the entry base of dirFd for reading, never through a
// symlink; for base "" it reopens the O_PATH fd dirFd itself.
func reopen(dirFd int, base string, flags int) (int, error) {
	if base == "" {
		return unix.Open(fmt.Sprintf("/proc/self/fd/%d", dirFd), flags|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	return unix.Openat(dirFd, base, flags|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// copyAt appends exactly size bytes of the regular file base to the tar.
func (t *tarWriter) copyAt(dirFd int, base, rel string, size int64) error {
	fd, err := reopen(dirFd, base, unix.O_NONBLOCK)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	n, err := io.CopyBuffer(struct{ io.Writer }{t.tw}, struct{ io.Reader }{io.LimitReader(f, size)}, t.buf)
	if err != nil {
		return fmt.Errorf("tar %s: %w", rel, err)
	}
	if n != size {
		return fmt.Errorf("tar %s: the file shrank from %d to %d bytes while being archived", rel, size, n)
	}
	return nil
}

// addChildren writes the entries of the directory base, in name order.
func (t *tarWriter) addChildren(dirFd int, base, rel string) error {
	fd, err := reopen(dirFd, base, unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open %s: %w", rel, err)
	}
	defer unix.Close(fd)
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("list %s: %w", rel, err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := t.addAt(fd, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

// Owner is the uid and gid every file ApplyCopy makes gets.
type Owner struct{ UID, GID int }

// ApplyCopy unpacks a docker cp tar into the directory dirFd (an fd of
// any kind, O_PATH too), which is the root of the unpack: entries are
// made below it by the layer rules (apply.go), whiteout names are plain
// names, and a directory never replaces a file nor a file a directory
// (Docker's noOverwriteDirNonDir). With owner, every file gets that
// owner (docker cp without -a: the container's root); without, the tar's.
// Its regular files may declare at most the free space of dir's
// filesystem, holes included (sparse.go): what they would take written
// out, as Docker's copy would write them.
func ApplyCopy(r io.Reader, dirFd int, dir string, owner *Owner) (int64, error) {
	plain, err := Decompress(r)
	if err != nil {
		return 0, err
	}
	root, err := unix.Openat(dirFd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(root)
	free, err := freeSpace(root, dir)
	if err != nil {
		return 0, err
	}
	a := &applier{root: root, dir: dir, mode: modeCopy, parentFd: -1, seen: map[string]bool{},
		chown: os.Geteuid() == 0, owner: owner, buf: make([]byte, copyBufferSize),
		limit: Limit{Bytes: free, Why: fmt.Sprintf("the %d bytes free on the filesystem of %s", free, dir)}}
	defer a.closeParent()
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a.size, a.finishDirs()
		}
		if err != nil {
			return a.size, fmt.Errorf("read archive for %s: %w", dir, err)
		}
		if err := a.entry(tr, hdr); err != nil {
			return a.size, fmt.Errorf("copy %q into %s: %w", hdr.Name, dir, err)
		}
	}
}
