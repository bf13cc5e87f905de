//go:build linux

// Saving images as one tar that two kinds of tools read, the layout
// Docker 25 and later write with `docker save`:
//
//	blobs/sha256/<hex>    layers (uncompressed tars), configs, OCI manifests
//	oci-layout            {"imageLayoutVersion":"1.0.0"}
//	index.json            OCI index: one manifest per image, named by the
//	                      annotations io.containerd.image.name (full name)
//	                      and org.opencontainers.image.ref.name (the tag)
//	manifest.json         docker-archive: [{"Config","RepoTags","Layers"}],
//	                      pointing into blobs/
//	repositories          the legacy {"name":{"tag":"<top layer hex>"}}
//
// Each blob is written once, however many images share it; entries are
// in a fixed order with a fixed mtime, so saving twice gives the same bytes.

package image

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Media types of the OCI image spec.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// descriptor points at a blob (OCI image spec, descriptor.md).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

// platform is the os and architecture a manifest is for.
type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// ociManifest is an OCI image manifest, or a Docker v2 one.
type ociManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// ociIndex is an OCI index (or a Docker manifest list).
type ociIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []descriptor `json:"manifests"`
}

// dockerManifest is one image of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// savedImage is an image on its way into an archive.
type savedImage struct {
	img  Image
	tags []string
}

// Save writes the images refs name as one docker-archive / OCI layout tar.
func (s *Store) Save(w io.Writer, refs []string) error {
	images, err := s.imagesToSave(refs)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	a := &archiveWriter{tw: tar.NewWriter(bw), store: s, written: map[string]bool{}}
	a.dir("blobs/")
	a.dir("blobs/sha256/")
	index := ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{}}
	var manifest []dockerManifest
	repositories := map[string]map[string]string{}
	for _, si := range images {
		desc, dm, err := a.image(si)
		if err != nil {
			return err
		}
		index.Manifests = append(index.Manifests, desc...)
		manifest = append(manifest, dm)
		for _, tag := range si.tags {
			name, t := splitNameTag(tag)
			if repositories[name] == nil {
				repositories[name] = map[string]string{}
			}
			diffIDs := si.img.Config.RootFS.DiffIDs
			repositories[name][t] = hexOf(diffIDs[len(diffIDs)-1])
		}
	}
	a.json("index.json", index)
	a.json("manifest.json", manifest)
	a.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	a.json("repositories", repositories)
	if a.err != nil {
		return a.err
	}
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return bw.Flush()
}

// imagesToSave resolves refs; an image named twice is saved once with
// both names, and one named by id keeps no names (as in Docker).
func (s *Store) imagesToSave(refs []string) ([]savedImage, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("save: no image named")
	}
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	var out []savedImage
	at := map[string]int{}
	for _, ref := range refs {
		img, err := s.resolve(ref, repos)
		if err != nil {
			return nil, err
		}
		if len(img.Config.RootFS.DiffIDs) == 0 {
			return nil, fmt.Errorf("save: image %s has no layers", img.ShortID())
		}
		i, seen := at[img.ID]
		if !seen {
			i, at[img.ID] = len(out), len(out)
			out = append(out, savedImage{img: img})
		}
		if name, err := NormalizeRef(ref); err == nil && repos[name] == img.ID {
			out[i].tags = append(out[i].tags, name)
		}
	}
	return out, nil
}

// splitNameTag splits a normalised "name:tag".
func splitNameTag(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	return ref[:i], ref[i+1:]
}

// fullName is Docker's fully qualified form of a normalised name, as
// containerd records it: "base:latest" is "docker.io/library/base:latest".
func fullName(ref string) string {
	first, _, hasSlash := strings.Cut(ref, "/")
	switch {
	case hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost"):
		return ref
	case hasSlash:
		return "docker.io/" + ref
	}
	return "docker.io/library/" + ref
}

// archiveWriter writes entries of a save archive, keeping the first error.
type archiveWriter struct {
	tw      *tar.Writer
	store   *Store
	written map[string]bool // blob digests already in the archive
	err     error
}

// epoch is the mtime of every entry, so that saves are reproducible.
var epoch = time.Unix(0, 0)

// dir writes a directory entry.
func (a *archiveWriter) dir(name string) {
	if a.err == nil {
		a.err = a.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
	}
}

// file writes a regular file from memory.
func (a *archiveWriter) file(name string, data []byte) {
	if a.err != nil {
		return
	}
	if a.err = a.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); a.err == nil {
		_, a.err = a.tw.Write(data)
	}
}

// json writes v as a JSON file.
func (a *archiveWriter) json(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil && a.err == nil {
		a.err = err
	}
	a.file(name, data)
}

// blob writes data as blobs/sha256/<hex> (once) and returns its descriptor.
func (a *archiveWriter) blob(mediaType string, data []byte) descriptor {
	hexID := sha256Hex(data)
	if !a.written[hexID] {
		a.written[hexID] = true
		a.file("blobs/sha256/"+hexID, data)
	}
	return descriptor{MediaType: mediaType, Digest: "sha256:" + hexID, Size: int64(len(data))}
}

// layer copies a stored layer tar in as a blob (once) and returns its descriptor.
func (a *archiveWriter) layer(img Image, diffID string) descriptor {
	path := a.store.path("layers", hexOf(diffID), "layer.tar")
	desc := descriptor{MediaType: mediaTypeLayer, Digest: diffID}
	f, err := os.Open(path)
	if err != nil {
		if a.err == nil {
			a.err = fmt.Errorf("save image %s: layer %s is missing from the store: %w", img.ShortID(), shortID(diffID), err)
		}
		return desc
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		a.err = fmt.Errorf("stat %s: %w", path, err)
		return desc
	}
	desc.Size = fi.Size()
	if a.err != nil || a.written[hexOf(diffID)] {
		return desc
	}
	a.written[hexOf(diffID)] = true
	if a.err = a.tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + hexOf(diffID), Typeflag: tar.TypeReg, Mode: 0o644, Size: desc.Size, ModTime: epoch}); a.err == nil {
		_, a.err = io.Copy(a.tw, f)
	}
	return desc
}

// image writes one image's blobs and returns its index entries and its
// docker-archive manifest entry.
func (a *archiveWriter) image(si savedImage) ([]descriptor, dockerManifest, error) {
	raw, err := a.store.rawConfig(si.img.ID)
	if err != nil {
		return nil, dockerManifest{}, err
	}
	m := ociManifest{SchemaVersion: 2, MediaType: mediaTypeManifest}
	dm := dockerManifest{RepoTags: si.tags, Layers: []string{}}
	for _, diffID := range si.img.Config.RootFS.DiffIDs {
		desc := a.layer(si.img, diffID)
		m.Layers = append(m.Layers, desc)
		dm.Layers = append(dm.Layers, "blobs/sha256/"+hexOf(desc.Digest))
	}
	m.Config = a.blob(mediaTypeConfig, raw)
	dm.Config = "blobs/sha256/" + hexOf(m.Config.Digest)
	data, err := json.Marshal(m)
	if err != nil {
		return nil, dm, err
	}
	desc := a.blob(mediaTypeManifest, data)
	if len(si.tags) == 0 {
		return []descriptor{desc}, dm, a.err
	}
	var descs []descriptor
	for _, tag := range si.tags {
		d := desc
		_, t := splitNameTag(tag)
		d.Annotations = map[string]string{"io.containerd.image.name": fullName(tag), "org.opencontainers.image.ref.name": t}
		descs = append(descs, d)
	}
	return descs, dm, a.err
}
