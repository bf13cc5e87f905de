//go:build linux

// Registries and archives that attack their client: one that never
// answers or stops mid-blob, one that names a token server on another
// host to collect the password, layers that decompress into far more
// than they weigh (gzip bombs, through pull, load and import), and two
// logins at once. The hostile registries are small Go servers in the
// test's network namespace; the bomb is served by the real docker-registry.

package tests

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serveInNetns serves handler on addr (host:0 for a free port) in m's
// network namespace until the test ends; it returns the address.
func serveInNetns(t *testing.T, m *md, addr string, handler http.Handler) string {
	t.Helper()
	var l net.Listener
	var err error
	m.inNetns(func() { l, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// TestRegistrySilent: a registry that accepts the connection and never
// answers, and one that stops in the middle of a blob, make pull fail
// with a clear error once $MINIDOCKER_REGISTRY_TIMEOUT has passed, leaving
// nothing in the store; they used to hang it for ever.
func TestRegistrySilent(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	p := startProxy(t, m, r.addr, 1<<20)
	m.must("run", "--name", "big", "base", "sh", "-c", "head -c 4194304 /dev/urandom > /big")
	name := p.addr + "/stalls:v1"
	m.must("commit", "big", name)
	p.armed.Store(false)
	m.must("push", name) // before the short timeout: a slow machine may take more than 2s to answer a PUT
	m.must("rmi", name)

	t.Setenv("MINIDOCKER_REGISTRY_TIMEOUT", "2s")
	var l net.Listener
	var err error
	m.inNetns(func() { l, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn // held open, never answered
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	m.fails(1, "did not answer within 2s", "pull", l.Addr().String()+"/silent:v1")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the pull of a silent registry took %s", d)
	}

	before := storeEntries(t, m)
	p.armed.Store(true)
	defer close(p.release)
	m.fails(1, "the registry sent nothing for 2s", "pull", name)
	if after := storeEntries(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a pull that timed out changed the store:\nbefore %v\nafter  %v", before, after)
	}
}

// TestRegistryRealmOnAnotherHost: a registry on 127.0.0.1 names a token
// server on 127.0.0.2. The password kept for the registry must not reach
// that server, neither from pull nor from login; login says why it fails.
func TestRegistryRealmOnAnotherHost(t *testing.T) {
	m := newMD(t)
	var mu sync.Mutex
	var seen []string // Authorization headers the token server received
	realm := serveInNetns(t, m, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token":"anonymous"}`)
	}))
	registry := serveInNetns(t, m, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="evil"`, realm))
		w.WriteHeader(http.StatusUnauthorized)
	}))
	const password = "correct-horse-battery"
	auth := base64.StdEncoding.EncodeToString([]byte("alice:" + password))
	config := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, registry, auth)
	if err := os.WriteFile(filepath.Join(m.root, "config.json"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r := m.run("pull", registry+"/app:v1")
	if r.code != 1 {
		t.Errorf("pull from the hostile registry: exit %d, stderr %q", r.code, r.stderr)
	}
	r = m.runInput(password+"\n", "login", "-u", "alice", "--password-stdin", registry)
	if r.code != 1 || !strings.Contains(r.stderr, "minidocker does not send your password there") || strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("login to the hostile registry: exit %d, output %q", r.code, r.stdout+r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the token server was never asked: the test proves nothing")
	}
	for _, h := range seen {
		if h != "" {
			t.Errorf("the token server on another host received credentials: Authorization %q", h)
		}
	}
}

// TestRegistryConcurrentLogins: sixteen logins at once, each to another
// address of one registry, must all be kept; a read-change-write of
// config.json without a lock loses some.
func TestRegistryConcurrentLogins(t *testing.T) {
	m := newMD(t)
	port := strings.TrimPrefix(serveInNetns(t, m, "0.0.0.0:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	})), "[::]")
	port = port[strings.LastIndex(port, ":")+1:]
	const n = 16
	var cmds []*exec.Cmd
	for i := 1; i <= n; i++ {
		cmd, _ := startMDInput(t, m, "secret\n", "login", "-u", "u", "--password-stdin", fmt.Sprintf("127.0.0.%d:%s", i, port))
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("login: %v", err)
		}
	}
	data, err := os.ReadFile(filepath.Join(m.root, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]any `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, data)
	}
	if len(cfg.Auths) != n {
		t.Errorf("config.json keeps %d of %d logins made at once:\n%s", len(cfg.Auths), n, data)
	}
}

// startMDInput starts minidocker in m's network namespace with input on
// its stdin, without waiting.
func startMDInput(t *testing.T, m *md, input string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(finalBinary, append([]string{"--root", m.root}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// bombLayer is a gzip-compressed layer tar holding one file of size
// zero bytes, and its diff id: a few hundred kilobytes that expand to size.
func bombLayer(t *testing.T, size int64) ([]byte, string) {
	t.Helper()
	var gz strings.Builder
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(gz.String()), "sha256:" + hex.EncodeToString(diff.Sum(nil))
}

// zeroReader reads zeros for ever.
type zeroReader struct{}

// Read fills p with zeros.
func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// bombConfig is an image config of one layer.
func bombConfig(diffID string) []byte {
	return []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["true"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`, diffID))
}

// pushBomb puts an image whose one layer is bomb into repo on r, as tag v1.
func pushBomb(t *testing.T, r *testRegistry, repo string, bomb []byte, diffID string) {
	t.Helper()
	config := bombConfig(diffID)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":%q,"size":%d}]}`,
		r.uploadBlob(t, repo, config), len(config), r.uploadBlob(t, repo, bomb), len(bomb))
	if code, _, body := r.api(t, "PUT", "/v2/"+repo+"/manifests/v1", "application/vnd.docker.distribution.manifest.v2+json", []byte(manifest)); code != http.StatusCreated {
		t.Fatalf("PUT manifest: %d %s", code, body)
	}
}

// TestRegistryGzipBomb: a layer of 256 KiB that expands to 96 MiB is
// refused by pull when it passes --max-layer-size, and, without that
// flag, before it fills a store on a 64 MiB filesystem; either way with
// a clear error, and nothing is stored.
func TestRegistryGzipBomb(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	bomb, diffID := bombLayer(t, 96<<20)
	pushBomb(t, r, "bomb", bomb, diffID)
	m.must("images") // the store exists before it is compared
	before := storeEntries(t, m)
	m.fails(1, "larger than --max-layer-size (16777216 bytes)", "--max-layer-size", "16m", "pull", r.addr+"/bomb:v1")
	if after := storeEntries(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a refused pull changed the store:\nbefore %v\nafter  %v", before, after)
	}

	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatalf("mount a 64 MiB tmpfs on %s: %v", small, err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	m.fails(1, "likely a decompression bomb", "--root", small, "pull", r.addr+"/bomb:v1")
	var st unix.Statfs_t
	if err := unix.Statfs(small, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < 60<<20 {
		t.Errorf("after the refused pull, the 64 MiB filesystem has %d bytes free: something was left", free)
	}
	if entries, _ := os.ReadDir(filepath.Join(small, "image", "tmp")); len(entries) > 0 {
		t.Errorf("the refused pull left %s in tmp/", entries[0].Name())
	}
}

// TestLoadImportGzipBomb: load of a docker-archive whose layer is a gzip
// bomb, and import of a bomb, are refused past --max-layer-size with a
// clear error and store nothing.
func TestLoadImportGzipBomb(t *testing.T) {
	m := newMD(t)
	bomb, diffID := bombLayer(t, 64<<20)
	dir := t.TempDir()
	layerPath := filepath.Join(dir, "bomb.tar.gz")
	if err := os.WriteFile(layerPath, bomb, 0o600); err != nil {
		t.Fatal(err)
	}
	config := bombConfig(diffID)
	sum := sha256.Sum256(config)
	configName := hex.EncodeToString(sum[:]) + ".json"
	archive := filepath.Join(dir, "bomb-archive.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, member := range []struct {
		name string
		data []byte
	}{
		{"manifest.json", []byte(fmt.Sprintf(`[{"Config":%q,"RepoTags":["bomb:v1"],"Layers":["l1/layer.tar"]}]`, configName))},
		{configName, config},
		{"l1/layer.tar", bomb},
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
	f.Close()
	m.must("images")
	before := storeEntries(t, m)
	m.fails(1, "larger than --max-layer-size", "--max-layer-size", "16m", "load", "-i", archive)
	m.fails(1, "larger than --max-layer-size", "--max-layer-size", "16m", "import", layerPath, "bomb:v2")
	if r := m.run("--max-layer-size", "16m", "import", layerPath, "bomb:v2"); strings.Contains(r.stderr, "not a tar archive") {
		t.Errorf("a tar refused for its size is called no tar: %q", r.stderr)
	}
	if after := storeEntries(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a refused load or import changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if out := m.must("images"); strings.Contains(out, "bomb") {
		t.Errorf("a refused image is listed:\n%s", out)
	}
	// Below the bound the same archive loads: the bound, not the archive, refused it.
	if out := m.must("--max-layer-size", "80m", "load", "-i", archive); !strings.Contains(out, "Loaded image: bomb:v1") {
		t.Errorf("load under the bound printed %q", out)
	}
}
