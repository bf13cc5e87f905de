//go:build linux

// Making images: commit (a container's upper dir becomes a layer on top
// of its image), import (a flat root filesystem tar becomes a one-layer
// image) and the base image made from the host. All three write the
// layer first, unlocked, then take the lock to install the layer, write
// the config and set the tag in one go, so that no other process can
// collect the new layer before the image that uses it exists.
//
// Import stores the tar as given (after decompression), not normalised:
// its bytes are what the user handed over, its digest can be checked
// against theirs, and unpacking treats it as hostile in any case.

package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/minidocker/minidocker/final/internal/overlay"
)

// BaseRef is the name of the image made from the host's binaries.
const BaseRef = "base:latest"

// basePath is the PATH a base image's containers start with.
const basePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// CommitOptions says how Commit and Import describe the new image.
type CommitOptions struct {
	Ref       string   // name[:tag] to give the image; "" leaves it untagged
	Comment   string   // history comment (commit -m, import -m)
	Author    string   // author (commit -a)
	CreatedBy string   // history created_by, e.g. the container's command
	Changes   []string // Dockerfile instructions (commit -c), see ParseChange
	Lower     []string // the container's image layers, top first (overlay.WriteLayer)
	// Filter, when set, stands between the layer's tar and the store
	// (commit of a --userns-remap container gives owners back their ids inside).
	Filter func(w io.Writer, write func(io.Writer) error) error
}

// Commit stores upperDir (an overlay upper dir) as a new layer on top of
// parent (the zero Image for none) and records the new image.
func (s *Store) Commit(upperDir string, parent Image, opts CommitOptions) (Image, error) {
	cfg := Config{
		Architecture: parent.Config.Architecture, OS: parent.Config.OS, Variant: parent.Config.Variant,
		Config: parent.Config.Config.clone(), RootFS: RootFS{Type: "layers"},
		History: append([]History(nil), parent.Config.History...),
	}
	cfg.RootFS.DiffIDs = append([]string(nil), parent.Config.RootFS.DiffIDs...)
	write := func(w io.Writer) error { return overlay.WriteLayer(w, upperDir, opts.Lower) }
	if opts.Filter != nil {
		return s.create(cfg, opts, func(w io.Writer) error { return opts.Filter(w, write) })
	}
	return s.create(cfg, opts, write)
}

// Import makes a one-layer image from a root filesystem tar (plain, gzip
// or bzip2); message is the history comment.
func (s *Store) Import(r io.Reader, ref string, changes []string, message string) (Image, error) {
	opts := CommitOptions{Ref: ref, Comment: message, CreatedBy: "minidocker import", Changes: changes}
	return s.create(Config{RootFS: RootFS{Type: "layers"}}, opts, func(w io.Writer) error { return copyTar(w, r) })
}

// copyTar copies a tar stream, decompressed, checking that it is a tar.
func copyTar(w io.Writer, r io.Reader) error {
	plain, err := overlay.Decompress(r)
	if err != nil {
		return err
	}
	store := &firstError{w: w}
	tr := tar.NewReader(io.TeeReader(plain, store))
	entries := 0
	for ; ; entries++ {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if store.err != nil { // storing it failed (too large, disk full), not reading it
			return fmt.Errorf("import: %w", store.err)
		}
		if err != nil {
			return fmt.Errorf("import: the input is not a tar archive: %w", err)
		}
	}
	if entries == 0 {
		return errors.New("import: the tar archive is empty")
	}
	_, err = io.Copy(w, plain) // the end-of-archive padding the reader did not need
	return err
}

// firstError is a writer that remembers the first error of w, so that a
// failure to store is not taken for a failure to read.
type firstError struct {
	w   io.Writer
	err error
}

// Write writes to w, keeping its first error.
func (f *firstError) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

// create writes a layer with fill, adds it to cfg with a history entry,
// and stores the image under opts.Ref.
func (s *Store) create(cfg Config, opts CommitOptions, fill func(io.Writer) error) (Image, error) {
	if err := ApplyChanges(opts.Changes, &cfg.Config); err != nil {
		return Image{}, err
	}
	name, err := optionalRef(opts.Ref)
	if err != nil {
		return Image{}, err
	}
	layer, err := s.writeLayer(fill)
	if err != nil {
		return Image{}, err
	}
	defer os.Remove(layer.path)
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	return s.record(cfg, opts, layer, name)
}

// record installs the layer and writes the image. Called with the lock held.
func (s *Store) record(cfg Config, opts CommitOptions, layer pendingLayer, name string) (Image, error) {
	now := time.Now().UTC().Truncate(time.Second)
	if cfg.Architecture == "" {
		cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	}
	cfg.Created, cfg.Author = &now, opts.Author
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.diffID)
	cfg.History = append(cfg.History, History{Created: &now, CreatedBy: opts.CreatedBy, Author: opts.Author, Comment: opts.Comment})
	data, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	if err := s.installLayer(layer); err != nil {
		return Image{}, err
	}
	return s.addImage(data, name)
}

// optionalRef normalises a ref that may be empty.
func optionalRef(ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	return NormalizeRef(ref)
}

// EnsureBase makes base:latest if it does not exist: build fills an empty
// root filesystem dir (for example with the host's binaries), which
// becomes the image's one layer. It reports whether it made the image.
// build runs with the store locked and must not call the Store.
func (s *Store) EnsureBase(build func(rootfs string) error) (Image, bool, error) {
	if img, err := s.Resolve(BaseRef); err == nil {
		return img, false, nil
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, false, err
	}
	defer unlock()
	repos, err := s.repositories()
	if err != nil {
		return Image{}, false, err
	}
	if img, err := s.resolve(BaseRef, repos); err == nil {
		return img, false, nil // another process made it while we waited
	}
	rootfs, err := s.tempDir("base")
	if err != nil {
		return Image{}, false, err
	}
	defer os.RemoveAll(rootfs)
	if err := build(rootfs); err != nil {
		return Image{}, false, fmt.Errorf("build the base image: %w", err)
	}
	layer, err := s.writeLayer(func(w io.Writer) error { return overlay.WriteTree(w, rootfs) })
	if err != nil {
		return Image{}, false, err
	}
	defer os.Remove(layer.path)
	cfg := Config{RootFS: RootFS{Type: "layers"}, Config: RunConfig{Cmd: []string{"/bin/sh"}, Env: []string{basePath}}}
	opts := CommitOptions{CreatedBy: "created from the host by minidocker"}
	img, err := s.record(cfg, opts, layer, BaseRef)
	return img, err == nil, err
}
