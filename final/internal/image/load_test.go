//go:build linux

// Save and load: a round trip between two stores, archives built in
// memory in the shapes other tools write (classic docker-archive, OCI
// layout with a nested index and a gzip layer), tampered archives, and
// the fixtures podman wrote (testdata/README.md).

package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// archiveEntry is one entry of an archive built by a test.
type archiveEntry struct {
	name, body, link string
}

// buildArchive writes entries, in order, into a tar.
func buildArchive(t *testing.T, entries []archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

// readArchive returns every regular file of a tar, by name.
func readArchive(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
}

// snapshot lists every file of a store with its size, to compare before and after.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			lines = append(lines, fmt.Sprintf("%s %d", strings.TrimPrefix(p, s.dir), info.Size()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// configFor is a minimal image config listing layers (uncompressed tars).
func configFor(layers ...[]byte) []byte {
	cfg := Config{Architecture: runtime.GOARCH, OS: "linux", RootFS: RootFS{Type: "layers"}, Config: RunConfig{Cmd: []string{"/x"}}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, "sha256:"+sha256Hex(l))
	}
	data, _ := json.Marshal(cfg)
	return data
}

func TestSaveLoadRoundTrip(t *testing.T) {
	skip.UnlessRoot(t)
	src := newStore(t)
	base := commit(t, src, map[string]string{"etc/os": "base"}, Image{}, "base")
	app := commit(t, src, map[string]string{"app": "v1"}, base, "app:v1")
	var buf bytes.Buffer
	if err := src.Save(&buf, []string{"app:v1", "base"}); err != nil {
		t.Fatal(err)
	}
	files := readArchive(t, buf.Bytes())
	var manifest []dockerManifest
	json.Unmarshal(files["manifest.json"], &manifest)
	var index ociIndex
	json.Unmarshal(files["index.json"], &index)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` || len(manifest) != 2 || len(index.Manifests) != 2 {
		t.Fatalf("archive: oci-layout %q, %d docker manifests, %d OCI manifests", files["oci-layout"], len(manifest), len(index.Manifests))
	}
	if manifest[0].Config != "blobs/sha256/"+hexOf(app.ID) || manifest[0].RepoTags[0] != "app:v1" || len(manifest[0].Layers) != 2 {
		t.Errorf("manifest.json entry %+v", manifest[0])
	}
	if a := index.Manifests[0].Annotations; a["io.containerd.image.name"] != "docker.io/library/app:v1" || a["org.opencontainers.image.ref.name"] != "v1" {
		t.Errorf("index.json annotations %v", a)
	}
	if layers := 0; true {
		for name := range files {
			if strings.HasPrefix(name, "blobs/sha256/") && len(name) > 20 {
				layers++
			}
		}
		if layers != 2+2+2 { // two layers, two configs, two manifests: base's layer once
			t.Errorf("%d blobs, want 6", layers)
		}
	}
	var again bytes.Buffer
	src.Save(&again, []string{"app:v1", "base"})
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("two saves differ")
	}

	dst := newStore(t)
	lines, err := dst.Load(bytes.NewReader(buf.Bytes()))
	if err != nil || strings.Join(lines, "\n") != "Loaded image: app:v1\nLoaded image: base:latest" {
		t.Fatalf("Load = %q, %v", lines, err)
	}
	got, err := dst.Resolve("app:v1")
	if err != nil || got.ID != app.ID || strings.Join(got.Config.RootFS.DiffIDs, ",") != strings.Join(app.Config.RootFS.DiffIDs, ",") {
		t.Fatalf("loaded app: %s %v, %v; want %s %v", got.ID, got.Config.RootFS.DiffIDs, err, app.ID, app.Config.RootFS.DiffIDs)
	}
	if readLayerFile(t, dst, got, "etc/os") != "base" || readLayerFile(t, dst, got, "app") != "v1" {
		t.Errorf("loaded layers have the wrong content")
	}
	if entries, _ := os.ReadDir(dst.path("tmp")); len(entries) != 0 {
		t.Errorf("Load left %d entries in tmp/", len(entries))
	}
}

func TestLoadClassicDockerArchive(t *testing.T) {
	skip.UnlessRoot(t)
	layer := tarOf(t, map[string]string{"hello": "classic"})
	config := configFor(layer)
	cfgName := sha256Hex(config) + ".json"
	manifest := `[{"Config":"` + cfgName + `","RepoTags":["classic:1"],"Layers":["aaaa/layer.tar"]}]`
	// manifest.json first and the layer behind a symlink, as older Docker wrote them.
	archive := buildArchive(t, []archiveEntry{
		{name: "manifest.json", body: manifest},
		{name: "aaaa/layer.tar", link: "../bbbb/layer.tar"},
		{name: "aaaa/VERSION", body: "1.0"},
		{name: "repositories", body: `{"classic":{"1":"aaaa"}}`},
		{name: "bbbb/layer.tar", body: string(layer)},
		{name: cfgName, body: string(config)},
	})
	s := newStore(t)
	lines, err := s.Load(bytes.NewReader(gzipped(archive)))
	if err != nil || len(lines) != 1 || lines[0] != "Loaded image: classic:1" {
		t.Fatalf("Load = %v, %v", lines, err)
	}
	img, _ := s.Resolve("classic:1")
	if img.ID != "sha256:"+sha256Hex(config) || readLayerFile(t, s, img, "hello") != "classic" {
		t.Errorf("classic image %s", img.ID)
	}
}

// ociLayout builds an OCI layout tar: index.json -> nested index (one
// manifest for another platform, one for this one) -> manifest with a gzip layer.
func ociLayout(t *testing.T, layer []byte) ([]byte, []byte) {
	gz := gzipped(layer)
	config := configFor(layer)
	blob := func(mediaType string, data []byte) descriptor {
		return descriptor{MediaType: mediaType, Digest: "sha256:" + sha256Hex(data), Size: int64(len(data))}
	}
	manifest, _ := json.Marshal(ociManifest{SchemaVersion: 2, MediaType: mediaTypeManifest,
		Config: blob(mediaTypeConfig, config), Layers: []descriptor{blob(mediaTypeLayer+"+gzip", gz)}})
	mine, other := blob(mediaTypeManifest, manifest), descriptor{MediaType: mediaTypeManifest, Digest: "sha256:" + strings.Repeat("0", 64), Size: 1}
	mine.Platform, other.Platform = &platform{OS: "linux", Architecture: runtime.GOARCH}, &platform{OS: "linux", Architecture: "s390x-not-this"}
	nested, _ := json.Marshal(ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{other, mine}})
	top := blob(mediaTypeIndex, nested)
	top.Annotations = map[string]string{"io.containerd.image.name": "docker.io/library/oci:1", "org.opencontainers.image.ref.name": "1"}
	index, _ := json.Marshal(ociIndex{SchemaVersion: 2, Manifests: []descriptor{top}})
	entries := []archiveEntry{{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`}, {name: "index.json", body: string(index)}}
	for _, data := range [][]byte{nested, manifest, config, gz} {
		entries = append(entries, archiveEntry{name: "blobs/sha256/" + sha256Hex(data), body: string(data)})
	}
	return buildArchive(t, entries), config
}

