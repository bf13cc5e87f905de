//go:build linux

// Unpacking layers. A layer tar may come from anyone (load, import), so
// unpacking it is the one place in the runtime where a file name is
// chosen by an attacker. The rule that keeps every write inside dir:
//
//   - a name with a ".." element is refused; a leading "/" is dropped,
//     as GNU tar does;
//   - the parent directory of every entry is opened with openat2(2) and
//     RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, which resolves the path as
//     if dir were "/": a symlink unpacked earlier ("evil -> /etc", or a
//     chain of them, or "../../..") can only lead somewhere below dir;
//   - the entry itself is then made relative to that parent's fd, never
//     through a symlink: unlinkat what was there, then mkdirat,
//     openat(O_CREAT|O_EXCL|O_NOFOLLOW), symlinkat, linkat, mknodat,
//     fchownat(AT_SYMLINK_NOFOLLOW), utimensat(AT_SYMLINK_NOFOLLOW);
//   - a hardlink's target is resolved the same way, inside dir;
//   - block and character devices are skipped (except the 0/0 whiteout):
//     the unpacked layer sits in a directory other users can traverse,
//     and a world-writable disk node there would be a hole in the host.
//     Containers get their /dev from the runtime, not from images.
//
// A parent that is missing is created (mode 0755), but never through a
// dangling symlink: that entry is refused.
//
// Whiteouts are applied in one of two ways (the OCI spec's
// "Whiteouts" section, and the overlay form written by naive tools, a
// 0/0 char device or the opaque xattr, is accepted as well):
//
//	ModeOverlay: ".wh.name" becomes a 0/0 char device "name" and
//	             ".wh..wh..opq" the xattr trusted.overlay.opaque=y, so the
//	             dir can be an overlay lower dir;
//	ModeFlatten: ".wh.name" removes name, ".wh..wh..opq" empties its dir
//	             of everything earlier layers put there, for a plain tree.
//
// A whiteout never hides what the same layer adds (image-spec/layer.md).
// Owners, modes including setuid bits, xattrs and mtimes are restored;
// directories' mtimes last, since adding their contents changes them.

package overlay

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Mode says what ApplyLayer makes of a layer's whiteouts.
type Mode int

// The two ways to apply a layer.
const (
	// ModeOverlay keeps whiteouts, in overlayfs's form, for a lower dir.
	ModeOverlay Mode = iota + 1
	// ModeFlatten carries out whiteouts on the tree below.
	ModeFlatten
	// modeCopy is docker cp's (ApplyCopy, copy.go): whiteout names are
	// plain names, and a directory and a non-directory never replace
	// each other.
	modeCopy
)

// ApplyLayer unpacks a layer tar (plain, gzip or bzip2) into dir and
// returns the number of bytes of file content written; its regular files
// may declare limit's bytes in all, holes included (sparse.go).
func ApplyLayer(r io.Reader, dir string, mode Mode, limit Limit) (int64, error) {
	if mode != ModeOverlay && mode != ModeFlatten {
		return 0, fmt.Errorf("apply layer to %s: unknown mode %d", dir, mode)
	}
	plain, err := Decompress(r)
	if err != nil {
		return 0, err
	}
	root, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(root)
	a := &applier{root: root, dir: dir, mode: mode, parentFd: -1, seen: map[string]bool{},
		chown: os.Geteuid() == 0, limit: limit, buf: make([]byte, copyBufferSize)}
	defer a.closeParent()
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a.size, a.finishDirs()
		}
		if err != nil {
			return a.size, fmt.Errorf("read layer for %s: %w", dir, err)
		}
		if err := a.entry(tr, hdr); err != nil {
			return a.size, fmt.Errorf("unpack %q into %s: %w", hdr.Name, dir, err)
		}
	}
}

// maxZstdWindow bounds the memory a zstd frame may make its decoder hold:
// 128 MiB, the window of `zstd --long`, the largest any packer uses.
const maxZstdWindow = 1 << 27

// Decompress returns r's contents uncompressed, recognising gzip, bzip2
// and zstd by their magic numbers; anything else is passed through.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		return z, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// One goroutine (the decoder then decodes in the caller's Read, and
		// leaves nothing running), and a bounded window: a frame may ask for
		// gigabytes of it, which would be allocated before a byte is read.
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return z, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, errors.New("xz-compressed data is not supported: decompress it first (xz -d)")
	}
	return br, nil
}

