//go:build linux

// Sparse entries: tars whose content is mostly holes, in both forms GNU
// tar writes (archive/tar's Writer writes neither, so the tests build
// the headers themselves), unpack with holes and are bounded by what
// they declare.

package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testLimit lets the tests' ordinary layers through.
var testLimit = Limit{Bytes: 1 << 40, Why: "the 1 TiB the test allows"}

// fragment is data at an offset of a sparse file; the rest is holes.
type fragment struct {
	off  int64
	data string
}

// rawHeader is a 512-byte tar header; gnu makes it an old GNU one.
func rawHeader(name string, flag byte, size int64, gnu bool) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], fmt.Sprintf("%011o\x00", time.Now().Unix()))
	b[156] = flag
	copy(b[257:], "ustar\x0000")
	if gnu {
		copy(b[257:], "ustar  \x00")
	}
	return b
}

// checksum fills in a header's checksum field.
func checksum(b []byte) {
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
}

// pad rounds buf up to a whole number of 512-byte blocks.
func pad(buf *bytes.Buffer) {
	buf.Write(make([]byte, (512-buf.Len()%512)%512))
}

// paxRecord is one "LEN key=value\n" record; LEN counts itself.
func paxRecord(key, value string) string {
	rest := " " + key + "=" + value + "\n"
	n := len(rest) + 1
	for len(fmt.Sprint(n))+len(rest) != n {
		n++
	}
	return fmt.Sprint(n) + rest
}

// sparsePAX is a tar of one sparse file in the PAX 1.0 form (`tar
// --sparse --format=posix`): GNU.sparse.* records, then an entry whose
// content is the map (count, then offset and length of each fragment,
// one number a line, padded to a block) followed by the fragments.
func sparsePAX(name string, size int64, frags ...fragment) []byte {
	records := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", fmt.Sprint(size))
	var body bytes.Buffer
	fmt.Fprintf(&body, "%d\n", len(frags))
	for _, f := range frags {
		fmt.Fprintf(&body, "%d\n%d\n", f.off, len(f.data))
	}
	pad(&body)
	for _, f := range frags {
		body.WriteString(f.data)
	}
	var buf bytes.Buffer
	x := rawHeader("PaxHeaders/"+name, 'x', int64(len(records)), false)
	checksum(x)
	buf.Write(x)
	buf.WriteString(records)
	pad(&buf)
	h := rawHeader("GNUSparseFile.0/"+name, '0', int64(body.Len()), false)
	checksum(h)
	buf.Write(h)
	buf.Write(body.Bytes())
	pad(&buf)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// numeric is a 12-byte number field: octal, or GNU's base-256 (a first
// byte of 0x80, then big-endian) for what octal cannot hold.
func numeric(v int64) string {
	if v < 1<<33 {
		return fmt.Sprintf("%011o\x00", v)
	}
	b := make([]byte, 12)
	b[0] = 0x80
	for i := 11; i > 0; i, v = i-1, v>>8 {
		b[i] = byte(v)
	}
	return string(b)
}

// sparseGNU is a tar of one sparse file in the old GNU form (`tar
// --sparse`, type 'S'): up to four fragments in the header itself, the
// real size at 483, the fragments' data as the content.
func sparseGNU(name string, size int64, frags ...fragment) []byte {
	var data bytes.Buffer
	for _, f := range frags {
		data.WriteString(f.data)
	}
	h := rawHeader(name, 'S', int64(data.Len()), true)
	for i, f := range frags {
		copy(h[386+24*i:], numeric(f.off)+numeric(int64(len(f.data))))
	}
	copy(h[483:], numeric(size))
	checksum(h)
	var buf bytes.Buffer
	buf.Write(h)
	buf.Write(data.Bytes())
	pad(&buf)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// entryOf drops the end-of-archive blocks of a tar, to append another.
func entryOf(tar []byte) []byte {
	return tar[:len(tar)-1024]
}

func TestApplyLayerSparse(t *testing.T) {
	const size = 1<<30 + 5
	frags := []fragment{{0, "head"}, {1 << 29, "middle"}, {size - 4, "tail"}}
	tests := []struct {
		name string
		tar  []byte
	}{
		{"PAX 1.0", sparsePAX("big", size, frags...)},
		{"old GNU", sparseGNU("big", size, frags...)},
		{"regular entry of zeros", buildTar(t, file("big", "head"+strings.Repeat("\x00", 1<<20)+"tail"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := ApplyLayer(bytes.NewReader(tt.tar), root, ModeFlatten, testLimit); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(root, "big"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var st unix.Stat_t
			if err := unix.Fstat(int(f.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			t.Logf("size %d, %d bytes on disk", st.Size, st.Blocks*512)
			if st.Blocks*512 > 1<<20/2 {
				t.Errorf("the file takes %d bytes on disk: its holes were written as zeros", st.Blocks*512)
			}
			want := frags
			if tt.name == "regular entry of zeros" {
				want = []fragment{{0, "head"}, {1<<20 + 4, "tail"}, {4096, "\x00\x00\x00"}}
			} else if st.Size != size {
				t.Errorf("size %d, want %d", st.Size, size)
			}
			for _, w := range append(want, fragment{4096, "\x00\x00"}) {
				got := make([]byte, len(w.data))
				if _, err := f.ReadAt(got, w.off); err != nil || string(got) != w.data {
					t.Errorf("at %d: %q, %v; want %q", w.off, got, err, w.data)
				}
			}
		})
	}
}

func TestApplyLayerSparseTooLarge(t *testing.T) {
	const pib = 1 << 50
	for _, tt := range []struct {
		name string
		tar  []byte
	}{
		{"PAX 1.0", sparsePAX("huge", pib, fragment{0, "x"})},
		{"old GNU", sparseGNU("huge", pib, fragment{pib - 1, "x"})},
		// Their sum overflows int64: a check of declared+Size would pass it.
		{"after another", append(entryOf(sparsePAX("small", 1<<20, fragment{0, "x"})), sparsePAX("huge", math.MaxInt64, fragment{0, "x"})...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := ApplyLayer(bytes.NewReader(tt.tar), root, ModeOverlay, Limit{Bytes: 1 << 30, Why: "the 1 GiB the test allows"})
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), `"huge"`) || !strings.Contains(err.Error(), " declares ") {
				t.Fatalf("ApplyLayer of a sparse entry of 1 PiB: %v; want ErrTooLarge naming the entry and what it declares", err)
			}
			t.Log(err)
			if _, err := os.Lstat(filepath.Join(root, "huge")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused entry was created: %v", err)
			}
		})
	}
}
