//go:build linux

// How large a layer may grow. A layer that arrives compressed (pull,
// load, import) is as large as its decompressed tar, which its sender
// chooses: a gzip of a few hundred kilobytes can hold gigabytes of zeros
// (a "gzip bomb"), and nothing in the blob's digest or size says so. So
// every layer the store writes is bounded twice while it is written:
//
//   - by MaxLayerSize, when the user set one (--max-layer-size);
//   - by the free space of the store's filesystem: the write stops before
//     the filesystem has less than reserve(fs) bytes free (5% of it, at
//     most 1 GiB), so a bomb never fills the disk that the host and every
//     container share. statfs(2) is asked again every checkEvery bytes,
//     and never more is written between two asks than was free above the
//     reserve at the last one.
//
// Either way the write fails with ErrLayerTooLarge, its temp file is
// removed, and nothing is stored. Docker bounds neither; a daemonless
// tool that a learner runs on their laptop should not fill its disk.
//
// The tar stream is not all: a sparse entry is a few bytes of it but
// declares its full size, holes included, and unpacking yields every
// zero. Unpacking writes holes as holes (overlay/sparse.go), so they
// take no disk, but it still reads them, and whatever copies the file
// later writes them. So the content a layer's regular entries declare,
// holes included, is bounded like its stream (unpackLimit): by
// --max-layer-size, or by the free space less the reserve. A sparse
// entry is only a compact way to write what a plain tar of the same
// files would hold, and that plain tar would have met the same bound
// when it was stored. checkDeclared reads a layer's headers when it is
// stored (commit, import, load, pull), so the image is refused then;
// unpacking checks again, for a store whose free space shrank since.

package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minidocker/minidocker/final/internal/overlay"
	"golang.org/x/sys/unix"
)

// ErrLayerTooLarge is wrapped by the error of a layer that grew past a bound.
var ErrLayerTooLarge = errors.New("layer too large")

// checkEvery is how many bytes a layer grows between two statfs(2) calls.
const checkEvery = 8 << 20

// reserve is the free space a layer write leaves on a filesystem of size bytes.
func reserve(size int64) int64 {
	return min(size/20, 1<<30)
}

// boundedWriter is a layer's temp file, refusing to grow past the bounds.
type boundedWriter struct {
	w       io.Writer
	dir     string // on the store's filesystem, for statfs
	max     int64  // MaxLayerSize, 0 for none
	written int64
	allowed int64 // written may reach this before the next statfs
	next    int64 // written at which statfs is asked again
}

// Write writes p unless that would pass a bound.
func (b *boundedWriter) Write(p []byte) (int, error) {
	end := b.written + int64(len(p))
	if b.max > 0 && end > b.max {
		return 0, fmt.Errorf("%w: it is larger than --max-layer-size (%d bytes) uncompressed: refused", ErrLayerTooLarge, b.max)
	}
	if end > b.next || end > b.allowed {
		if err := b.refresh(); err != nil {
			return 0, err
		}
		if end > b.allowed {
			return 0, fmt.Errorf("%w: uncompressed it would leave less than %d bytes free on the filesystem of %s (after %d bytes): refused (a compressed layer that expands this much is likely a decompression bomb; free some space if it is not)", ErrLayerTooLarge, b.reserveBytes(), b.dir, b.written)
		}
	}
	n, err := b.w.Write(p)
	b.written += int64(n)
	return n, err
}

// refresh asks statfs(2) how much may still be written.
func (b *boundedWriter) refresh() error {
	var st unix.Statfs_t
	if err := unix.Statfs(b.dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", b.dir, err)
	}
	free := int64(st.Bavail) * st.Bsize
	b.allowed = b.written + max(0, free-reserve(int64(st.Blocks)*st.Bsize))
	b.next = b.written + checkEvery
	return nil
}

// reserveBytes is the reserve of the writer's filesystem, for a message.
func (b *boundedWriter) reserveBytes() int64 {
	var st unix.Statfs_t
	if unix.Statfs(b.dir, &st) != nil {
		return 0
	}
	return reserve(int64(st.Blocks) * st.Bsize)
}

// unpackLimit is how much content a layer's entries may declare, holes
// included: --max-layer-size, or the free space of the store's
// filesystem less the reserve, plus stored (bytes of the layer already
// in the store, which checkDeclared counts as room: see there).
func (s *Store) unpackLimit(stored int64) (overlay.Limit, error) {
	if s.MaxLayerSize > 0 {
		return overlay.Limit{Bytes: s.MaxLayerSize, Why: fmt.Sprintf("--max-layer-size (%d bytes)", s.MaxLayerSize)}, nil
	}
	dir := s.path("tmp")
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return overlay.Limit{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	keep := reserve(int64(st.Blocks) * st.Bsize)
	room := max(0, int64(st.Bavail)*st.Bsize-keep) + stored
	return overlay.Limit{Bytes: room, Why: fmt.Sprintf("the %d bytes the store has room for (free space on the filesystem of %s beyond a reserve of %d bytes; or set --max-layer-size)", room, dir, keep)}, nil
}

// checkDeclared refuses the layer tar at path when its regular entries
// declare more content than unpackLimit, holes included. It reads only
// the headers: Next seeks over each entry's bytes in the file. The tar
// is already in the store, so its own size counts as room: a layer
// without sparse entries declares less than its tar holds, and so
// passes whenever its tar passed the bound on its stream; only content
// beyond the stream (holes) is really checked here.
func (s *Store) checkDeclared(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	limit, err := s.unpackLimit(fi.Size())
	if err != nil {
		return err
	}
	tr := tar.NewReader(f)
	var declared int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer %s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse {
			continue
		}
		if hdr.Size > limit.Bytes-declared { // not declared+Size: that can overflow
			return fmt.Errorf("%w: entry %q declares %d bytes of content (holes included: a sparse file?), more than %s: refused", ErrLayerTooLarge, hdr.Name, hdr.Size, limit.Why)
		}
		declared += hdr.Size
	}
}
