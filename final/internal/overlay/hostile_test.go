//go:build linux

// Hostile layers: tars built in memory whose names, symlinks and
// hardlinks try to write outside the directory they are unpacked into.
// Each case checks that a directory beside the root and /etc/passwd are
// untouched, whether ApplyLayer refused the tar or resolved it inside.

package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	kind             byte
	major, minor     int64
}

// buildTar makes a tar of entries in the given order.
func buildTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.kind, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), Devmajor: e.major, Devminor: e.minor}
		if e.kind == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if e.kind != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// file, dir, symlink and hardlink are shorthands for entries.
func file(name, body string) entry   { return entry{name: name, body: body, kind: tar.TypeReg} }
func dir(name string) entry          { return entry{name: name, kind: tar.TypeDir} }
func symlink(name, to string) entry  { return entry{name: name, link: to, kind: tar.TypeSymlink} }
func hardlink(name, to string) entry { return entry{name: name, link: to, kind: tar.TypeLink} }

func TestApplyLayerHostile(t *testing.T) {
	passwd, _ := os.ReadFile("/etc/passwd")
	tests := []struct {
		name    string
		entries func(outside string) []entry
		mode    Mode
		wantErr bool
		inside  string // a file that must exist inside the root afterwards
	}{
		{"symlink to outside then a file through it", func(o string) []entry {
			return []entry{symlink("evil", o), file("evil/file", "pwned")}
		}, ModeFlatten, true, ""},
		{"symlink to / then the outside path through it", func(o string) []entry {
			return []entry{symlink("evil", "/"), file("evil"+o+"/file", "pwned")}
		}, ModeFlatten, false, "OUTSIDE/file"},
		{"dot-dot name", func(o string) []entry { return []entry{file("../outside/file", "pwned")} }, ModeFlatten, true, ""},
		{"dot-dot inside a name", func(o string) []entry { return []entry{file("a/../../outside/file", "pwned")} }, ModeFlatten, true, ""},
		{"absolute name", func(o string) []entry { return []entry{file(o+"/file", "pwned")} }, ModeFlatten, false, "OUTSIDE/file"},
		{"hardlink to /etc/passwd", func(o string) []entry { return []entry{hardlink("passwd", "/etc/passwd")} }, ModeFlatten, true, ""},
		{"hardlink through a symlinked dir", func(o string) []entry {
			return []entry{symlink("etc2", "/etc"), hardlink("passwd", "etc2/passwd")}
		}, ModeFlatten, true, ""},
		{"hardlink to a file outside", func(o string) []entry { return []entry{hardlink("t", o+"/target")} }, ModeFlatten, true, ""},
		{"symlink chain out of the root", func(o string) []entry {
			return []entry{symlink("a", "b"), symlink("b", "../../../../.."+o), file("a/file", "pwned")}
		}, ModeFlatten, true, ""},
		{"symlink chain that resolves inside", func(o string) []entry {
			return []entry{symlink("a", "b"), symlink("b", "../../.."), file("a/file", "inside")}
		}, ModeFlatten, false, "file"},
		{"regular file replaces a symlink to outside", func(o string) []entry {
			return []entry{symlink("f", o+"/target"), file("f", "pwned")}
		}, ModeFlatten, false, "f"},
		{"whiteout through a symlink", func(o string) []entry {
			return []entry{symlink("d", o), file("d/.wh.target", "")}
		}, ModeFlatten, false, ""},
		{"opaque dir through a symlink", func(o string) []entry {
			return []entry{symlink("d", o), file("d/.wh..wh..opq", "")}
		}, ModeFlatten, true, ""},
		{"overlay whiteout through a symlink", func(o string) []entry {
			return []entry{symlink("d", o), file("d/.wh.target", "")}
		}, ModeOverlay, true, ""},
		{"device node is skipped", func(o string) []entry {
			return []entry{{name: "disk", kind: tar.TypeBlock, major: 8, minor: 0}, {name: "null", kind: tar.TypeChar, major: 1, minor: 3}}
		}, ModeFlatten, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "target"), []byte("orig"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ApplyLayer(bytes.NewReader(buildTar(t, tt.entries(outside)...)), root, tt.mode, testLimit)
			if tt.wantErr != (err != nil) {
				t.Errorf("ApplyLayer error = %v, want error: %v", err, tt.wantErr)
			}
			names, _ := os.ReadDir(outside)
			got, _ := os.ReadFile(filepath.Join(outside, "target"))
			if len(names) != 1 || string(got) != "orig" {
				t.Errorf("the dir outside the root changed: %d entries, target %q", len(names), got)
			}
			if now, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(now, passwd) {
				t.Errorf("/etc/passwd changed")
			}
			for _, n := range []string{"disk", "null"} {
				if _, err := os.Lstat(filepath.Join(root, n)); err == nil {
					t.Errorf("device node %s was created", n)
				}
			}
			if tt.inside != "" {
				p := filepath.Join(root, strings.Replace(tt.inside, "OUTSIDE", outside, 1))
				if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("expected regular file %s inside the root: %v", p, err)
				}
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"a/b", "a/b", false},
		{"./a/b/", "a/b", false},
		{"/abs/x", "abs/x", false},
		{"./", "", false},
		{"a//b/./c", "a/b/c", false},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"a/..", "", true},
	}
	for _, tt := range tests {
		got, err := cleanName(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("cleanName(%q) = %q, %v; want %q, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestDecompressGzipLayer(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(buildTar(t, dir("d/"), file("d/hello", "hi")))
	zw.Close()
	root := t.TempDir()
	size, err := ApplyLayer(&gz, root, ModeFlatten, testLimit)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "d/hello")); string(got) != "hi" || size != 2 {
		t.Errorf("gzip layer: content %q size %d", got, size)
	}
}
