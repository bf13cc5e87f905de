//go:build linux

package userns

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestEnsureAppendsAfterOthers checks that a missing entry is appended
// after the highest range, keeping every other line as it was (a comment,
// a malformed line, no final newline), and that it is found the next time.
func TestEnsureAppendsAfterOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subuid")
	before := "# users\nalice:100000:65536\nbob:300000:1000\nbroken line\ncarol:165536:65536"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Ensure(path)
	if err != nil || r != (Range{301000, Size}) {
		t.Fatalf("Ensure: %v, %v; want {301000 65536}", r, err)
	}
	data, _ := os.ReadFile(path)
	if want := before + "\nminidocker:301000:65536\n"; string(data) != want {
		t.Errorf("the file is now %q, want %q", data, want)
	}
	if again, err := Ensure(path); err != nil || again != r {
		t.Errorf("the second Ensure: %v, %v; want the same range", again, err)
	}
}

// TestEnsureEmptyAndConcurrent checks an empty (missing) file gets the
// first range, once, when many callers race.
func TestEnsureEmptyAndConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subgid")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := Ensure(path); err != nil || r != (Range{firstStart, Size}) {
				t.Errorf("Ensure: %v, %v", r, err)
			}
		}()
	}
	wg.Wait()
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "minidocker:") != 1 {
		t.Errorf("racing callers wrote %q", data)
	}
}

// TestNextRefusesOverflow checks that no range is made past 2^32-1.
func TestNextRefusesOverflow(t *testing.T) {
	if _, err := next([]byte("x:4294900000:60000\n")); err == nil {
		t.Error("a range past the last id was made")
	}
}

// TestUnmapped checks that a tar's owners in the range come back as the
// ids inside, and others stay.
func TestUnmapped(t *testing.T) {
	r := Range{100000, Size}
	var out bytes.Buffer
	err := Unmapped(&out, r, r, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, id := range []int{100000, 101000, 0, 99999, 165536} {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprint(id), Typeflag: tar.TypeReg, Uid: id, Gid: id, Size: 1}); err != nil {
				return err
			}
			if _, err := tw.Write([]byte("x")); err != nil {
				return err
			}
		}
		return tw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	var got []int
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		got = append(got, hdr.Uid, hdr.Gid)
	}
	if fmt.Sprint(got) != "[0 0 1000 1000 0 0 99999 99999 165536 165536]" {
		t.Errorf("owners after Unmapped: %v", got)
	}
}