func TestLoadOCILayoutWithGzipLayer(t *testing.T) {
	skip.UnlessRoot(t)
	archive, config := ociLayout(t, tarOf(t, map[string]string{"etc/greeting": "from an OCI layout"}))
	s := newStore(t)
	lines, err := s.Load(bytes.NewReader(archive))
	if err != nil || len(lines) != 1 || lines[0] != "Loaded image: oci:1" {
		t.Fatalf("Load = %v, %v", lines, err)
	}
	img, _ := s.Resolve("oci:1")
	if img.ID != "sha256:"+sha256Hex(config) || readLayerFile(t, s, img, "etc/greeting") != "from an OCI layout" {
		t.Errorf("OCI image %s", img.ID)
	}
}

func TestLoadRefusesTampering(t *testing.T) {
	skip.UnlessRoot(t)
	src := newStore(t)
	commit(t, src, map[string]string{"f": "genuine"}, Image{}, "victim")
	var saved bytes.Buffer
	src.Save(&saved, []string{"victim"})
	layer := tarOf(t, map[string]string{"hello": "real"})
	evil := tarOf(t, map[string]string{"hello": "evil"})
	config := configFor(layer)
	cfgName := sha256Hex(config) + ".json"
	tests := map[string][]byte{
		"a layer blob whose bytes changed": tamper(t, saved.Bytes(), "f", "genuine", "GENUINE"),
		"a layer that is not the config's diff_id": buildArchive(t, []archiveEntry{
			{name: "manifest.json", body: `[{"Config":"` + cfgName + `","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]`},
			{name: cfgName, body: string(config)},
			{name: "l/layer.tar", body: string(evil)},
		}),
		"a config that is not its digest": buildArchive(t, []archiveEntry{
			{name: "manifest.json", body: `[{"Config":"` + cfgName + `","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]`},
			{name: cfgName, body: strings.Replace(string(config), "/x", "/y", 1)},
			{name: "l/layer.tar", body: string(layer)},
		}),
		"not an image archive": tarOf(t, map[string]string{"etc/passwd": "root"}),
	}
	dst := newStore(t)
	commit(t, dst, map[string]string{"g": "1"}, Image{}, "existing")
	before := snapshot(t, dst)
	for name, archive := range tests {
		t.Run(name, func(t *testing.T) {
			if lines, err := dst.Load(bytes.NewReader(archive)); err == nil {
				t.Errorf("Load accepted it: %v", lines)
			} else {
				t.Log(err)
			}
			if after := snapshot(t, dst); after != before {
				t.Errorf("the store changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// tamper rewrites the archive with the content of the blob holding a
// file named inner changed from old to new (same length).
func tamper(t *testing.T, archive []byte, inner, old, new string) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(archive))
	changed := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		body, _ := io.ReadAll(tr)
		if bytes.Contains(body, []byte(old)) && bytes.Contains(body, []byte(inner)) {
			body, changed = bytes.Replace(body, []byte(old), []byte(new), 1), true
		}
		tw.WriteHeader(hdr)
		tw.Write(body)
	}
	tw.Close()
	if !changed {
		t.Fatal("tamper found nothing to change")
	}
	return out.Bytes()
}

func TestLoadPodmanFixtures(t *testing.T) {
	skip.UnlessRoot(t)
	for _, name := range []string{"podman-docker-archive.tar", "podman-oci-archive.tar"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := newStore(t)
			lines, err := s.Load(f)
			if err != nil || len(lines) != 1 || lines[0] != "Loaded image: localhost/hello:latest" {
				t.Fatalf("Load = %v, %v", lines, err)
			}
			img, err := s.Resolve("localhost/hello")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(img.ID, "sha256:11909f7c9510") || img.Config.Config.Cmd[0] != "/hello.txt" {
				t.Errorf("image %s, cmd %v", img.ID, img.Config.Config.Cmd)
			}
			if got := readLayerFile(t, s, img, "hello.txt"); got != "hello from podman\n" {
				t.Errorf("hello.txt = %q", got)
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	skip.UnlessRoot(t)
	archive, config := ociLayout(t, tarOf(t, map[string]string{"d": "dir layout"}))
	dir := t.TempDir()
	for name, body := range readArchive(t, archive) {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), body, 0o644)
	}
	s := newStore(t)
	if _, err := s.LoadDir(dir); err != nil {
		t.Fatal(err)
	}
	img, err := s.Resolve("oci:1")
	if err != nil || img.ID != "sha256:"+sha256Hex(config) || readLayerFile(t, s, img, "d") != "dir layout" {
		t.Errorf("LoadDir image %s, %v", img.ID, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Errorf("LoadDir changed the directory it read: %v", err)
	}
}

// countingSource is an endless reader of zeros that counts what was read from it.
type countingSource struct{ n int64 }

// Read fills p with zeros.
func (c *countingSource) Read(p []byte) (int, error) {
	clear(p)
	c.n += int64(len(p))
	return len(p), nil
}

func TestLoadRefusesWhatNoArchiveHoldsBeforeWritingIt(t *testing.T) {
	skip.UnlessRoot(t)
	wrong := "blobs/sha256/" + strings.Repeat("ab", 32)
	tests := []struct {
		name   string
		member string
		size   int64
		want   string
	}{
		{"a file no archive has", "disk.img", 1 << 40, `it holds "disk.img", which neither a docker-archive nor an OCI layout has`},
		{"too deep", "blobs/sha256/x/layer.tar", 1, "neither a docker-archive nor an OCI layout"},
		{"a manifest of 1 GiB", "manifest.json", 1 << 30, "archive member manifest.json is 1073741824 bytes: a manifest.json is at most 16777216"},
		{"a blob larger than the disk", wrong, 1 << 50, "bytes free under"},
		{"a blob that is not its digest", wrong, 1 << 20, "archive member " + wrong + ": content does not match its digest"},
	}
	s := newStore(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			src := &countingSource{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tw := tar.NewWriter(pw)
				err := tw.WriteHeader(&tar.Header{Name: tc.member, Mode: 0o644, Size: tc.size, Typeflag: tar.TypeReg})
				if err == nil {
					_, err = io.Copy(tw, io.LimitReader(src, tc.size))
				}
				pw.CloseWithError(err)
			}()
			_, err := s.Load(pr)
			pr.Close() // the writer stops
			<-done
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error with %q", err, tc.want)
			}
			if tc.size > 1<<20 && src.n > 1<<20 {
				t.Errorf("Load read %d bytes of the member before refusing it", src.n)
			}
			if left, _ := os.ReadDir(s.path("tmp")); len(left) != 0 {
				t.Errorf("Load left %d entries in tmp/", len(left))
			}
		})
	}
}

func TestLoadSkipsAPaxGlobalHeader(t *testing.T) {
	skip.UnlessRoot(t)
	archive, _ := ociLayout(t, tarOf(t, map[string]string{"etc/greeting": "hi"}))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "git archive"}})
	tw.Flush()
	buf.Write(archive) // a tar's entries, after the global header; its end marks the end
	if lines, err := newStore(t).Load(&buf); err != nil || len(lines) != 1 {
		t.Errorf("Load = %v, %v", lines, err)
	}
}
