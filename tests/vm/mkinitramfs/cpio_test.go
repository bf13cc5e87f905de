// cpio_test.go — pack a small staging tree and read the archive back with a
// minimal newc reader, checking every field the kernel relies on: the magic,
// the 4-byte alignment, types and modes, symlink targets, the /dev/console
// node, owner root, and the trailer at the end.

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// record is one parsed newc record.
type record struct {
	name       string
	mode, uid  uint64
	rdev       [2]uint64
	data, kind string
}

// parseNewc reads every record of a newc archive, failing t on malformed input.
func parseNewc(t *testing.T, b []byte) []record {
	t.Helper()
	var recs []record
	off := 0
	field := func(i int) uint64 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+6+8*i+8]), 16, 32)
		if err != nil {
			t.Fatalf("record at %d, field %d: %v", off, i, err)
		}
		return v
	}
	for off < len(b) {
		if off%4 != 0 || string(b[off:off+6]) != "070701" {
			t.Fatalf("record at offset %d: bad alignment or magic %q", off, b[off:off+6])
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		r := record{mode: mode, uid: field(2), rdev: [2]uint64{field(9), field(10)}}
		r.name = string(b[off+110 : off+110+namesize-1])
		off = (off + 110 + namesize + 3) &^ 3
		r.data = string(b[off : off+size])
		off = (off + size + 3) &^ 3
		recs = append(recs, r)
		if r.name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return recs
		}
	}
	t.Fatal("no TRAILER!!! record")
	return nil
}

// TestPackTree packs files, a directory, a symlink and a setuid file.
func TestPackTree(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin/busybox"), []byte("odd-length"), 0o755))
	must(os.Symlink("busybox", filepath.Join(root, "bin/sh")))
	must(os.WriteFile(filepath.Join(root, "bin/su"), []byte("x"), 0o755))
	must(os.Chmod(filepath.Join(root, "bin/su"), 0o755|os.ModeSetuid))
	must(os.WriteFile(filepath.Join(root, "init"), nil, 0o700))
	out := filepath.Join(t.TempDir(), "initrd.img")
	must(run(root, out, false, "", ""))
	b, err := os.ReadFile(out)
	must(err)

	got := map[string]record{}
	for _, r := range parseNewc(t, b) {
		if r.uid != 0 {
			t.Errorf("%s: uid %d, want 0", r.name, r.uid)
		}
		got[r.name] = r
	}
	want := []struct {
		name string
		mode uint64
		data string
	}{
		{"bin", 0o040755, ""},
		{"bin/busybox", 0o100755, "odd-length"},
		{"bin/sh", 0o120777, "busybox"},
		{"bin/su", 0o104755, "x"},
		{"init", 0o100700, ""},
		{"dev", 0o040755, ""},
		{"dev/console", 0o020600, ""},
	}
	for _, w := range want {
		r, ok := got[w.name]
		if !ok {
			t.Errorf("%s missing from the archive", w.name)
			continue
		}
		if r.mode != w.mode || r.data != w.data {
			t.Errorf("%s: mode %#o data %q, want %#o %q", w.name, r.mode, r.data, w.mode, w.data)
		}
	}
	if c := got["dev/console"]; c.rdev != [2]uint64{5, 1} {
		t.Errorf("dev/console is %d:%d, want 5:1", c.rdev[0], c.rdev[1])
	}
}
