//go:build linux

// Package image is minidocker's image store: layers, image configs and
// the names that point at them, in one directory that outlives every run.
//
//	DIR/lock                         flock(2) held by every change
//	DIR/layers/<hex>/layer.tar       a layer, uncompressed; <hex> is the sha256
//	                                 of these bytes, the layer's diff_id
//	DIR/layers/<hex>/diff/           the layer unpacked in overlay form (an
//	                                 overlay lower dir), made on first use
//	DIR/images/<hex>.json            an image config; <hex> is the sha256 of the
//	                                 file's bytes, which is the image id
//	DIR/repositories.json            {"name:tag": "sha256:<hex>", ...}
//	DIR/tmp/<pid>-<what>-<random>    work in progress of process <pid>
//
// Consistency. Readers take no lock: every file appears complete or not
// at all, because it is written under tmp/ and renamed into place, and
// rename(2) is atomic. Writers take an exclusive flock on DIR/lock for
// the short step that renames and records; the slow part (tarring a
// 100 MB upper dir) runs before, unlocked, so two commits overlap. A
// crash leaves at worst: a tmp/ entry of a dead process, a layer
// directory without layer.tar, or a layer no image uses. The next locked
// operation removes the second; the first goes at the next command of
// any kind (RemoveStale: tmp/ names carry their pid, so work of a live
// process is left alone); rmi and prune collect the third.
//
// Users. A container uses its image's layers as overlay lower dirs, so an
// image must not go while a container is made from it. The store knows
// no containers; rmi and prune ask their caller (UsedBy) while they hold
// the lock, and a new container's record is written under the lock held
// shared (Use). So the check and the claim never interleave: rmi sees the
// record, or the image is gone before the record is written.
//
// Durability. The small files that make the store what it is (image
// configs, repositories.json) are fsynced before their rename, and their
// directory after it. Layer tars are not: an fsync of 100 MB costs more
// than the whole commit, and a layer that a crash left short or zeroed is
// still caught, because it is named by its digest: a commit of the same
// digest replaces a stored file of the wrong size, and unpacking checks
// the sha256 as it reads and reports a corrupt layer instead of using it.
package image

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// ErrNotFound is wrapped by every error about an image that is not in the store.
var ErrNotFound = errors.New("no such image")

// Store is an image store in a directory.
type Store struct {
	dir string
	// MaxLayerSize, when not 0, bounds every layer's uncompressed size.
	MaxLayerSize int64
}

