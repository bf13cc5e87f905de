//go:build linux

// Writing trees as tars. A layer is a tar of what changed; overlayfs
// records a change in the upper dir, and the OCI image spec
// (image-spec/layer.md, "Whiteouts") says how a tar records a deletion:
//
//	overlay upper dir                          layer tar
//	char device 0/0 "name"              ->     empty regular file ".wh.name"
//	dir, trusted.overlay.opaque=y       ->     the dir, and ".wh..wh..opq" in it
//
// (user.overlay.opaque is the same mark on a "userxattr" mount.)
//
// The same tree must always give the same bytes, because a layer is
// named by its digest: entries are in lexical order, parents before
// children, carry numeric owners only (no user or group names), mtimes
// cut to whole seconds as Docker does, and no atime or ctime. A file with
// several links in the tree is stored once and then as tar hardlinks to
// that first name. Xattrs travel as PAX records SCHILY.xattr.NAME, except
// the overlay.* ones, which describe this host's mount, and
// security.selinux, which labels this host's files.

package overlay

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteout names and marks, as the OCI image spec and overlayfs write them.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	trustedOpaque  = "trusted.overlay.opaque"
	userOpaque     = "user.overlay.opaque"
	paxXattr       = "SCHILY.xattr."
)

// copyBufferSize is the chunk size for file contents: large reads keep a
// 100 MB commit to a few thousand system calls.
const copyBufferSize = 1 << 20

// WriteLayer tars an overlay upper dir as an OCI layer, turning whiteouts
// and opaque dirs into their tar form. lower are the layers below it, top
// first: with them, what start made only to mount over is left out.
func WriteLayer(w io.Writer, upperDir string, lower []string) error {
	return writeTar(w, upperDir, true, lower)
}

// WriteTree tars a directory as it is (for export and for a base image):
// no whiteout translation, same deterministic rules as WriteLayer.
func WriteTree(w io.Writer, dir string) error {
	return writeTar(w, dir, false, nil)
}

// fileID identifies an inode, to find hardlinks.
type fileID struct{ dev, ino uint64 }

// tarWriter is one walk of a tree into a tar.
type tarWriter struct {
	tw    *tar.Writer
	layer bool              // translate overlay whiteouts
	links map[fileID]string // first name of each inode with several links
	buf   []byte
}

// writeTar walks dir in lexical order and writes every entry below it
// (for a layer, less what MadeToMountOver names).
func writeTar(w io.Writer, dir string, layer bool, lower []string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	t := &tarWriter{tw: tar.NewWriter(bw), layer: layer, links: map[fileID]string{}, buf: make([]byte, copyBufferSize)}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", path, err)
		}
		if path == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if layer && MadeToMountOver(dir, lower, "/"+filepath.ToSlash(rel)) {
			if d.IsDir() {
				return fs.SkipDir // not the container's (changes.go)
			}
			return nil
		}
		return t.add(path, filepath.ToSlash(rel))
	})
	if err != nil {
		return err
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return bw.Flush()
}

// add writes one file of the tree (or its whiteout) to the tar.
func (t *tarWriter) add(path, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("lstat %s: %w", path, err)
	}
	if t.layer && isWhiteout(&st) {
		return t.marker(whiteoutName(rel), &st)
	}
	hdr, err := t.header(path, rel, &st)
	if err != nil || hdr == nil {
		return err
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header for %s: %w", path, err)
	}
	if hdr.Typeflag == tar.TypeDir && t.layer && isOpaque(path) {
		return t.marker(rel+"/"+opaqueMarker, &st)
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		return t.copyFile(path, hdr.Size)
	}
	return nil
}

// whiteoutName is the tar name that records the deletion of rel.
func whiteoutName(rel string) string {
	dir, base := filepath.Split(rel)
	return dir + whiteoutPrefix + base
}

// marker writes an empty regular file that stands for a whiteout or an
// opaque dir, with the owner, permissions and mtime of what it marks.
func (t *tarWriter) marker(name string, st *unix.Stat_t) error {
	hdr := &tar.Header{
		Name: name, Typeflag: tar.TypeReg, Mode: int64(st.Mode & 0o777),
		Uid: int(st.Uid), Gid: int(st.Gid), ModTime: mtime(st),
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header for %s: %w", name, err)
	}
	return nil
}

// header describes one file; it is nil for sockets, which tar cannot hold.
func (t *tarWriter) header(path, rel string, st *unix.Stat_t) (*tar.Header, error) {
	hdr := &tar.Header{
		Name: rel, Mode: int64(st.Mode & 0o7777),
		Uid: int(st.Uid), Gid: int(st.Gid), ModTime: mtime(st),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			id := fileID{uint64(st.Dev), st.Ino}
			if first, ok := t.links[id]; ok {
				return &tar.Header{Name: rel, Typeflag: tar.TypeLink, Linkname: first, Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime}, nil
			}
			t.links[id] = rel
		}
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", path, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	default:
		return nil, nil
	}
	xattrs, err := readXattrs(path)
	if err != nil {
		return nil, err
	}
	if len(xattrs) > 0 {
		hdr.PAXRecords = xattrs
	}
	return hdr, nil
}

// mtime is a file's modification time cut to whole seconds.
func mtime(st *unix.Stat_t) time.Time {
	return time.Unix(st.Mtim.Sec, 0)
}

// copyFile appends exactly size bytes of a regular file to the tar.
func (t *tarWriter) copyFile(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	// The anonymous structs hide ReadFrom/WriteTo, which would bypass our buffer.
	n, err := io.CopyBuffer(struct{ io.Writer }{t.tw}, struct{ io.Reader }{io.LimitReader(f, size)}, t.buf)
	if err != nil {
		return fmt.Errorf("tar %s: %w", path, err)
	}
	if n != size {
		return fmt.Errorf("tar %s: the file shrank from %d to %d bytes while being archived", path, size, n)
	}
	return nil
}

// isWhiteout reports whether a file is overlayfs's mark of a deletion.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isOpaque reports whether overlayfs marked a directory as hiding all below it.
func isOpaque(dir string) bool {
	for _, name := range []string{trustedOpaque, userOpaque} {
		value := make([]byte, 4)
		n, err := unix.Lgetxattr(dir, name, value)
		if err == nil && n == 1 && value[0] == 'y' {
			return true
		}
	}
	return false
}

// skipXattr reports whether an xattr belongs to this host rather than to
// the file: overlay's own marks and SELinux labels.
func skipXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") || name == "security.selinux"
}

// readXattrs returns a file's xattrs as PAX records.
func readXattrs(path string) (map[string]string, error) {
	size, err := unix.Llistxattr(path, nil)
	if errors.Is(err, unix.ENOTSUP) || size <= 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("llistxattr %s: %w", path, err)
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(path, list); err != nil {
		return nil, fmt.Errorf("llistxattr %s: %w", path, err)
	}
	records := map[string]string{}
	for _, name := range bytes.Split(list[:size], []byte{0}) {
		if len(name) == 0 || skipXattr(string(name)) {
			continue
		}
		value, err := getXattr(path, string(name))
		if err != nil {
			return nil, err
		}
		records[paxXattr+string(name)] = string(value)
	}
	return records, nil
}

// getXattr reads one xattr of a file without following a symlink.
func getXattr(path, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
	}
	value := make([]byte, size)
	if size, err = unix.Lgetxattr(path, name, value); err != nil {
		return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
	}
	return value[:size], nil
}