// dirTime is a directory whose mtime is set once its contents are in place.
type dirTime struct {
	rel          string
	atime, mtime time.Time
}

// applier is the state of one ApplyLayer.
type applier struct {
	root     int // fd of dir: the "/" every name resolves in
	dir      string
	mode     Mode
	parentFd int // the last parent opened, kept for the next entry
	parent   string
	seen     map[string]bool // paths this layer created, which its whiteouts must not hide
	dirs     []dirTime
	chown    bool
	owner    *Owner // every file's owner, instead of the tar's (ApplyCopy)
	size     int64
	limit    Limit // on declared
	declared int64 // the content regular entries declared, holes included
	buf      []byte
}

// cleanName turns a tar name into a path relative to dir ("" for dir
// itself), refusing ".." elements.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", errors.New(`name has a ".." element, which would climb out of the root`)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// entry applies one tar entry.
func (a *applier) entry(tr *tar.Reader, hdr *tar.Header) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		if a.mode == modeCopy {
			return nil // docker cp leaves the directory it copies into as it is
		}
		return a.rootDir(hdr)
	}
	parent, base := path.Dir(rel), path.Base(rel)
	switch {
	case a.mode == modeCopy:
	case base == opaqueMarker:
		return a.opaque(parent)
	case strings.HasPrefix(base, whiteoutPrefix):
		return a.whiteout(hdr, parent, strings.TrimPrefix(base, whiteoutPrefix))
	case hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0:
		return a.whiteout(hdr, parent, base)
	}
	if !creates(hdr.Typeflag) {
		return nil
	}
	if isFile(hdr.Typeflag) {
		if err := a.count(hdr); err != nil {
			return err
		}
	}
	pfd, err := a.openParent(parent)
	if err != nil {
		return err
	}
	if err := a.create(tr, hdr, pfd, rel, base); err != nil {
		return err
	}
	a.markSeen(rel)
	return nil
}

// creates reports whether ApplyLayer makes a file for an entry type;
// devices are skipped (see the file comment), as are types like GNU
// volume labels that carry nothing a container needs.
func creates(flag byte) bool {
	switch flag {
	case tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
		return true
	}
	return isFile(flag)
}

// isFile reports whether an entry type is a regular file with content:
// archive/tar leaves GNU's old sparse type ('S', what `tar --sparse`
// writes by default) as it is, but its Reader yields the file's content.
func isFile(flag byte) bool {
	return flag == tar.TypeReg || flag == tar.TypeGNUSparse
}

// create makes one file, directory, link or fifo in its parent.
func (a *applier) create(tr *tar.Reader, hdr *tar.Header, pfd int, rel, base string) error {
	keep, err := a.clear(pfd, base, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.mkdir(hdr, pfd, rel, base, keep)
	case tar.TypeReg, tar.TypeGNUSparse:
		return a.writeFile(tr, hdr, pfd, base)
	case tar.TypeLink:
		return a.link(hdr, pfd, base)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlinkat %s -> %s: %w", base, hdr.Linkname, err)
		}
	case tar.TypeFifo:
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fmt.Errorf("mknodat fifo %s: %w", base, err)
		}
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return fmt.Errorf("fchmodat %s: %w", base, err)
		}
	}
	return a.finishAt(hdr, pfd, base)
}

// clear makes room for a new entry: whatever has its name goes, except a
// directory that a directory entry only updates (keep is then true).
func (a *applier) clear(pfd int, base string, isDir bool) (keep bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fstatat %s: %w", base, err)
	}
	wasDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && wasDir {
		return true, nil
	}
	if a.mode == modeCopy && wasDir {
		return false, fmt.Errorf("cannot overwrite directory %q with non-directory", base)
	}
	if a.mode == modeCopy && isDir {
		return false, fmt.Errorf("cannot overwrite non-directory %q with directory", base)
	}
	return false, removeAllAt(pfd, base)
}

// rootDir applies the owner, mode and mtime of a "./" entry to dir itself.
func (a *applier) rootDir(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return errors.New("an entry for the root itself that is not a directory")
	}
	a.dirs = append(a.dirs, dirTime{"", hdr.AccessTime, hdr.ModTime})
	return a.finishFd(hdr, a.root, ".")
}

