//go:build linux

// The image store: a state directory that outlives every run.
//
//	ROOT/layers/<hex>/layer.tar    a layer, named by the sha256 of these bytes
//	ROOT/layers/<hex>/diff/        the same layer unpacked: an overlay lower dir
//	ROOT/images/<hex>.json         an image config; <hex> is the sha256 of the file
//	ROOT/repositories.json         names and tags: {"base:latest": "sha256:…"}
//	ROOT/containers/<id>/          a container: config.json, and upper, work, merged
//
// An image is its config: the list of its layers' digests, bottom first,
// plus the Cmd, Env and WorkingDir to run, its parent and its history. A
// commit adds one layer on top of the parent's list, so what did not
// change is a reference, never a copy. Every file is written to a temporary
// name and renamed into place, and changes happen under a lock, so that a
// crash or two commands at once never leave a half-written store.

package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// imageConfig is an image, in the shape of the OCI image config.
type imageConfig struct {
	Created time.Time `json:"created"`
	Parent  string    `json:"parent,omitempty"`
	Config  runConfig `json:"config"`
	RootFS  struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []history `json:"history"`
}

// runConfig is what an image says to run.
type runConfig struct {
	Cmd        []string `json:"Cmd"`
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
}

// history is one line of an image's history: what made a layer.
type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment,omitempty"`
}

// containerRecord is what the store remembers of a container.
type containerRecord struct {
	ID       string    `json:"Id"`
	Name     string    `json:"Name"`
	Image    string    `json:"Image"`  // the image id, or "" when run on --rootfs
	Rootfs   string    `json:"Rootfs"` // the --rootfs dir, if any
	Command  []string  `json:"Cmd"`
	Created  time.Time `json:"Created"`
	Pid      int       `json:"Pid"` // the host side's pid while it runs
	ExitCode int       `json:"ExitCode"`
}

// store is the state directory.
type store struct {
	root string
}

// openStore makes the state directory's folders if they do not exist.
// They can be passed through but not listed by others (0711): root of a
// user namespace, an unprivileged uid on the host, must reach its layers.
func openStore(root string) (*store, error) {
	for _, dir := range []string{"", "layers", "images", "containers"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o711); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	return &store{root: root}, nil
}

