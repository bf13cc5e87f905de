//go:build linux

// Layers in the store. A layer arrives as a tar stream (from a commit, an
// import or a load), is written once to a temp file while its sha256 is
// computed on the same pass, and is renamed to layers/<hex>/layer.tar;
// a layer whose digest is already stored is not stored again. It is not
// unpacked then: a commit must be fast, and many layers (those of saved
// or pruned images) are never run. LayerDirs unpacks a layer the first
// time a container needs it, in overlay form, into a temp dir renamed to
// layers/<hex>/diff, checking the digest as it reads.

package image

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/minidocker/minidocker/final/internal/overlay"
)

// hashingFile is a temp file being written whose sha256 is kept on the way.
type hashingFile struct {
	file *os.File
	hash hash.Hash
	size int64
}

// Write writes p to the file and the hash.
func (h *hashingFile) Write(p []byte) (int, error) {
	n, err := h.file.Write(p)
	h.hash.Write(p[:n])
	h.size += int64(n)
	return n, err
}

// pendingLayer is a layer tar in tmp/, verified and ready to be installed.
type pendingLayer struct {
	path   string // the temp file
	diffID string // "sha256:<hex>" of its bytes
	size   int64
}

// writeLayer runs fill to produce a layer into a temp file, hashing it in
// the same pass and bounding its size and what its entries declare
// (bound.go).
func (s *Store) writeLayer(fill func(io.Writer) error) (pendingLayer, error) {
	f, err := s.tempFile("layer")
	if err != nil {
		return pendingLayer{}, err
	}
	h := &hashingFile{file: f, hash: sha256.New()}
	bw := bufio.NewWriterSize(&boundedWriter{w: h, dir: s.path("tmp"), max: s.MaxLayerSize}, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", f.Name(), cerr)
	}
	if err == nil {
		err = s.checkDeclared(f.Name())
	}
	if err != nil {
		os.Remove(f.Name())
		return pendingLayer{}, err
	}
	return pendingLayer{path: f.Name(), diffID: "sha256:" + hex.EncodeToString(h.hash.Sum(nil)), size: h.size}, nil
}

// installLayer moves a pending layer to layers/<hex>/layer.tar, unless
// the same layer is already there. Called with the lock held.
func (s *Store) installLayer(p pendingLayer) error {
	defer os.Remove(p.path)
	dir := s.path("layers", hexOf(p.diffID))
	target := s.path("layers", hexOf(p.diffID), "layer.tar")
	if fi, err := os.Stat(target); err == nil && fi.Size() == p.size {
		return nil // stored once, referenced again
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := os.Chmod(p.path, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", p.path, err)
	}
	if err := os.Rename(p.path, target); err != nil {
		return fmt.Errorf("rename %s to %s: %w", p.path, target, err)
	}
	return nil
}

// layerSize is the size of a stored layer tar, or 0 when it is missing.
func (s *Store) layerSize(diffID string) int64 {
	fi, err := os.Stat(s.path("layers", hexOf(diffID), "layer.tar"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LayerDirs returns an image's unpacked layers, top first as overlay's
// lowerdir wants them, unpacking (under the lock) those never used before.
func (s *Store) LayerDirs(img Image) ([]string, error) {
	ids := img.Config.RootFS.DiffIDs
	dirs := make([]string, len(ids))
	var missing []string
	for i, id := range ids {
		if !isDigestHex(hexOf(id)) {
			return nil, fmt.Errorf("image %s: bad layer digest %q", img.ShortID(), id)
		}
		dirs[len(ids)-1-i] = s.path("layers", hexOf(id), "diff")
		if _, err := os.Stat(dirs[len(ids)-1-i]); err != nil {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return dirs, nil
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !s.present(img) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, img.ShortID()) // removed while we waited
	}
	for _, id := range missing {
		if err := s.unpack(img, id); err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// unpack makes layers/<hex>/diff from layer.tar, verifying the digest.
// Called with the lock held.
func (s *Store) unpack(img Image, diffID string) error {
	diff := s.path("layers", hexOf(diffID), "diff")
	if _, err := os.Stat(diff); err == nil {
		return nil // another process unpacked it while we waited for the lock
	}
	tarPath := s.path("layers", hexOf(diffID), "layer.tar")
	f, err := os.Open(tarPath)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image %s: layer %s is missing from the store (%s): remove the image and commit or load it again", img.ShortID(), shortID(diffID), tarPath)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", tarPath, err)
	}
	defer f.Close()
	tmp, err := s.tempDir("diff")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	limit, err := s.unpackLimit(0)
	if err != nil {
		return err
	}
	h := sha256.New()
	tee := io.TeeReader(f, h)
	if _, err := overlay.ApplyLayer(tee, tmp, overlay.ModeOverlay, limit); err != nil {
		return fmt.Errorf("image %s: unpack layer %s: %w", img.ShortID(), shortID(diffID), err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("read %s: %w", tarPath, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return fmt.Errorf("image %s: layer %s is corrupt (%s hashes to %s, a crash while it was written?): remove the image and commit or load it again", img.ShortID(), shortID(diffID), tarPath, got)
	}
	if err := os.Rename(tmp, diff); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, diff, err)
	}
	return nil
}
