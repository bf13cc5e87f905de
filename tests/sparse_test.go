// Sparse layers: a GNU sparse tar entry is a few bytes of a layer's
// stream but declares its full size, and archive/tar yields its holes
// as zeros. Unpacking must write the holes as holes, and a layer whose
// entries declare more than the store may hold must be refused when it
// is stored (import, load) or, failing that, when it is unpacked (run),
// with one line naming the entry and its size, leaving nothing behind.

package tests

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fragment is data at an offset of a sparse file; the rest is holes.
type fragment struct {
	off  int64
	data string
}

// tarHeader is a 512-byte ustar header with its checksum.
func tarHeader(name string, flag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], fmt.Sprintf("%011o\x00", time.Now().Unix()))
	b[156] = flag
	copy(b[257:], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padBlock rounds buf up to a whole number of 512-byte blocks.
func padBlock(buf *bytes.Buffer) {
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

// sparseLayer is a layer tar of one sparse file in the PAX 1.0 form GNU
// tar writes (--sparse --format=posix), which archive/tar's Writer
// cannot: GNU.sparse.* records, then an entry whose content is the map
// (count, then offset and length of each fragment, one number a line,
// padded to a block) followed by the fragments' data.
func sparseLayer(name string, size int64, frags ...fragment) []byte {
	records := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", fmt.Sprint(size))
	var body bytes.Buffer
	fmt.Fprintf(&body, "%d\n", len(frags))
	for _, f := range frags {
		fmt.Fprintf(&body, "%d\n%d\n", f.off, len(f.data))
	}
	padBlock(&body)
	for _, f := range frags {
		body.WriteString(f.data)
	}
	var buf bytes.Buffer
	buf.Write(tarHeader("PaxHeaders/"+name, 'x', int64(len(records))))
	buf.WriteString(records)
	padBlock(&buf)
	buf.Write(tarHeader("GNUSparseFile.0/"+name, '0', int64(body.Len())))
	buf.Write(body.Bytes())
	padBlock(&buf)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// imageArchive writes a docker-archive of one image, tag, whose one
// layer is layer (uncompressed), and returns its path.
func imageArchive(t *testing.T, layer []byte, tag string) string {
	t.Helper()
	sum := sha256.Sum256(layer)
	config := bombConfig("sha256:" + hex.EncodeToString(sum[:]))
	sum = sha256.Sum256(config)
	configName := hex.EncodeToString(sum[:]) + ".json"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, member := range []struct {
		name string
		data []byte
	}{
		{"manifest.json", []byte(fmt.Sprintf(`[{"Config":%q,"RepoTags":[%q],"Layers":["l1/layer.tar"]}]`, configName, tag))},
		{configName, config},
		{"l1/layer.tar", layer},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: member.name, Mode: 0o644, Size: int64(len(member.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(member.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "archive.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeTemp writes data to a new file in a temp dir and returns its path.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// layerFile is the path of name in image ref's one unpacked layer.
func layerFile(t *testing.T, m *md, ref, name string) string {
	t.Helper()
	layers, _ := field(m.inspect(ref), "RootFS", "Layers").([]any)
	if len(layers) != 1 {
		t.Fatalf("image %s has layers %v, want one", ref, layers)
	}
	hexID := strings.TrimPrefix(fmt.Sprint(layers[0]), "sha256:")
	return filepath.Join(m.root, "image", "layers", hexID, "diff", name)
}

// checkSparse checks the file at path: its size, its data at their
// offsets, and that its holes take no disk (st_blocks).
func checkSparse(t *testing.T, path string, size int64, frags []fragment) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the unpacked file: %v", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("%s: size %d, %d bytes on disk; want size %d and its holes as holes (under 1 MiB on disk)", path, st.Size, st.Blocks*512, size)
	}
	for _, w := range append(frags, fragment{4096, "\x00\x00\x00\x00"}) {
		got := make([]byte, len(w.data))
		if _, err := f.ReadAt(got, w.off); err != nil || string(got) != w.data {
			t.Errorf("%s at %d: %q, %v; want %q", path, w.off, got, err, w.data)
		}
	}
}

// TestFinalSparseLayer imports, and loads, a layer whose one file is a
// sparse entry of 1 GiB with three fragments of data, runs it, and
// checks the unpacked file byte by byte and on disk. The bound is
// --max-layer-size, so that the test does not depend on the host's free
// space (the v2 VM's disk is a tmpfs of 512 MiB). cp - into a running
// container, bounded by that free space, gets a sparse file of 64 MiB.
func TestFinalSparseLayer(t *testing.T) {
	const size = 1<<30 + 5
	frags := []fragment{{0, "head"}, {1 << 29, "middle"}, {size - 4, "tail"}}
	layer := sparseLayer("big", size, frags...)
	m := newMD(t)
	m.must("--max-layer-size", "2g", "import", writeTemp(t, "sparse.tar", layer), "sparse:1")
	m.must("--max-layer-size", "2g", "run", "--rm", "-v", helperVolume(t), "sparse:1", "/helper", "noop")
	checkSparse(t, layerFile(t, m, "sparse:1", "big"), size, frags)

	other := newMD(t)
	other.must("--max-layer-size", "2g", "load", "-i", imageArchive(t, layer, "sparse:2"))
	other.must("--max-layer-size", "2g", "run", "--rm", "-v", helperVolume(t), "sparse:2", "/helper", "noop")
	checkSparse(t, layerFile(t, other, "sparse:2", "big"), size, frags)

	const small = 64<<20 + 5
	frags = []fragment{{0, "head"}, {32 << 20, "middle"}, {small - 4, "tail"}}
	m.must("run", "-d", "--name", "cp", "base", "sleep", "1000")
	if r := m.runInput(string(sparseLayer("small", small, frags...)), "cp", "-", "cp:/"); r.code != 0 {
		t.Fatalf("cp - of a sparse file: exit %d: %s", r.code, r.stderr)
	}
	checkSparse(t, fmt.Sprintf("/proc/%d/root/small", m.containerPid("cp")), small, frags)
	m.must("rm", "-f", "cp")
}

// TestFinalSparseTooLarge gives import and load a layer whose one file
// is a sparse entry declaring 1 PiB (a few KB of tar), on a state root
// that is a 64 MiB tmpfs: both refuse it with one line naming the entry
// and its size, exit 1, and store nothing; cp - into a container refuses
// it too. Stored past a larger
// --max-layer-size, the same layer is refused by run (125) when it would
// be unpacked, and no unpacked layer or temp dir is left.
func TestFinalSparseTooLarge(t *testing.T) {
	m := newMD(t)
	if err := unix.Mount("tmpfs", m.root, "tmpfs", 0, "size=64m,mode=0711"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", m.root, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(m.root, unix.MNT_DETACH) })
	const pib = 1 << 50
	layer := sparseLayer("huge", pib, fragment{0, "x"}, fragment{pib - 1, "y"})
	archive := imageArchive(t, layer, "huge:2")
	want := fmt.Sprintf(`entry "huge" declares %d bytes of content`, pib)
	m.must("images")
	before := storeEntries(t, m)
	for _, args := range [][]string{
		{"import", writeTemp(t, "huge.tar", layer), "huge:1"},
		{"load", "-i", archive},
	} {
		r := m.run(args...)
		t.Logf("%s: exit %d: %s", args[0], r.code, r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s of a 1 PiB sparse entry: exit %d, stderr %q; want exit 1 and one line containing %q", args[0], r.code, r.stderr, want)
		}
	}
	if after := storeEntries(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a refused import or load changed the store:\nbefore %v\nafter  %v", before, after)
	}
	m.must("run", "-d", "--name", "cp", "base", "sleep", "1000")
	t.Cleanup(func() { m.run("rm", "-f", "cp") }) // before the tmpfs goes (cleanups run last first)
	r := m.runInput(string(layer), "cp", "-", "cp:/")
	t.Logf("cp: exit %d: %s", r.code, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, `"huge"`) || !strings.Contains(r.stderr, fmt.Sprint(pib)) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("cp - of a 1 PiB sparse entry: exit %d, stderr %q; want exit 1 and one line naming the entry and its size", r.code, r.stderr)
	}
	if _, err := os.Lstat(fmt.Sprintf("/proc/%d/root/huge", m.containerPid("cp"))); err == nil {
		t.Errorf("the refused cp left /huge in the container")
	}

	m.must("--max-layer-size", "2048t", "load", "-i", archive)
	r = m.run("run", "--rm", "-v", helperVolume(t), "huge:2", "/helper", "noop")
	t.Logf("run: exit %d: %s", r.code, r.stderr)
	if r.code != 125 || !strings.Contains(r.stderr, `"huge"`) || !strings.Contains(r.stderr, fmt.Sprint(pib)) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("run of an image whose layer declares 1 PiB: exit %d, stderr %q; want exit 125 and one line naming the entry and its size", r.code, r.stderr)
	}
	if left := tempEntries(t, m); len(left) != 0 {
		t.Errorf("the refused unpack left %v in the store's tmp/", left)
	}
	if _, err := os.Lstat(filepath.Dir(layerFile(t, m, "huge:2", "huge"))); err == nil {
		t.Errorf("the refused unpack left the layer's diff/")
	}
}