// lock takes the store's lock until the returned function is called.
func (s *store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// writeJSON writes v to path through a temporary file and a rename.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readJSON reads path into v.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// hexOf strips "sha256:" from a digest.
func hexOf(digest string) string {
	return strings.TrimPrefix(digest, "sha256:")
}

// short is the 12-digit form of an id or digest that people read.
func short(id string) string {
	id = hexOf(id)
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// storeLayer tars dir as a layer, stores it by digest (once), unpacks it
// for overlay, and returns its digest.
func (s *store) storeLayer(dir string) (string, error) {
	w, err := newDigestWriter(filepath.Join(s.root, "layers"))
	if err != nil {
		return "", err
	}
	defer os.Remove(w.file.Name())
	if err := writeLayer(w, dir); err != nil {
		w.file.Close()
		return "", fmt.Errorf("tar %s: %w", dir, err)
	}
	if err := w.file.Close(); err != nil {
		return "", err
	}
	digest := w.digest()
	layerDir := filepath.Join(s.root, "layers", hexOf(digest))
	if _, err := os.Stat(filepath.Join(layerDir, "layer.tar")); err == nil {
		host("layer %s is in the store already: stored once, referenced again", short(digest))
		return digest, nil
	}
	host("layer %s: the tar of %s, named by its sha256", short(digest), dir)
	if err := s.unpackLayer(w.file.Name(), layerDir); err != nil {
		_ = os.RemoveAll(layerDir)
		return "", err
	}
	return digest, os.Rename(w.file.Name(), filepath.Join(layerDir, "layer.tar"))
}

// unpackLayer unpacks a layer tar into layerDir/diff, the lower dir overlay will use.
func (s *store) unpackLayer(tarPath, layerDir string) error {
	if err := os.MkdirAll(filepath.Join(layerDir, "diff"), 0o755); err != nil {
		return err
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	return applyLayer(f, filepath.Join(layerDir, "diff"))
}

// writeImage stores an image config; its id is the sha256 of the file's bytes.
func (s *store) writeImage(cfg imageConfig) (string, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	id := "sha256:" + hex.EncodeToString(sum[:])
	tmp := filepath.Join(s.root, "images", hexOf(id)+".json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", err
	}
	return id, os.Rename(tmp, filepath.Join(s.root, "images", hexOf(id)+".json"))
}

// repositories reads the name:tag -> image id table.
func (s *store) repositories() map[string]string {
	repos := map[string]string{}
	_ = readJSON(filepath.Join(s.root, "repositories.json"), &repos)
	return repos
}

// tag points name[:tag] at an image.
func (s *store) tag(ref, id string) error {
	repos := s.repositories()
	repos[fullRef(ref)] = id
	return writeJSON(filepath.Join(s.root, "repositories.json"), repos)
}

// fullRef adds ":latest" to a reference without a tag.
func fullRef(ref string) string {
	if !strings.Contains(ref, ":") {
		return ref + ":latest"
	}
	return ref
}

// image finds an image by name[:tag] or by a unique prefix of its id.
func (s *store) image(ref string) (string, imageConfig, error) {
	var cfg imageConfig
	id, ok := s.repositories()[fullRef(ref)]
	if !ok {
		matches, _ := filepath.Glob(filepath.Join(s.root, "images", hexOf(ref)+"*.json"))
		if len(matches) != 1 || len(hexOf(ref)) < 4 {
			return "", cfg, fmt.Errorf("no such image: %s", ref)
		}
		id = "sha256:" + strings.TrimSuffix(filepath.Base(matches[0]), ".json")
	}
	err := readJSON(filepath.Join(s.root, "images", hexOf(id)+".json"), &cfg)
	return id, cfg, err
}

// lowerDirs are an image's unpacked layers, top first, as overlay's lowerdir wants them.
func (s *store) lowerDirs(cfg imageConfig) []string {
	var dirs []string
	for i := len(cfg.RootFS.DiffIDs) - 1; i >= 0; i-- {
		dirs = append(dirs, filepath.Join(s.root, "layers", hexOf(cfg.RootFS.DiffIDs[i]), "diff"))
	}
	return dirs
}

// ensureBase makes the image "base" from the host's binaries on first
// use, so that nothing needs to be downloaded.
func (s *store) ensureBase() error {
	if _, _, err := s.image("base"); err == nil {
		return nil
	}
	host("no image \"base\" yet: making it from the host, as step 03 does")
	dir, remove, err := prepareRootfs("")
	if err != nil {
		return err
	}
	defer remove()
	if err := installLoad(dir); err != nil {
		return err
	}
	digest, err := s.storeLayer(dir)
	if err != nil {
		return err
	}
	cfg := imageConfig{Created: time.Now().UTC()}
	cfg.Config = runConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, WorkingDir: "/"}
	cfg.RootFS.Type, cfg.RootFS.DiffIDs = "layers", []string{digest}
	cfg.History = []history{{Created: cfg.Created, CreatedBy: stepName + ": the host's binaries and their libraries"}}
	id, err := s.writeImage(cfg)
	if err != nil {
		return err
	}
	return s.tag("base", id)
}

// newContainer records a new container with a random 64-hex id and a
// name, refusing a name already in use.
func (s *store) newContainer(name string, rec containerRecord) (containerRecord, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return rec, err
	}
	rec.ID, rec.Created = hex.EncodeToString(raw), time.Now().UTC()
	rec.Name = name
	if rec.Name == "" {
		rec.Name = "box-" + rec.ID[:6]
	}
	for _, other := range s.containers() {
		if other.Name == rec.Name {
			return rec, fmt.Errorf("the container name %q is already in use by container %s: remove it or choose another --name", rec.Name, short(other.ID))
		}
	}
	if err := os.Mkdir(s.containerDir(rec.ID), 0o711); err != nil {
		return rec, err
	}
	return rec, s.saveContainer(rec)
}

// containerDir is where a container keeps its record and its layers.
func (s *store) containerDir(id string) string {
	return filepath.Join(s.root, "containers", id)
}

// saveContainer writes a container's record.
func (s *store) saveContainer(rec containerRecord) error {
	return writeJSON(filepath.Join(s.containerDir(rec.ID), "config.json"), rec)
}

// containers lists every container record, oldest first.
func (s *store) containers() []containerRecord {
	dirs, _ := filepath.Glob(filepath.Join(s.root, "containers", "*", "config.json"))
	var all []containerRecord
	for _, path := range dirs {
		var rec containerRecord
		if readJSON(path, &rec) == nil {
			all = append(all, rec)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
	return all
}

// container finds a container by name or by a unique prefix of its id.
func (s *store) container(ref string) (containerRecord, error) {
	var found []containerRecord
	for _, rec := range s.containers() {
		if rec.Name == ref || rec.ID == ref {
			return rec, nil
		}
		if strings.HasPrefix(rec.ID, ref) {
			found = append(found, rec)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return containerRecord{}, fmt.Errorf("%q matches %d containers: give more of the id", ref, len(found))
	}
	return containerRecord{}, fmt.Errorf("no such container: %s", ref)
}

// running reports whether a container's host side is still alive.
func (rec containerRecord) running() bool {
	return rec.Pid > 0 && unix.Kill(rec.Pid, 0) == nil
}

// removeContainer deletes a container and its writable layer.
func (s *store) removeContainer(rec containerRecord) error {
	if rec.running() {
		return fmt.Errorf("container %s is running: stop it first", short(rec.ID))
	}
	dir := s.containerDir(rec.ID)
	if mounted := mountsUnder(dir); len(mounted) > 0 {
		return fmt.Errorf("not removing %s: %s is still mounted", dir, mounted[0])
	}
	return os.RemoveAll(dir)
}
