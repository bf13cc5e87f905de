//go:build linux

// Loading images from an archive. Three shapes are accepted, told apart
// by which index file the archive has at its top:
//
//	manifest.json   a docker-archive: Docker 25's (blobs/sha256/<hex>
//	                paths) or the classic one of older Docker and podman
//	                ("<hex>.json" configs, "<id>/layer.tar" layers, maybe
//	                symlinks between layer dirs); preferred when present
//	index.json      an OCI image layout: index -> manifest (or a nested
//	                index, filtered to this machine's platform) -> config
//	                and layers, which may be gzip or bzip2
//
// The files of a tar can come in any order, so Load first spools the
// archive into a temp dir under the store's tmp/ (regular files only,
// names cleaned; symlinks are remembered, not made). What it spools is
// bounded before anything is verified (see spool): only names an image
// archive uses, each no larger than the free space, JSON no larger than
// 16 MiB, blobs named by digest checked as they are written, so a tar
// bomb (a small gzip of gigabytes of zeros) is refused at its first
// header, not after filling the disk.
// Then every blob is checked: a blob named by digest must hash to it, a
// config named "<hex>.json" too, and every layer, decompressed, must hash
// to the diff_id its config lists. Only when all images of the archive
// pass is anything moved into the store, under the lock: layers, then
// configs, then names. A mismatch leaves the store as it was.

package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/overlay"
)

// maxJSON bounds the JSON files (manifests, configs) read into memory.
const maxJSON = 16 << 20

// archive is an unpacked archive or an image layout directory.
type archive struct {
	dir   string
	links map[string]string // symlinks of a spooled tar: name -> target
	owned bool              // the files are ours to move (a spool in tmp/)
}

// loadImage is one image found in an archive, not yet verified.
type loadImage struct {
	config       string // path of the config in the archive
	configDigest string // its expected digest, when the archive names one
	layers       []blobRef
	tags         []string
}

// blobRef is a layer in the archive and what it must hash to.
type blobRef struct {
	path   string
	digest string // expected sha256 of the bytes as stored, "" if unknown
	size   int64  // expected size, -1 if unknown
}

// verifiedImage is an image whose every byte was checked.
type verifiedImage struct {
	config []byte
	id     string
	layers []pendingLayer
	tags   []string
}

// Load reads an archive from r (docker save, podman save, an OCI layout
// tar; plain or gzip) into the store and returns Docker-style lines.
func (s *Store) Load(r io.Reader) ([]string, error) {
	plain, err := overlay.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	spool, err := s.tempDir("load")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)
	a := &archive{dir: spool, links: map[string]string{}, owned: true}
	if err := a.spool(plain); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return s.load(a)
}

// LoadDir loads the images of an OCI image layout (or unpacked
// docker-archive) directory.
func (s *Store) LoadDir(dir string) ([]string, error) {
	return s.load(&archive{dir: dir, links: map[string]string{}})
}

// maxMembers bounds the entries of an archive: docker save of an image
// of a hundred layers has a few hundred.
const maxMembers = 1 << 16

// spool unpacks the archive's regular files into a.dir and remembers its
// symlinks. It writes only what an image archive can hold (memberLimit):
// the first member that none has ends the load before a byte of it is
// written; a member larger than the space left, or than its kind allows,
// too. What it writes unchecked is therefore at most one member at a time
// beyond those that only a config can check (layers not named by digest):
// a member named by its digest is hashed as it is written and the load
// stops at the end of the first that does not match.
func (a *archive) spool(r io.Reader) error {
	tr := tar.NewReader(r)
	for members := 0; ; members++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if members >= maxMembers {
			return fmt.Errorf("the archive has more than %d members: no image archive has that many", maxMembers)
		}
		name, err := archiveName(hdr.Name)
		if err != nil || name == "" || !memberType(hdr.Typeflag) {
			continue // nothing an image archive needs lives outside its top, or is a directory (made as needed), a device, a pax global header...
		}
		limit, ok := memberLimit(name)
		if !ok {
			return fmt.Errorf("not an image archive: it holds %q, which neither a docker-archive nor an OCI layout has; to make an image from a root filesystem tar, use import", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeSymlink, tar.TypeLink:
			a.links[name] = hdr.Linkname
		case tar.TypeReg:
			if err := a.checkRoom(name, hdr.Size, limit); err != nil {
				return err
			}
			if err := a.spoolFile(name, tr); err != nil {
				return err
			}
		}
	}
}