// Open opens the store in dir, creating its directories (mode 0711: others
// may pass through to a layer, as a user namespace's root must, but not list).
func Open(dir string) (*Store, error) {
	for _, sub := range []string{"", "layers", "images", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o711); err != nil {
			return nil, fmt.Errorf("image store: mkdir %s: %w", filepath.Join(dir, sub), err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// path joins names below the store's directory.
func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

// lock takes the store's exclusive lock, then clears what crashed
// processes left; the returned function releases the lock.
func (s *Store) lock() (func(), error) {
	unlock, err := s.flock(unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	s.cleanup()
	return unlock, nil
}

// lockShared takes the store's lock shared: writers wait, other sharers
// do not. It clears nothing (that needs the exclusive lock).
func (s *Store) lockShared() (func(), error) {
	return s.flock(unix.LOCK_SH)
}

// flock takes the store's lock file with how (LOCK_EX or LOCK_SH),
// retrying on EINTR; the returned function releases it.
func (s *Store) flock(how int) (func(), error) {
	f, err := os.OpenFile(s.path("lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.path("lock"), err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Use calls claim while img can be neither removed nor pruned, after
// checking that it and its unpacked layers are still there (ErrNotFound
// if not). claim records the container that will use img: once it
// returns, rmi and prune see that user.
func (s *Store) Use(img Image, claim func() error) error {
	unlock, err := s.lockShared()
	if err != nil {
		return err
	}
	defer unlock()
	if !s.present(img) {
		return fmt.Errorf("%w: %s", ErrNotFound, img.ShortID())
	}
	for _, id := range img.Config.RootFS.DiffIDs {
		if _, err := os.Stat(s.path("layers", hexOf(id), "diff")); err != nil {
			return fmt.Errorf("%w: %s (its layer %s is gone)", ErrNotFound, img.ShortID(), shortID(id))
		}
	}
	return claim()
}

// present reports whether img's config is still in the store.
func (s *Store) present(img Image) bool {
	_, err := os.Stat(s.path("images", hexOf(img.ID)+".json"))
	return err == nil
}

// cleanup removes tmp/ entries of processes that are gone and layer
// directories that never received their layer.tar. Called with the lock held.
func (s *Store) cleanup() {
	s.RemoveStale()
	layers, _ := os.ReadDir(s.path("layers"))
	for _, e := range layers {
		if _, err := os.Lstat(s.path("layers", e.Name(), "layer.tar")); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(s.path("layers", e.Name()))
		}
	}
}

// RemoveStale removes the tmp/ entries whose owner process is gone: what
// a killed commit, import or load left. It needs no lock: an entry is
// only ever written by the process its name names, and a live owner's
// entries are left alone, so every command can call it, cheaply (one
// directory read), and a killed command's gigabytes do not wait for the
// next image command.
func (s *Store) RemoveStale() {
	entries, _ := os.ReadDir(s.path("tmp"))
	for _, e := range entries {
		if ownerGone(e.Name()) {
			_ = os.RemoveAll(s.path("tmp", e.Name()))
		}
	}
}

// ownerGone reports whether the process a tmp/ name starts with
// ("<pid>-...") has exited: no such process, or a zombie, which will
// never write again. A name without a pid has no owner to wait for.
func ownerGone(name string) bool {
	pid, err := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
	if err != nil || pid <= 0 {
		return true
	}
	if pid == os.Getpid() {
		return false
	}
	return procfs.Ended(pid)
}

// TempUsage is what tmp/ holds: its entries (one per piece of work in
// progress: a load's spool, a layer being written) and their bytes.
// After RemoveStale, all of them belong to live processes.
func (s *Store) TempUsage() (entries int, size int64) {
	list, _ := os.ReadDir(s.path("tmp"))
	for _, e := range list {
		entries++
		_ = filepath.WalkDir(s.path("tmp", e.Name()), func(_ string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					size += info.Size()
				}
			}
			return nil
		})
	}
	return entries, size
}

// tempName is a fresh name under tmp/ that says which process owns it.
func (s *Store) tempName(what string) string {
	raw := make([]byte, 6)
	_, _ = rand.Read(raw)
	return s.path("tmp", fmt.Sprintf("%d-%s-%s", os.Getpid(), what, hex.EncodeToString(raw)))
}

// tempFile creates a file under tmp/.
func (s *Store) tempFile(what string) (*os.File, error) {
	name := s.tempName(what)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return f, nil
}

// tempDir creates a directory under tmp/, mode 0755.
func (s *Store) tempDir(what string) (string, error) {
	name := s.tempName(what)
	if err := os.Mkdir(name, 0o755); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", name, err)
	}
	return name, nil
}

// writeFileSync writes data to path through a fsynced temp file and a
// rename, then fsyncs the directory so the rename survives a crash too.
func (s *Store) writeFileSync(path string, data []byte) error {
	f, err := s.tempFile("json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", f.Name(), path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, making renames into it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// repositories reads the name:tag -> image id table.
func (s *Store) repositories() (map[string]string, error) {
	repos := map[string]string{}
	data, err := os.ReadFile(s.path("repositories.json"))
	if errors.Is(err, os.ErrNotExist) {
		return repos, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path("repositories.json"), err)
	}
	if err := json.Unmarshal(data, &repos); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.path("repositories.json"), err)
	}
	return repos, nil
}

// writeRepositories replaces the name table. Called with the lock held.
func (s *Store) writeRepositories(repos map[string]string) error {
	data, err := json.MarshalIndent(repos, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFileSync(s.path("repositories.json"), append(data, '\n'))
}

// imageIDs lists the hex ids of all stored image configs.
func (s *Store) imageIDs() ([]string, error) {
	entries, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path("images"), err)
	}
	var ids []string
	for _, e := range entries {
		if hexID, ok := strings.CutSuffix(e.Name(), ".json"); ok && isDigestHex(hexID) {
			ids = append(ids, hexID)
		}
	}
	return ids, nil
}

// loadImage reads one image by hex id; repos gives its tags.
func (s *Store) loadImage(hexID string, repos map[string]string) (Image, error) {
	img := Image{ID: "sha256:" + hexID}
	data, err := os.ReadFile(s.path("images", hexID+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return img, fmt.Errorf("%w: %s", ErrNotFound, img.ID)
	}
	if err != nil {
		return img, fmt.Errorf("read image %s: %w", shortID(hexID), err)
	}
	if err := json.Unmarshal(data, &img.Config); err != nil {
		return img, fmt.Errorf("parse image config %s: %w", s.path("images", hexID+".json"), err)
	}
	for name, id := range repos {
		if id == img.ID {
			img.Tags = append(img.Tags, name)
		}
	}
	sort.Strings(img.Tags)
	for _, diffID := range img.Config.RootFS.DiffIDs {
		img.Size += s.layerSize(diffID)
	}
	return img, nil
}

// rawConfig returns an image's config file exactly as stored.
func (s *Store) rawConfig(id string) ([]byte, error) {
	path := s.path("images", hexOf(id)+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// writeConfig stores config bytes under their digest and returns the
// image id. Called with the lock held.
func (s *Store) writeConfig(data []byte) (string, error) {
	hexID := sha256Hex(data)
	path := s.path("images", hexID+".json")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return "sha256:" + hexID, nil
	}
	return "sha256:" + hexID, s.writeFileSync(path, data)
}

// addImage stores an image's config and, when name is set, tags it with
// name; it returns the image. The caller holds the lock and has installed
// the image's layers.
func (s *Store) addImage(config []byte, name string) (Image, error) {
	id, err := s.writeConfig(config)
	if err != nil {
		return Image{}, err
	}
	repos, err := s.repositories()
	if err != nil {
		return Image{}, err
	}
	if name != "" {
		repos[name] = id
		if err := s.writeRepositories(repos); err != nil {
			return Image{}, err
		}
	}
	return s.loadImage(hexOf(id), repos)
}
