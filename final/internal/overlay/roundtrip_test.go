//go:build linux

// Round trips: an upper dir as overlay leaves it (whiteout, opaque dir,
// hardlinks, setuid, xattrs, fifo, symlink) goes through WriteLayer and
// back through ApplyLayer, and a real overlay mount of the result hides
// what the whiteouts say.

package overlay

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/tests/skip"
)

// stamp is the mtime given to every file of the test trees.
var stamp = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// makeUpper builds what overlayfs leaves in an upper dir after a container
// wrote a/f (linked as a/g), bin/su, link, p, deleted "gone" and replaced "opq".
func makeUpper(t *testing.T) string {
	t.Helper()
	up := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(up, "a"), 0o750))
	must(os.MkdirAll(filepath.Join(up, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(up, "opq"), 0o755))
	must(os.WriteFile(filepath.Join(up, "a/f"), []byte("content of f"), 0o640))
	must(os.Link(filepath.Join(up, "a/f"), filepath.Join(up, "a/g")))
	must(os.Chown(filepath.Join(up, "a/f"), 1000, 1001))
	must(unix.Lsetxattr(filepath.Join(up, "a/f"), "user.origin", []byte("test"), 0))
	must(os.WriteFile(filepath.Join(up, "bin/su"), []byte("#!/bin/true\n"), 0o755))
	must(os.Chmod(filepath.Join(up, "bin/su"), 0o4755|os.ModeSetuid))
	must(unix.Chmod(filepath.Join(up, "bin/su"), 0o4755))
	must(os.Symlink("a/f", filepath.Join(up, "link")))
	must(unix.Mkfifo(filepath.Join(up, "p"), 0o600))
	must(unix.Mknod(filepath.Join(up, "gone"), unix.S_IFCHR, 0))
	must(unix.Setxattr(filepath.Join(up, "opq"), trustedOpaque, []byte("y"), 0))
	must(os.WriteFile(filepath.Join(up, "opq/new"), []byte("new"), 0o644))
	for _, p := range []string{"a/f", "bin/su", "p", "gone", "opq/new", "link", "a", "bin", "opq"} {
		ts := []unix.Timespec{unix.NsecToTimespec(stamp.UnixNano()), unix.NsecToTimespec(stamp.UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(up, p), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return up
}

// layerOf returns WriteLayer's tar of dir.
func layerOf(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLayer(&buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarIndex maps each entry name of a tar to its header.
func tarIndex(t *testing.T, data []byte) (map[string]*tar.Header, []string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	index, order := map[string]*tar.Header{}, []string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return index, order
		}
		if err != nil {
			t.Fatal(err)
		}
		index[hdr.Name], order = hdr, append(order, hdr.Name)
	}
}

func TestWriteLayerTranslatesOverlay(t *testing.T) {
	skip.UnlessRoot(t)
	up := makeUpper(t)
	data := layerOf(t, up)
	if again := layerOf(t, up); !bytes.Equal(data, again) {
		t.Fatal("two WriteLayer runs over the same dir gave different bytes")
	}
	index, order := tarIndex(t, data)
	want := []string{"a/", "a/f", "a/g", "bin/", "bin/su", ".wh.gone", "link", "opq/", "opq/.wh..wh..opq", "opq/new", "p"}
	for _, name := range want {
		if index[name] == nil {
			t.Errorf("layer has no entry %q; it has %v", name, order)
		}
	}
	if h := index["a/g"]; h != nil && (h.Typeflag != tar.TypeLink || h.Linkname != "a/f") {
		t.Errorf("a/g: type %c link %q, want a hardlink to a/f", h.Typeflag, h.Linkname)
	}
	if h := index["bin/su"]; h != nil && h.Mode&0o4000 == 0 {
		t.Errorf("bin/su lost its setuid bit: mode %o", h.Mode)
	}
	if h := index["a/f"]; h != nil && (h.Uid != 1000 || h.Gid != 1001 || h.Uname != "" || h.PAXRecords[paxXattr+"user.origin"] != "test") {
		t.Errorf("a/f: owner %d:%d uname %q xattrs %v", h.Uid, h.Gid, h.Uname, h.PAXRecords)
	}
	if h := index["opq/"]; h != nil && h.PAXRecords[paxXattr+trustedOpaque] != "" {
		t.Errorf("the overlay xattr leaked into the layer: %v", h.PAXRecords)
	}
	if h := index["a/f"]; h != nil && !h.ModTime.Equal(stamp) {
		t.Errorf("a/f mtime %v, want %v", h.ModTime, stamp)
	}
}

func TestApplyOverlayReproducesUpper(t *testing.T) {
	skip.UnlessRoot(t)
	data := layerOf(t, makeUpper(t))
	dst := t.TempDir()
	if _, err := ApplyLayer(bytes.NewReader(data), dst, ModeOverlay, testLimit); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "gone"), &st); err != nil || !isWhiteout(&st) {
		t.Errorf("gone is not a 0/0 char device: %v mode %o", err, st.Mode)
	}
	if !isOpaque(filepath.Join(dst, "opq")) {
		t.Errorf("opq lost its opaque xattr")
	}
	var f, g unix.Stat_t
	unix.Lstat(filepath.Join(dst, "a/f"), &f)
	unix.Lstat(filepath.Join(dst, "a/g"), &g)
	if f.Ino != g.Ino || f.Uid != 1000 || f.Gid != 1001 {
		t.Errorf("a/f ino %d uid %d gid %d, a/g ino %d", f.Ino, f.Uid, f.Gid, g.Ino)
	}
	// The strongest check: the unpacked dir tars to the very same bytes.
	if again := layerOf(t, dst); !bytes.Equal(data, again) {
		a, order := tarIndex(t, data)
		b, _ := tarIndex(t, again)
		for _, name := range order {
			if x, y := a[name], b[name]; y == nil || fmt.Sprint(*x) != fmt.Sprint(*y) {
				t.Errorf("entry %s differs:\n%+v\n%+v", name, x, y)
			}
		}
	}
}

func TestApplyFlattenCarriesOutWhiteouts(t *testing.T) {
	skip.UnlessRoot(t)
	lower := buildTar(t, file("gone", "old"), dir("opq/"), file("opq/old", "old"), file("keep", "kept"))
	dst := t.TempDir()
	for _, layer := range [][]byte{lower, layerOf(t, makeUpper(t))} {
		if _, err := ApplyLayer(bytes.NewReader(layer), dst, ModeFlatten, testLimit); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]bool{"gone": false, "opq/old": false, "opq/new": true, "keep": true, "a/g": true, ".wh.gone": false, "opq/.wh..wh..opq": false} {
		_, err := os.Lstat(filepath.Join(dst, name))
		if (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", name, err == nil, want)
		}
	}
}

func TestMountHidesWhiteouts(t *testing.T) {
	skip.UnlessRoot(t)
	base := t.TempDir()
	lower, top, merged := filepath.Join(base, "lower"), filepath.Join(base, "top"), filepath.Join(base, "merged")
	for _, d := range []string{lower, top, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ApplyLayer(bytes.NewReader(buildTar(t, file("gone", "old"), dir("opq/"), file("opq/old", "old"))), lower, ModeOverlay, testLimit); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyLayer(bytes.NewReader(layerOf(t, makeUpper(t))), top, ModeOverlay, testLimit); err != nil {
		t.Fatal(err)
	}
	if err := CheckUpper(base); err != nil {
		t.Fatalf("CheckUpper on the test's temp dir: %v", err)
	}
	if err := Mount([]string{top, lower}, "", "", merged, unix.MS_RDONLY); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	for name, want := range map[string]bool{"gone": false, "opq/old": false, "opq/new": true, "a/f": true} {
		if _, err := os.Lstat(filepath.Join(merged, name)); (err == nil) != want {
			t.Errorf("merged %s exists: %v, want %v", name, err == nil, want)
		}
	}
	if err := CheckUpper(merged); err == nil || !strings.Contains(err.Error(), "MINIDOCKER_ROOT") {
		t.Errorf("CheckUpper on an overlay = %v, want a refusal naming MINIDOCKER_ROOT", err)
	}
}

func TestOptions(t *testing.T) {
	got := Options([]string{"/l/top", "/l/a:b"}, "/u,x", "/w")
	want := `lowerdir=/l/top:/l/a\:b,upperdir=/u\,x,workdir=/w`
	if got != want {
		t.Errorf("Options = %q, want %q", got, want)
	}
	if got := Options([]string{"/a", "/b"}, "", ""); got != "lowerdir=/a:/b" {
		t.Errorf("read-only Options = %q", got)
	}
}