// memberType reports whether an entry of this type is spooled or remembered.
func memberType(t byte) bool {
	return t == tar.TypeReg || t == tar.TypeSymlink || t == tar.TypeLink
}

// memberLimit says whether name is one an image archive holds, and the
// most bytes it may have (-1: as many as the disk has). Layers and blobs
// are as large as they are; the JSON files are read into memory whole,
// so they are held to maxJSON.
func memberLimit(name string) (int64, bool) {
	parts := strings.Split(name, "/")
	if len(parts) > 3 {
		return 0, false
	}
	base := parts[len(parts)-1]
	switch base {
	case "manifest.json", "index.json", "oci-layout", "repositories", "VERSION", "json":
		return maxJSON, true
	case "layer.tar":
		return -1, true
	}
	if h, ok := strings.CutSuffix(base, ".json"); ok && isDigestHex(h) {
		return maxJSON, true
	}
	base = strings.TrimSuffix(base, ".tar")
	if (len(base) == 64 || len(base) == 128) && isHex(base) {
		return -1, true // blobs/<algorithm>/<hex>, or a layer named by its digest
	}
	return 0, false
}

// checkRoom refuses a member larger than its kind allows or than the
// space left under the spool, before any of it is written.
func (a *archive) checkRoom(name string, size, limit int64) error {
	if limit >= 0 && size > limit {
		return fmt.Errorf("archive member %s is %d bytes: a %s is at most %d", name, size, path.Base(name), limit)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(a.dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", a.dir, err)
	}
	if free := int64(st.Bavail)*st.Bsize - reserve(int64(st.Blocks)*st.Bsize); size > free {
		return fmt.Errorf("archive member %s is %d bytes, more than the %d bytes free under %s (beyond a reserve the store never fills): free some space (minidocker system prune) or check the archive", name, size, max(free, 0), a.dir)
	}
	return nil
}

// spoolFile writes one file of the archive under a.dir; a file named by
// its digest must hash to it.
func (a *archive) spoolFile(name string, r io.Reader) error {
	path := filepath.Join(a.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Dir(path), err)
	}
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if want := digestFromPath(name); want != "" && want != "sha256:"+hex.EncodeToString(h.Sum(nil)) {
		return fmt.Errorf("archive member %s: content does not match its digest (sha256:%s): the archive is corrupt or was tampered with", name, hex.EncodeToString(h.Sum(nil)))
	}
	return nil
}

// archiveName cleans a name found in an archive, refusing ".." and making
// absolute names relative.
func archiveName(name string) (string, error) {
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", fmt.Errorf("archive name %q climbs out of the archive", name)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// resolve follows the archive's remembered symlinks (up to 16) to a real file path.
func (a *archive) resolve(name string) (string, error) {
	name, err := archiveName(name)
	if err != nil {
		return "", err
	}
	for i := 0; i < 16; i++ {
		target, ok := a.links[name]
		if !ok {
			return filepath.Join(a.dir, name), nil
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(name), target)
		}
		if name, err = archiveName(target); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("archive entry %q: too many levels of symlinks", name)
}

// exists reports whether the archive has a file name.
func (a *archive) exists(name string) bool {
	p, err := a.resolve(name)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// readJSON reads a small file of the archive, checking its digest if
// one is given, and decodes it into v (when v is not nil).
func (a *archive) readJSON(name, digest string, v any) ([]byte, error) {
	p, err := a.resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("the archive has no %s", name)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSON))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if digest != "" && "sha256:"+sha256Hex(data) != digest {
		return nil, fmt.Errorf("%s: content does not match its digest %s (sha256:%s): the archive is corrupt or was tampered with", name, digest, sha256Hex(data))
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
	}
	return data, nil
}

