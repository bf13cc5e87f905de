//go:build linux

// Tests of the store's own operations: commit, resolve, tag, rmi,
// history, prune, import, the base image, concurrency and crash leftovers.

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// newStore opens a store in a fresh temp dir.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// upper makes a directory holding files (name -> content).
func upper(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// commit commits files on top of parent under ref.
func commit(t *testing.T, s *Store, files map[string]string, parent Image, ref string, changes ...string) Image {
	t.Helper()
	img, err := s.Commit(upper(t, files), parent, CommitOptions{Ref: ref, Comment: "made by " + t.Name(), CreatedBy: "test", Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// readLayerFile reads name from the top unpacked layer that has it.
func readLayerFile(t *testing.T, s *Store, img Image, name string) string {
	t.Helper()
	dirs, err := s.LayerDirs(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			return string(data)
		}
	}
	t.Fatalf("no layer of %s has %s", img.ShortID(), name)
	return ""
}

// layerCount counts the stored layers.
func layerCount(t *testing.T, s *Store) int {
	entries, err := os.ReadDir(s.path("layers"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestCommitResolveTagRemove(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	base := commit(t, s, map[string]string{"etc/os": "base"}, Image{}, "base")
	app := commit(t, s, map[string]string{"app/run": "app"}, base, "app:v1", `CMD ["echo", "hi"]`, "ENV A=1 B=two")
	if len(app.Config.RootFS.DiffIDs) != 2 || app.Config.RootFS.DiffIDs[0] != base.Config.RootFS.DiffIDs[0] {
		t.Fatalf("app layers %v do not extend base's %v", app.Config.RootFS.DiffIDs, base.Config.RootFS.DiffIDs)
	}
	if !reflect.DeepEqual(app.Config.Config.Cmd, []string{"echo", "hi"}) || !reflect.DeepEqual(app.Config.Config.Env, []string{"A=1", "B=two"}) {
		t.Errorf("app run config %+v", app.Config.Config)
	}
	for _, ref := range []string{"app:v1", app.ID, hexOf(app.ID), app.ShortID(), "docker.io/library/app:v1"} {
		if got, err := s.Resolve(ref); err != nil || got.ID != app.ID {
			t.Errorf("Resolve(%q) = %s, %v; want %s", ref, got.ID, err, app.ID)
		}
	}
	if _, err := s.Resolve("app"); !errors.Is(err, ErrNotFound) || err.Error() != "no such image: app" {
		t.Errorf(`Resolve("app") = %v, want "no such image: app"`, err)
	}
	if got := readLayerFile(t, s, app, "etc/os"); got != "base" {
		t.Errorf("etc/os through app's layers = %q", got)
	}
	if dirs, _ := s.LayerDirs(app); !strings.Contains(dirs[0], hexOf(app.Config.RootFS.DiffIDs[1])) {
		t.Errorf("LayerDirs not top first: %v", dirs)
	}
	again := commit(t, s, map[string]string{"app/run": "app"}, base, "")
	if again.Config.RootFS.DiffIDs[1] != app.Config.RootFS.DiffIDs[1] || layerCount(t, s) != 2 {
		t.Errorf("the same upper dir was not stored once: %d layers", layerCount(t, s))
	}

	if err := s.Tag("app:v1", "app:v2"); err != nil {
		t.Fatal(err)
	}
	if lines, err := s.Remove("app:v2", false, nil); err != nil || !reflect.DeepEqual(lines, []string{"Untagged: app:v2"}) {
		t.Errorf("rmi app:v2 = %v, %v", lines, err)
	}
	s.Tag("app:v1", "app:v3")
	if _, err := s.Remove(app.ShortID(), false, nil); err == nil || !strings.Contains(err.Error(), "multiple repositories") {
		t.Errorf("rmi by id of an image with two tags = %v, want a refusal", err)
	}
	s.Remove("app:v3", false, nil)
	used := func(id string) []string {
		if id == app.ID {
			return []string{"c0ffee"}
		}
		return nil
	}
	if _, err := s.Remove("app:v1", false, used); err == nil || !strings.Contains(err.Error(), `conflict: unable to remove repository reference "app:v1" (must force) - container c0ffee is using its referenced image `+app.ShortID()) {
		t.Errorf("rmi of an image in use = %v", err)
	}
	if _, err := s.Remove(app.ShortID(), false, used); err == nil || !strings.Contains(err.Error(), "conflict: unable to delete "+app.ShortID()+" (must be forced) - image is being used by container c0ffee") {
		t.Errorf("rmi by id of an image in use = %v", err)
	}
	if lines, err := s.Remove("app:v1", true, used); err != nil || !reflect.DeepEqual(lines, []string{"Untagged: app:v1"}) {
		t.Errorf("rmi -f of an image in use = %v, %v; want it untagged and kept", lines, err)
	}
	if _, err := s.Resolve(app.ID); err != nil {
		t.Errorf("a forced rmi deleted an image in use: %v", err)
	}
	s.Remove(again.ID, false, nil)
	lines, err := s.Remove(app.ID, false, nil)
	want := []string{"Deleted: " + app.ID, "Deleted: " + app.Config.RootFS.DiffIDs[1]}
	if err != nil || !reflect.DeepEqual(lines, want) {
		t.Errorf("rmi %s = %v, %v; want %v", app.ShortID(), lines, err, want)
	}
	if got := readLayerFile(t, s, base, "etc/os"); got != "base" || layerCount(t, s) != 1 {
		t.Errorf("base lost its layer: %q, %d layers", got, layerCount(t, s))
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	s := newStore(t)
	byDigit := map[byte][]string{}
	var pair []string
	for i := 0; pair == nil; i++ { // 17 configs are enough for two to share a first digit
		id, err := s.writeConfig([]byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","author":"%d","rootfs":{"type":"layers","diff_ids":[]}}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		h := hexOf(id)
		byDigit[h[0]] = append(byDigit[h[0]], h)
		if len(byDigit[h[0]]) == 2 {
			pair = byDigit[h[0]]
		}
	}
	_, err := s.Resolve(pair[0][:1])
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), pair[0][:12]) || !strings.Contains(err.Error(), pair[1][:12]) {
		t.Errorf("Resolve(%q) = %v, want an ambiguity naming %s and %s", pair[0][:1], err, pair[0][:12], pair[1][:12])
	}
	if img, err := s.Resolve(pair[0][:20]); err != nil || img.ID != "sha256:"+pair[0] {
		t.Errorf("Resolve of a unique prefix = %v, %v", img.ID, err)
	}
	if _, err := s.Resolve("sha256:" + strings.Repeat("0", 63) + "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of a non-hex id = %v", err)
	}
}

func TestHistoryAndList(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	base := commit(t, s, map[string]string{"a": "1"}, Image{}, "base")
	app := commit(t, s, map[string]string{"b": "22"}, base, "app")
	rows, err := s.History("app")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].ID != app.ID || rows[1].ID != "<missing>" || rows[0].Size == 0 || rows[0].Comment != "made by "+t.Name() {
		t.Errorf("history = %+v", rows)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if list[0].CreatedAt().Before(list[1].CreatedAt()) {
		t.Errorf("List is not newest first")
	}
}

func TestParseChange(t *testing.T) {
	tests := []struct {
		changes []string
		want    RunConfig
	}{
		{[]string{`CMD ["a", "b"]`}, RunConfig{Cmd: []string{"a", "b"}}},
		{[]string{`cmd echo hi`}, RunConfig{Cmd: []string{"/bin/sh", "-c", "echo hi"}}},
		{[]string{`CMD x`, `ENTRYPOINT ["/e"]`}, RunConfig{Cmd: []string{"/bin/sh", "-c", "x"}, Entrypoint: []string{"/e"}}},
		{[]string{`ENTRYPOINT ["/e"]`}, RunConfig{Entrypoint: []string{"/e"}}},
		{[]string{`ENV A=1 B="two words"`, `ENV A 3`}, RunConfig{Env: []string{"B=two words", "A=3"}}},
		{[]string{`WORKDIR /srv`, `WORKDIR app`}, RunConfig{WorkingDir: "/srv/app"}},
		{[]string{`USER nobody:nogroup`}, RunConfig{User: "nobody:nogroup"}},
		{[]string{`EXPOSE 80 53/udp`}, RunConfig{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}}}},
		{[]string{`LABEL a=b "c d"=e`}, RunConfig{Labels: map[string]string{"a": "b", "c d": "e"}}},
		{[]string{`VOLUME ["/data"]`, `VOLUME /x /y`}, RunConfig{Volumes: map[string]struct{}{"/data": {}, "/x": {}, "/y": {}}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.changes, "; "), func(t *testing.T) {
			cfg := RunConfig{Cmd: []string{"inherited"}}
			if tt.want.Cmd == nil && tt.want.Entrypoint == nil {
				tt.want.Cmd = []string{"inherited"}
			}
			if err := ApplyChanges(tt.changes, &cfg); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("got %+v, want %+v", cfg, tt.want)
			}
		})
	}
	for _, bad := range []string{"ONBUILD RUN x", "EXPOSE http", "VOLUME rel", "CMD", `ENV A="open`} {
		if err := ParseChange(bad, &RunConfig{}); err == nil {
			t.Errorf("ParseChange(%q) accepted", bad)
		}
	}
}

// tarOf builds an in-memory tar of files (name -> content), in name order.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return buf.Bytes()
}

// gzipped compresses data.
func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestImportAndEnsureBase(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	img, err := s.Import(bytes.NewReader(gzipped(tarOf(t, map[string]string{"hello": "imported"}))), "imp:1", []string{`CMD ["/hello"]`}, "from a test")
	if err != nil {
		t.Fatal(err)
	}
	if got := readLayerFile(t, s, img, "hello"); got != "imported" || img.Config.Config.Cmd[0] != "/hello" || img.Tags[0] != "imp:1" {
		t.Errorf("imported image: %q %+v", got, img)
	}
	if _, err := s.Import(strings.NewReader("not a tar at all, just words"), "bad", nil, ""); err == nil {
		t.Errorf("Import accepted a non-tar")
	}
	calls := 0
	build := func(rootfs string) error {
		calls++
		return os.WriteFile(filepath.Join(rootfs, "sh"), []byte("#!"), 0o755)
	}
	b, made, err := s.EnsureBase(build)
	if err != nil || !made || b.Tags[0] != BaseRef || b.Config.Config.Cmd[0] != "/bin/sh" || b.Config.History[0].CreatedBy != "created from the host by minidocker" {
		t.Fatalf("EnsureBase = %+v, %v, %v", b, made, err)
	}
	if _, made, err := s.EnsureBase(build); err != nil || made || calls != 1 {
		t.Errorf("second EnsureBase: made %v, build called %d times, %v", made, calls, err)
	}
}

func TestPruneAndDiskUsage(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	base := commit(t, s, map[string]string{"a": "1"}, Image{}, "base")
	dangling := commit(t, s, map[string]string{"b": strings.Repeat("x", 5000)}, base, "")
	u, err := s.DiskUsage(nil)
	if err != nil || u.Images != 2 || u.Layers != 2 || u.Reclaimable != u.Size {
		t.Errorf("DiskUsage = %+v, %v", u, err)
	}
	lines, freed, err := s.Prune(nil, false)
	if err != nil || freed < 5000 || len(lines) != 2 || lines[0] != "Deleted: "+dangling.ID {
		t.Errorf("Prune = %v, %d, %v", lines, freed, err)
	}
	if _, err := s.Resolve("base"); err != nil {
		t.Errorf("prune removed a tagged image: %v", err)
	}
	if _, _, err := s.Prune(func(string) []string { return []string{"c"} }, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("base"); err != nil {
		t.Errorf("prune -a removed an image in use: %v", err)
	}
}

func TestConcurrentCommits(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			other, _ := Open(s.dir) // its own lock fd, as another process would have
			for i := 0; i < 5; i++ {
				dir := upper(t, map[string]string{"f": fmt.Sprint(g, i), "shared": "same"})
				_, err := other.Commit(dir, Image{}, CommitOptions{Ref: fmt.Sprintf("c%d:%d", g, i)})
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for g := 0; g < 4; g++ {
		for i := 0; i < 5; i++ {
			img, err := s.Resolve(fmt.Sprintf("c%d:%d", g, i))
			if err != nil {
				t.Fatal(err)
			}
			if got := readLayerFile(t, s, img, "f"); got != fmt.Sprint(g, i) {
				t.Errorf("c%d:%d has f = %q", g, i, got)
			}
		}
	}
	if leftovers, _ := os.ReadDir(s.path("tmp")); len(leftovers) != 0 {
		t.Errorf("tmp/ not empty after the commits: %v", leftovers)
	}
}

func TestCrashLeftovers(t *testing.T) {
	skip.UnlessRoot(t)
	s := newStore(t)
	base := commit(t, s, map[string]string{"a": "1"}, Image{}, "base")
	// What crashes leave: temp files of a dead process, a layer dir never
	// given its layer.tar, and an image whose layer vanished.
	stray := s.path("tmp", "999999999-layer-abc")
	os.WriteFile(stray, []byte("half a layer"), 0o600)
	os.MkdirAll(s.path("tmp", "999999999-diff-abc", "etc"), 0o755)
	orphan := s.path("layers", strings.Repeat("ab", 32))
	os.MkdirAll(filepath.Join(orphan, "diff"), 0o755)
	os.Remove(s.path("layers", hexOf(base.Config.RootFS.DiffIDs[0]), "layer.tar"))
	mine := s.path("tmp", fmt.Sprintf("%d-layer-inuse", os.Getpid()))
	os.WriteFile(mine, nil, 0o600)

	if _, err := s.LayerDirs(base); err == nil || !strings.Contains(err.Error(), "missing from the store") {
		t.Errorf("LayerDirs of an image whose layer is gone = %v", err)
	}
	for _, p := range []string{stray, s.path("tmp", "999999999-diff-abc"), orphan} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s survived a locked operation", p)
		}
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("the temp file of a live process was removed")
	}
	if list, err := s.List(); err != nil || len(list) != 1 {
		t.Errorf("List of a store with a broken image = %v, %v", list, err)
	}
	commit(t, s, map[string]string{"b": "2"}, base, "next")
}
