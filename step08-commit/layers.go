//go:build linux

// Layers as files. A layer is a tar of a filesystem diff, named by the
// sha256 digest of its bytes, so that a layer two images share is stored
// once and anyone can check it. Overlayfs and tar speak of deletions
// differently, and this file translates (the OCI image spec's convention):
//
//	overlay upper dir                      layer tar
//	char device 0/0 "name"          <->    empty file ".wh.name"
//	dir with trusted.overlay.opaque=y <->  the dir, and ".wh..wh..opq" in it
//
// Each stored layer is also unpacked once, back into overlay form, to serve
// as a read-only lower dir.

package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteout names, as the OCI image spec writes them in a layer tar.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
)

// writeLayer tars the directory dir into w, turning overlay whiteouts and
// opaque dirs into their tar form. Entries are sorted and carry no user
// names or access times, so the same tree gives the same bytes.
func writeLayer(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		return writeEntry(tw, path, rel, info)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeEntry writes one file of the layer, or its whiteout.
func writeEntry(tw *tar.Writer, path, rel string, info fs.FileInfo) error {
	// lab:cut step08 a whiteout (isWhiteout) goes into the tar as an empty file named .wh.<name>
	if isWhiteout(info) {
		name := filepath.Join(filepath.Dir(rel), whiteoutPrefix+filepath.Base(rel))
		return tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX})
	}
	// lab:end
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
	hdr.AccessTime, hdr.ChangeTime, hdr.Format = time.Time{}, time.Time{}, tar.FormatPAX
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// lab:cut step08 an opaque directory (isOpaque) gets a .wh..wh..opq entry after its own
	if info.IsDir() && isOpaque(path) {
		return tw.WriteHeader(&tar.Header{Name: filepath.Join(rel, opaqueMarker), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX})
	}
	// lab:end
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// isWhiteout reports whether a file is overlayfs's mark of a deletion.
func isWhiteout(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && info.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// isOpaque reports whether overlayfs marked a directory as hiding all below it.
func isOpaque(dir string) bool {
	value := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, opaqueXattr, value)
	return err == nil && n == 1 && value[0] == 'y'
}

// applyLayer unpacks a layer tar into dir in overlay form.
func applyLayer(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if err := applyEntry(tr, hdr, insideDir(dir, hdr.Name), dir); err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
	}
}

// insideDir joins a tar entry's name to dir; cleaning it as an absolute
// path first drops any ".." that would climb out of dir.
func insideDir(dir, name string) string {
	return filepath.Join(dir, filepath.Clean("/"+name))
}

// applyEntry creates one file, or turns a whiteout entry back into overlay form.
func applyEntry(tr *tar.Reader, hdr *tar.Header, path, dir string) error {
	// lab:cut step08 turn .wh..wh..opq back into the opaque xattr, and .wh.<name> back into a 0/0 character device
	base := filepath.Base(path)
	switch {
	case base == opaqueMarker:
		return unix.Lsetxattr(filepath.Dir(path), opaqueXattr, []byte("y"), 0)
	case strings.HasPrefix(base, whiteoutPrefix):
		return unix.Mknod(filepath.Join(filepath.Dir(path), strings.TrimPrefix(base, whiteoutPrefix)), unix.S_IFCHR, 0)
	}
	// lab:end
	mode := uint32(hdr.Mode & 0o7777)
	var err error
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = os.MkdirAll(path, 0o755)
	case tar.TypeReg:
		err = writeRegular(tr, path)
	case tar.TypeSymlink:
		err = os.Symlink(hdr.Linkname, path)
	case tar.TypeLink:
		err = os.Link(insideDir(dir, hdr.Linkname), path)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		err = unix.Mknod(path, kind|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return nil // other entry types carry nothing a container needs
	}
	if err != nil {
		return err
	}
	if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		return unix.Chmod(path, mode)
	}
	return nil
}

// writeRegular writes a regular file's content from the tar.
func writeRegular(r io.Reader, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// digestWriter is a file being written whose sha256 is computed on the way.
type digestWriter struct {
	file *os.File
	hash hash.Hash
}

// newDigestWriter creates a temporary file in dir to write a layer into.
func newDigestWriter(dir string) (*digestWriter, error) {
	f, err := os.CreateTemp(dir, ".layer-*.tar")
	if err != nil {
		return nil, err
	}
	return &digestWriter{file: f, hash: sha256.New()}, nil
}

// Write writes to the file and the hash.
func (d *digestWriter) Write(p []byte) (int, error) {
	d.hash.Write(p)
	return d.file.Write(p)
}

// digest is "sha256:" and the hex digest of all bytes written.
func (d *digestWriter) digest() string {
	return "sha256:" + hex.EncodeToString(d.hash.Sum(nil))
}
