//go:build linux

// Sparse files and how large an unpack may grow. A tar entry's content
// may be far larger than its bytes in the stream: a GNU sparse entry
// (the old GNU 'S' type or PAX 1.0, what `tar --sparse` writes) lists
// only its data and the holes between, and archive/tar's Reader yields
// the holes as zeros, up to the size the header declares. A few KB of
// tar can so declare a petabyte. Two rules keep that harmless:
//
//   - writeSparse writes a run of zeros as a hole: it writes only the
//     blocks that are not all zeros, each at its offset (pwrite(2)), and
//     sets the size with ftruncate(2) at the end, as `cp --sparse=always`
//     and GNU tar do. A hole takes no disk, whether the tar said it was
//     one or a regular entry is full of zeros.
//   - the bytes every regular entry declares, holes included, count
//     against a limit the caller gives (applier.limit): the first entry
//     that passes it is refused before a byte of it is read, naming it
//     and its size. Holes cost no disk, but reading them costs CPU (a
//     petabyte of zeros is days of it), and whoever reads the file later
//     (a copy-up, commit, save, cp out of the container) gets every zero.
//     archive/tar yields exactly the declared size of an entry, so
//     checking the header is the same bound as counting, only sooner.

package overlay

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Limit bounds the content an unpack's regular entries may declare in
// all, holes included; Why says it in words for the error, as in "more
// than the 5 bytes free on /".
type Limit struct {
	Bytes int64
	Why   string
}

// ErrTooLarge is wrapped by the error of an unpack whose entries declare
// more content than its limit.
var ErrTooLarge = errors.New("too large")

// holeBlock is the unit writeSparse looks for zeros in: a page, the
// smallest hole the filesystems we unpack onto keep.
const holeBlock = 4096

// zeroBlock is a block of zeros to compare with.
var zeroBlock [holeBlock]byte

// writeSparse copies r into f, leaving a hole for every block of zeros,
// and returns the size of f, holes included.
func writeSparse(f *os.File, r io.Reader, buf []byte) (int64, error) {
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if werr := writeData(f, buf[:n], off); werr != nil {
			return off, werr
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return off, f.Truncate(off) // the size, if the file ends in a hole
		}
		if err != nil {
			return off, err
		}
	}
}

// writeData writes p at off in f, except its blocks of zeros.
func writeData(f *os.File, p []byte, off int64) error {
	for len(p) > 0 {
		data := leading(p, false)
		if data > 0 {
			if _, err := f.WriteAt(p[:data], off); err != nil {
				return err
			}
		}
		skip := data + leading(p[data:], true)
		p, off = p[skip:], off+int64(skip)
	}
	return nil
}

// leading is how many bytes at the start of p are blocks that are all
// zeros (zero) or blocks that are not (!zero).
func leading(p []byte, zero bool) int {
	n := 0
	for n < len(p) {
		end := min(n+holeBlock, len(p))
		if bytes.Equal(p[n:end], zeroBlock[:end-n]) != zero {
			break
		}
		n = end
	}
	return n
}

// count adds a regular entry's declared size, holes included, to what
// the unpack has declared, refusing it past the limit.
func (a *applier) count(hdr *tar.Header) error {
	if hdr.Size > a.limit.Bytes-a.declared { // not declared+Size: that can overflow
		return fmt.Errorf("%w: it declares %d bytes of content (holes included), more than %s: refused", ErrTooLarge, hdr.Size, a.limit.Why)
	}
	a.declared += hdr.Size
	return nil
}

// freeSpace is the space an unprivileged write may still take on the
// filesystem of the file descriptor fd (of any kind, O_PATH too).
func freeSpace(fd int, name string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", name, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