// load finds, verifies and stores the images of an archive.
func (s *Store) load(a *archive) ([]string, error) {
	var found []loadImage
	var err error
	switch {
	case a.exists("manifest.json"):
		found, err = a.dockerImages()
	case a.exists("index.json"):
		found, err = a.ociImages()
	default:
		return nil, errors.New("load: not an image archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout) at its top; to make an image from a root filesystem tar, use import")
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if len(found) == 0 {
		return nil, errors.New("load: the archive holds no images")
	}
	verified := make([]verifiedImage, 0, len(found))
	prepared := map[string]pendingLayer{}
	defer func() {
		for _, p := range prepared {
			if strings.HasPrefix(p.path, s.path("tmp")) {
				os.Remove(p.path)
			}
		}
	}()
	for _, li := range found {
		v, err := s.verify(a, li, prepared)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		verified = append(verified, v)
	}
	return s.storeLoaded(verified)
}

// dockerImages reads a docker-archive's manifest.json.
func (a *archive) dockerImages() ([]loadImage, error) {
	var manifest []dockerManifest
	if _, err := a.readJSON("manifest.json", "", &manifest); err != nil {
		return nil, err
	}
	var out []loadImage
	for _, m := range manifest {
		li := loadImage{config: m.Config, configDigest: digestFromPath(m.Config), tags: m.RepoTags}
		for _, l := range m.Layers {
			li.layers = append(li.layers, blobRef{path: l, digest: digestFromPath(l), size: -1})
		}
		out = append(out, li)
	}
	return out, nil
}

// digestFromPath is the digest a path names: "blobs/sha256/<hex>" or
// "<hex>.json"; "" when it names none.
func digestFromPath(p string) string {
	if dir, base := path.Split(p); strings.HasSuffix(dir, "sha256/") && isDigestHex(base) {
		return "sha256:" + base
	}
	if h, ok := strings.CutSuffix(path.Base(p), ".json"); ok && isDigestHex(h) {
		return "sha256:" + h
	}
	return ""
}

// verify checks one image's config and layers, preparing each layer as
// an uncompressed tar under tmp/ (prepared caches them by path).
func (s *Store) verify(a *archive, li loadImage, prepared map[string]pendingLayer) (verifiedImage, error) {
	config, err := a.readJSON(li.config, li.configDigest, nil)
	if err != nil {
		return verifiedImage{}, err
	}
	var cfg Config
	if err := json.Unmarshal(config, &cfg); err != nil {
		return verifiedImage{}, fmt.Errorf("parse image config %s: %w", li.config, err)
	}
	v := verifiedImage{config: config, id: "sha256:" + sha256Hex(config)}
	if len(cfg.RootFS.DiffIDs) != len(li.layers) {
		return v, fmt.Errorf("image %s: its config lists %d layers, the archive gives %d", shortID(v.id), len(cfg.RootFS.DiffIDs), len(li.layers))
	}
	for i, ref := range li.layers {
		p, ok := prepared[ref.path]
		if !ok {
			if p, err = s.prepareLayer(a, ref); err != nil {
				return v, fmt.Errorf("image %s: %w", shortID(v.id), err)
			}
			prepared[ref.path] = p
		}
		if p.diffID != cfg.RootFS.DiffIDs[i] {
			return v, fmt.Errorf("image %s: layer %d (%s) is %s uncompressed, but the config says %s: the archive is corrupt or was tampered with", shortID(v.id), i+1, ref.path, p.diffID, cfg.RootFS.DiffIDs[i])
		}
		v.layers = append(v.layers, p)
	}
	for _, tag := range li.tags {
		name, err := NormalizeRef(tag)
		if err != nil {
			return v, err
		}
		v.tags = append(v.tags, name)
	}
	return v, nil
}

// prepareLayer hashes a layer blob as stored and decompressed. An
// uncompressed blob in our own spool is used in place; any other is
// copied, decompressed, into a new temp file.
func (s *Store) prepareLayer(a *archive, ref blobRef) (pendingLayer, error) {
	p, err := a.resolve(ref.path)
	if err != nil {
		return pendingLayer{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return pendingLayer{}, fmt.Errorf("the archive has no layer %s", ref.path)
	}
	defer f.Close()
	raw := sha256.New()
	counted := &countingReader{r: io.TeeReader(f, raw)}
	plain, err := overlay.Decompress(counted)
	if err != nil {
		return pendingLayer{}, fmt.Errorf("layer %s: %w", ref.path, err)
	}
	var layer pendingLayer
	if a.owned && !isCompressed(f) {
		// Uncompressed and ours: hash it and move it later, no copy.
		diff := sha256.New()
		n, err := io.Copy(diff, plain)
		if err != nil {
			return layer, fmt.Errorf("read layer %s: %w", ref.path, err)
		}
		layer = pendingLayer{path: p, diffID: "sha256:" + hex.EncodeToString(diff.Sum(nil)), size: n}
		if s.MaxLayerSize > 0 && n > s.MaxLayerSize {
			return layer, fmt.Errorf("layer %s: %w: it is larger than --max-layer-size (%d bytes): refused", ref.path, ErrLayerTooLarge, s.MaxLayerSize)
		}
		if err := s.checkDeclared(p); err != nil {
			return layer, fmt.Errorf("layer %s: %w", ref.path, err)
		}
	} else if layer, err = s.writeLayer(func(w io.Writer) error { _, err := io.Copy(w, plain); return err }); err != nil {
		return layer, fmt.Errorf("layer %s: %w", ref.path, err)
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return layer, fmt.Errorf("read layer %s: %w", ref.path, err)
	}
	got := "sha256:" + hex.EncodeToString(raw.Sum(nil))
	if (ref.digest != "" && got != ref.digest) || (ref.size >= 0 && counted.n != ref.size) {
		if layer.path != p {
			os.Remove(layer.path)
		}
		return layer, fmt.Errorf("layer %s: content (%s, %d bytes) does not match its digest %s: the archive is corrupt or was tampered with", ref.path, got, counted.n, ref.digest)
	}
	return layer, nil
}

// isCompressed reports whether a file starts with the magic number of a
// compression format Decompress knows (gzip, bzip2, zstd).
func isCompressed(f *os.File) bool {
	magic := make([]byte, 4)
	n, _ := f.ReadAt(magic, 0)
	return (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) || (n >= 3 && string(magic[:3]) == "BZh") ||
		(n == 4 && string(magic) == "\x28\xb5\x2f\xfd")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

// Read reads from the underlying reader, counting.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// storeLoaded moves verified images into the store under the lock.
func (s *Store) storeLoaded(images []verifiedImage) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	installed := map[string]bool{}
	for _, v := range images {
		for _, l := range v.layers {
			if !installed[l.diffID] {
				installed[l.diffID] = true
				if err := s.installLayer(l); err != nil {
					return nil, err
				}
			}
		}
	}
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, v := range images {
		if _, err := s.writeConfig(v.config); err != nil {
			return nil, err
		}
		lines = append(lines, retag(repos, v)...)
	}
	return lines, s.writeRepositories(repos)
}

// retag points a loaded image's names at it, saying so as Docker does.
func retag(repos map[string]string, v verifiedImage) []string {
	if len(v.tags) == 0 {
		return []string{"Loaded image ID: " + v.id}
	}
	var lines []string
	sort.Strings(v.tags)
	for _, tag := range v.tags {
		if old, ok := repos[tag]; ok && old != v.id {
			lines = append(lines, fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", tag, old))
		}
		repos[tag] = v.id
		lines = append(lines, "Loaded image: "+tag)
	}
	return lines
}