// mkdir makes (or keeps) a directory and sets its metadata.
func (a *applier) mkdir(hdr *tar.Header, pfd int, rel, base string, keep bool) error {
	if !keep {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("mkdirat %s: %w", base, err)
		}
	}
	fd, err := unix.Openat(pfd, base, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("openat %s: %w", base, err)
	}
	defer unix.Close(fd)
	a.dirs = append(a.dirs, dirTime{rel, hdr.AccessTime, hdr.ModTime})
	if err := a.finishFd(hdr, fd, base); err != nil {
		return err
	}
	if hdr.PAXRecords[paxXattr+trustedOpaque] == "y" || hdr.PAXRecords[paxXattr+userOpaque] == "y" {
		a.markSeen(rel)
		return a.opaque(rel)
	}
	return nil
}

// writeFile creates a regular file (never through a symlink: O_EXCL and
// O_NOFOLLOW after clear removed the old name) and fills it, with holes
// where the content is zeros (sparse.go).
func (a *applier) writeFile(tr io.Reader, hdr *tar.Header, pfd int, base string) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("openat %s: %w", base, err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	n, err := writeSparse(f, tr, a.buf)
	a.size += n
	if err != nil {
		return fmt.Errorf("write %s: %w", base, err)
	}
	if err := a.finishFd(hdr, fd, base); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", base, err)
	}
	return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)
}

// link makes a hardlink whose target is resolved inside dir.
func (a *applier) link(hdr *tar.Header, pfd int, base string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	if target == "" {
		return errors.New("hardlink to the root directory")
	}
	tfd, err := a.openDir(path.Dir(target))
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	if err := unix.Linkat(tfd, path.Base(target), pfd, base, 0); err != nil {
		return fmt.Errorf("linkat %s -> %s: %w", base, target, err)
	}
	return nil
}

// finishFd sets owner, mode and xattrs through an open fd. Owner goes
// first: chown(2) clears the setuid and setgid bits and file capabilities.
func (a *applier) finishFd(hdr *tar.Header, fd int, name string) error {
	if a.chown {
		uid, gid := a.ids(hdr)
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("fchown %s %d:%d: %w", name, uid, gid, err)
		}
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("fchmod %s: %w", name, err)
	}
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattr)
		if !ok || skipXattr(attr) {
			continue
		}
		if err := unix.Fsetxattr(fd, attr, []byte(value), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("fsetxattr %s %s: %w", name, attr, err)
		}
	}
	return nil
}

// finishAt sets owner, xattrs and times of a symlink or fifo by name in
// its parent, without following it. Hardlinks share their target's.
func (a *applier) finishAt(hdr *tar.Header, pfd int, base string) error {
	if hdr.Typeflag == tar.TypeLink {
		return nil
	}
	if a.chown {
		uid, gid := a.ids(hdr)
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("fchownat %s %d:%d: %w", base, uid, gid, err)
		}
	}
	// /proc/self/fd/N names the parent we hold; the L call does not follow base.
	at := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattr)
		if !ok || skipXattr(attr) {
			continue
		}
		if err := unix.Lsetxattr(at, attr, []byte(value), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("lsetxattr %s %s: %w", base, attr, err)
		}
	}
	return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)
}

// ids is the owner an entry gets: the tar's, or the one ApplyCopy was given.
func (a *applier) ids(hdr *tar.Header) (uid, gid int) {
	if a.owner != nil {
		return a.owner.UID, a.owner.GID
	}
	return hdr.Uid, hdr.Gid
}

// setTimes sets atime (mtime when the tar has none) and mtime of base in
// its parent, without following a symlink.
func setTimes(pfd int, base string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat %s: %w", base, err)
	}
	return nil
}

// markSeen records that this layer made rel (and so its parents).
func (a *applier) markSeen(rel string) {
	for rel != "." && rel != "" && !a.seen[rel] {
		a.seen[rel] = true
		rel = path.Dir(rel)
	}
}

// finishDirs sets directories' times, deepest last-made first.
func (a *applier) finishDirs() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		if d.rel == "" {
			if err := setTimes(a.root, ".", d.atime, d.mtime); err != nil {
				return err
			}
			continue
		}
		pfd, err := a.openDir(path.Dir(d.rel))
		if err != nil {
			return err
		}
		err = setTimes(pfd, path.Base(d.rel), d.atime, d.mtime)
		unix.Close(pfd)
		if err != nil {
			return err
		}
	}
	return nil
}
