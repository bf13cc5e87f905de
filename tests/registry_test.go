//go:build linux

// pull, push and login against a real registry: Debian's docker-registry
// (distribution 2.8), started by each test with a config of its own, in
// the test's network namespace (where minidocker runs), on a loopback
// port of that namespace, with its storage under the test's temp dir.

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"archive/tar"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
)

// testRegistry is a docker-registry process of one test.
type testRegistry struct {
	addr string // 127.0.0.1:PORT, in the test's network namespace
	m    *md
	tls  bool // https (the test's client does not verify it)
}

// url is the registry's URL for path.
func (r *testRegistry) url(path string) string {
	if r.tls {
		return "https://" + r.addr + path
	}
	return "http://" + r.addr + path
}

// startRegistry starts docker-registry in m's network namespace, on
// loopback, in plain HTTP; extra is YAML added to its config (an auth:
// section). It is killed, by pid, when the test ends.
func startRegistry(t *testing.T, m *md, extra string) *testRegistry {
	t.Helper()
	return startRegistryOn(t, m, "127.0.0.1", "", extra)
}

// startRegistryOn starts docker-registry listening on host; httpExtra is
// YAML added to its http: section (tls:), extra to the top level.
func startRegistryOn(t *testing.T, m *md, host, httpExtra, extra string) *testRegistry {
	t.Helper()
	bin := needProgram(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	var port int
	var err error
	m.inNetns(func() { port, err = freePort(host) })
	if err != nil {
		t.Fatal(err)
	}
	r := &testRegistry{addr: fmt.Sprintf("%s:%d", host, port), m: m, tls: httpExtra != ""}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s%s",
		filepath.Join(dir, "storage"), r.addr, httpExtra, extra)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.inNetns(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := r.client().Get(r.url("/v2/"))
		if err == nil {
			resp.Body.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s within 30s: %v\n%s", r.addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort binds port 0 on loopback and returns the port the kernel
// chose (docker-registry cannot be told to listen on port 0 itself).
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// client is an HTTP client whose connections are made in the test's
// network namespace.
func (r *testRegistry) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		r.m.inNetns(func() { conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr) })
		return conn, err
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 30 * time.Second}
}

// api sends one request to the registry and returns status and body.
func (r *testRegistry) api(t *testing.T, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = r.url(path)
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := r.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// uploadBlob puts a blob into repository repo and returns its digest.
func (r *testRegistry) uploadBlob(t *testing.T, repo string, blob []byte) string {
	t.Helper()
	sum := sha256.Sum256(blob)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	code, header, body := r.api(t, "POST", "/v2/"+repo+"/blobs/uploads/", "", nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", code, body)
	}
	loc := header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = r.url(loc)
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if code, _, body := r.api(t, "PUT", loc+sep+"digest="+digest, "application/octet-stream", blob); code != http.StatusCreated {
		t.Fatalf("PUT blob: %d %s", code, body)
	}
	return digest
}

// pushedImage commits a container with a marker file and pushes it as
// NAME on r; it returns the name.
func pushedImage(t *testing.T, m *md, r *testRegistry, repo string) string {
	t.Helper()
	name := r.addr + "/" + repo + ":v1"
	m.must("run", "--name", "maker-"+strings.ReplaceAll(repo, "/", "-"), "base", "sh", "-c", "echo from-the-registry > /marker")
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker-"+strings.ReplaceAll(repo, "/", "-"), name)
	out := m.must("push", name)
	if !strings.Contains(out, ": Pushed") || !regexp.MustCompile(`v1: digest: sha256:[0-9a-f]{64} size: \d+`).MatchString(out) {
		t.Fatalf("push printed:\n%s", out)
	}
	return name
}

// storeEntries lists the image store's layers and temp entries.
func storeEntries(t *testing.T, m *md) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"layers", "tmp", "images"} {
		entries, _ := os.ReadDir(filepath.Join(m.root, "image", sub))
		for _, e := range entries {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// TestRegistryRoundTrip pushes a committed image, removes it, pulls it
// back and runs it; pulls it again (nothing downloaded) and by digest.
func TestRegistryRoundTrip(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	name := pushedImage(t, m, r, "app")
	if out := m.must("push", name); !strings.Contains(out, "Layer already exists") || strings.Contains(out, "Pushed") {
		t.Errorf("a second push sent blobs the registry has:\n%s", out)
	}
	m.must("rmi", name)
	out := m.must("pull", name)
	for _, want := range []string{"v1: Pulling from app\n", ": Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + name, "\n" + name + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if got := m.must("run", "--rm", name); got != "from-the-registry\n" {
		t.Errorf("run of the pulled image printed %q", got)
	}
	again := m.run("--debug", "pull", name)
	if again.code != 0 || !strings.Contains(again.stdout, "Status: Image is up to date for "+name) {
		t.Errorf("re-pull: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	if strings.Contains(again.stderr, "/blobs/") || !strings.Contains(again.stderr, "GET http://"+r.addr+"/v2/app/manifests/v1 -> 200") {
		t.Errorf("re-pull of a present image: want only the manifest fetched, got:\n%s", again.stderr)
	}
	digest := regexp.MustCompile(`Digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if digest == nil {
		t.Fatalf("no digest in:\n%s", out)
	}
	m.must("rmi", name)
	byDigest := r.addr + "/app@" + digest[1]
	if out := m.must("pull", byDigest); !strings.Contains(out, "Digest: "+digest[1]) {
		t.Errorf("pull by digest:\n%s", out)
	}
	if got := m.must("run", "--rm", byDigest); got != "from-the-registry\n" {
		t.Errorf("run by digest printed %q", got)
	}
	if q := m.must("pull", "-q", name); q != "" {
		t.Errorf("pull -q printed %q", q)
	}
}

// TestRegistryRunPulls runs an image the store has never held: run pulls
// it, saying so on stderr as Docker does; a failed pull is exit 125.
func TestRegistryRunPulls(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	name := pushedImage(t, m, r, "team/tool")
	m.must("rmi", name)
	res := m.run("run", "--rm", name)
	if res.code != 0 || res.stdout != "from-the-registry\n" || !strings.Contains(res.stderr, "Unable to find image '"+name+"' locally") {
		t.Errorf("run of a registry image not in the store: exit %d, stdout %q, stderr:\n%s", res.code, res.stdout, res.stderr)
	}
	m.fails(125, "manifest unknown", "run", "--rm", r.addr+"/team/none:v1")
}

// TestRegistryBadInput: names that do not exist or are not names, and a
// manifest that lies about its layer: a one-line error, exit 1, and
// nothing stored.
func TestRegistryBadInput(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	m.fails(1, "manifest unknown", "pull", r.addr+"/nothing:here")
	m.fails(1, "invalid reference", "pull", r.addr+"/UPPER:case")
	m.fails(1, "invalid reference", "pull", r.addr+"/a/../b")
	name := pushedImage(t, m, r, "honest")
	_, _, raw := r.api(t, "GET", "/v2/honest/manifests/v1", "", nil)
	var manifest struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Config        map[string]any   `json:"config"`
		Layers        []map[string]any `json:"layers"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil || len(manifest.Layers) == 0 {
		t.Fatalf("manifest %s: %v", raw, err)
	}
	// The last layer is replaced by another, real blob: the registry
	// serves it faithfully, but it is not the layer the config names.
	other := gzipTar(t, "evil", "not the committed layer")
	manifest.Layers[len(manifest.Layers)-1]["digest"] = r.uploadBlob(t, "honest", other)
	manifest.Layers[len(manifest.Layers)-1]["size"] = len(other)
	lying, _ := json.Marshal(manifest)
	if code, _, body := r.api(t, "PUT", "/v2/honest/manifests/lies", manifest.MediaType, lying); code != http.StatusCreated {
		t.Fatalf("PUT lying manifest: %d %s", code, body)
	}
	// A manifest that says a layer is shorter than it is.
	manifest.Layers[len(manifest.Layers)-1]["size"] = len(other) - 1
	short, _ := json.Marshal(manifest)
	shortOK := false
	if code, _, _ := r.api(t, "PUT", "/v2/honest/manifests/short", manifest.MediaType, short); code == http.StatusCreated {
		shortOK = true
	}
	m.must("rmi", name)
	before := storeEntries(t, m)
	m.fails(1, "but the image config says", "pull", r.addr+"/honest:lies")
	if shortOK {
		m.fails(1, "longer than", "pull", r.addr+"/honest:short")
	}
	if after := storeEntries(t, m); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("a refused pull changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if out := m.must("images"); strings.Contains(out, "honest") {
		t.Errorf("a refused image is listed:\n%s", out)
	}
}

// gzipTar is a gzip-compressed tar of one file.
func gzipTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestRegistryBasicAuth: a registry with htpasswd users; pull without
// credentials fails saying how to log in; a wrong password is refused
// and nothing is kept; login keeps the right one in a root-only file,
// never printed; push and pull then work; logout forgets it.
func TestRegistryBasicAuth(t *testing.T) {
	htpasswd := needProgram(t, "htpasswd", "apache2-utils")
	const password = "pa55-W0rd-never-printed"
	users := filepath.Join(t.TempDir(), "htpasswd")
	if out, err := exec.Command(htpasswd, "-Bbc", users, "alice", password).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	m := newMD(t)
	r := startRegistry(t, m, fmt.Sprintf("auth:\n  htpasswd:\n    realm: minidocker-test\n    path: %s\n", users))
	name := r.addr + "/private/app:v1"
	m.must("run", "--name", "maker", "base", "sh", "-c", "echo private > /marker")
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker", name)
	m.fails(1, "minidocker login "+r.addr, "push", name)
	var outputs []string
	wrong := m.runInput("not-the-password\n", "login", "-u", "alice", "--password-stdin", r.addr)
	if wrong.code != 1 || !strings.Contains(wrong.stderr, "refused the user name and password") {
		t.Errorf("login with a wrong password: exit %d, stderr %q", wrong.code, wrong.stderr)
	}
	config := filepath.Join(m.root, "config.json")
	if _, err := os.Stat(config); err == nil {
		t.Errorf("a refused login wrote %s", config)
	}
	ok := m.runInput(password+"\n", "--debug", "login", "-u", "alice", "--password-stdin", r.addr)
	if ok.code != 0 || !strings.Contains(ok.stdout, "Login Succeeded") {
		t.Fatalf("login: exit %d\n%s%s", ok.code, ok.stdout, ok.stderr)
	}
	outputs = append(outputs, ok.stdout, ok.stderr)
	fi, err := os.Stat(config)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want a 0600 file", config, err, fi.Mode())
	}
	push := m.run("--debug", "push", name)
	m.must("rmi", name)
	pull := m.run("--debug", "pull", name)
	outputs = append(outputs, push.stdout, push.stderr, pull.stdout, pull.stderr)
	if push.code != 0 || pull.code != 0 {
		t.Fatalf("push/pull with credentials: exit %d, %d\n%s\n%s", push.code, pull.code, push.stderr, pull.stderr)
	}
	if !strings.Contains(pull.stderr, "(Authorization: Basic ***)") {
		t.Errorf("--debug does not show the masked Authorization header:\n%s", pull.stderr)
	}
	for _, out := range outputs {
		if strings.Contains(out, password) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("alice:"+password))) {
			t.Errorf("the password appears in minidocker's output:\n%s", out)
		}
	}
	if got := m.must("run", "--rm", name); got != "private\n" {
		t.Errorf("run of the pulled private image printed %q", got)
	}
	if out := m.must("logout", r.addr); !strings.Contains(out, "Removing login credentials for "+r.addr) {
		t.Errorf("logout printed %q", out)
	}
	m.must("rmi", name)
	m.fails(1, "wants a user name and password", "pull", name)
}

// stallingProxy forwards loopback TCP connections to a registry and, while
// armed, stops forwarding answers once a connection has carried `after`
// bytes: a pull is then caught in the middle of a layer, for as long as
// the test wants.
type stallingProxy struct {
	addr    string
	after   int64
	stalled chan struct{} // closed when an answer is held
	release chan struct{} // closed to let everything through again
	armed   atomic.Bool
}

// startProxy listens in m's network namespace and forwards to target.
func startProxy(t *testing.T, m *md, target string, after int64) *stallingProxy {
	t.Helper()
	p := &stallingProxy{after: after, stalled: make(chan struct{}), release: make(chan struct{})}
	p.armed.Store(true)
	var l net.Listener
	var err error
	m.inNetns(func() { l, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p.addr = l.Addr().String()
	dial := netnsDialer(t, m)
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			upstream, err := dial(target)
			if err != nil {
				client.Close()
				continue
			}
			go func() { io.Copy(upstream, client); upstream.Close() }()
			go p.copyAnswers(client, upstream)
		}
	}()
	return p
}

// netnsDialer returns a function that connects to addr from m's network
// namespace, from a thread of its own that joins it: the test's own
// namespace thread is busy while minidocker runs.
func netnsDialer(t *testing.T, m *md) func(addr string) (net.Conn, error) {
	t.Helper()
	var nsFD int
	var err error
	m.inNetns(func() { nsFD, err = syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0) })
	if err != nil {
		t.Fatal(err)
	}
	type dialResult struct {
		conn net.Conn
		err  error
	}
	type request struct {
		addr  string
		reply chan dialResult
	}
	dials := make(chan request)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded with its namespace
		err := unix.Setns(nsFD, syscall.CLONE_NEWNET)
		syscall.Close(nsFD)
		for req := range dials {
			if err != nil {
				req.reply <- dialResult{err: fmt.Errorf("setns: %w", err)}
				continue
			}
			conn, err := net.DialTimeout("tcp", req.addr, 5*time.Second)
			req.reply <- dialResult{conn, err}
		}
	}()
	var mu sync.Mutex
	closed := false
	t.Cleanup(func() { mu.Lock(); closed = true; close(dials); mu.Unlock() })
	return func(addr string) (net.Conn, error) {
		mu.Lock()
		if closed {
			mu.Unlock()
			return nil, net.ErrClosed
		}
		reply := make(chan dialResult, 1)
		dials <- request{addr, reply}
		mu.Unlock()
		res := <-reply
		return res.conn, res.err
	}
}

// copyAnswers copies the registry's answers to the client, holding them
// once `after` bytes have passed while the proxy is armed.
func (p *stallingProxy) copyAnswers(client, upstream net.Conn) {
	defer client.Close()
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := upstream.Read(buf)
		if k > 0 {
			n += int64(k)
			if p.armed.Load() && n > p.after {
				select {
				case <-p.stalled:
				default:
					close(p.stalled)
				}
				<-p.release
			}
			if _, werr := client.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// startMD starts minidocker in m's network namespace without waiting.
func startMD(t *testing.T, m *md, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(finalBinary, append([]string{"--root", m.root}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// TestRegistryPullKilled kills a pull with SIGKILL while a layer is half
// downloaded: the store holds no image and no layer of it, only a temp
// file of the dead process; the next pull completes and removes that file.
func TestRegistryPullKilled(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	p := startProxy(t, m, r.addr, 2<<20)
	m.must("run", "--name", "big", "base", "sh", "-c", "head -c 8388608 /dev/urandom > /big && echo whole > /marker")
	name := p.addr + "/big:v1"
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "big", name)
	p.armed.Store(false)
	m.must("push", name)
	m.must("rmi", name)
	initial := storeEntries(t, m)
	p.armed.Store(true)
	cmd, out := startMD(t, m, "pull", name)
	select {
	case <-p.stalled:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull never reached the middle of its layer:\n%s", out)
	}
	tmp := filepath.Join(m.root, "image", "tmp")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no temp layer in %s while the layer downloads", tmp)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := storeEntries(t, m)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(p.release)
	if out := m.must("images"); strings.Contains(out, "big") {
		t.Errorf("a killed pull left an image:\n%s", out)
	}
	for _, e := range difference(before, initial) {
		if !strings.HasPrefix(e, fmt.Sprintf("tmp/%d-", cmd.Process.Pid)) {
			t.Errorf("mid-pull, the store has %s besides the pull's temp files", e)
		}
	}
	pull, pullOut := startMD(t, m, "pull", name)
	if err := pull.Wait(); err != nil {
		t.Fatalf("pull after a killed pull: %v\n%s", err, pullOut)
	}
	if got := m.must("run", "--rm", name); got != "whole\n" {
		t.Errorf("run after the second pull printed %q", got)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("the killed pull's temp files are still in %s: %s", tmp, entries[0].Name())
	}
}

// skopeo runs skopeo in m's network namespace (skipping the test when
// skopeo is missing, outside CI).
func skopeo(t *testing.T, m *md, args ...string) string {
	t.Helper()
	bin := needProgram(t, "skopeo", "skopeo")
	cmd := exec.Command(bin, append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var out []byte
	var err error
	m.inNetns(func() { out, err = cmd.CombinedOutput() })
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRegistrySkopeoInterop: skopeo, which nobody here wrote, copies an
// image minidocker pushed (checking every digest as it goes) into an OCI
// layout; and minidocker pulls and runs an image skopeo pushed, with an
// OCI manifest and layers skopeo compressed itself.
func TestRegistrySkopeoInterop(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	if _, err := exec.LookPath("skopeo"); err != nil {
		skopeo(t, m) // skips or fails as the environment says
	}
	name := pushedImage(t, m, r, "frommd")
	layout := filepath.Join(t.TempDir(), "layout")
	skopeo(t, m, "copy", "--src-tls-verify=false", "docker://"+name, "oci:"+layout+":v1")
	manifest := skopeo(t, m, "inspect", "--raw", "oci:"+layout+":v1")
	pushed := skopeo(t, m, "inspect", "--raw", "--tls-verify=false", "docker://"+name)
	var a, b struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if json.Unmarshal([]byte(manifest), &a) != nil || json.Unmarshal([]byte(pushed), &b) != nil || len(a.Layers) == 0 || fmt.Sprint(a.Layers) != fmt.Sprint(b.Layers) {
		t.Errorf("skopeo's copy has layers %v, minidocker pushed %v", a.Layers, b.Layers)
	}

	archive := filepath.Join(t.TempDir(), "img.tar")
	m.must("save", "-o", archive, name)
	other := r.addr + "/fromskopeo:v2"
	skopeo(t, m, "copy", "--dest-tls-verify=false", "oci-archive:"+archive, "docker://"+other)
	raw := skopeo(t, m, "inspect", "--raw", "--tls-verify=false", "docker://"+other)
	if !strings.Contains(raw, "application/vnd.oci.image.manifest.v1+json") || !strings.Contains(raw, "tar+gzip") {
		t.Errorf("skopeo pushed a manifest that is not OCI with gzip layers, so the pull below would not prove minidocker reads those (still pulled):\n%s", raw)
	}
	m.must("rmi", name)
	out := m.must("pull", other)
	if !strings.Contains(out, "Status: Downloaded newer image for "+other) {
		t.Errorf("pull of skopeo's image:\n%s", out)
	}
	if got := m.must("run", "--rm", other); got != "from-the-registry\n" {
		t.Errorf("run of the image skopeo pushed printed %q", got)
	}
}

// TestRegistryZstdLayers: skopeo recompresses an image minidocker made
// into zstd layers, pushes it to the registry and writes it to an OCI
// archive; minidocker pulls the one and loads the other, and runs both.
func TestRegistryZstdLayers(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	if _, err := exec.LookPath("skopeo"); err != nil {
		skopeo(t, m) // skips or fails as the environment says
	}
	name := pushedImage(t, m, r, "gzipped")
	zstdName := r.addr + "/zstd:v1"
	skopeo(t, m, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "oci",
		"--dest-compress", "--dest-compress-format", "zstd", "docker://"+name, "docker://"+zstdName)
	if raw := skopeo(t, m, "inspect", "--raw", "--tls-verify=false", "docker://"+zstdName); !strings.Contains(raw, "application/vnd.oci.image.layer.v1.tar+zstd") {
		t.Fatalf("skopeo pushed no zstd layer, so this test would prove nothing:\n%s", raw)
	}
	archive := filepath.Join(t.TempDir(), "zstd.tar")
	skopeo(t, m, "copy", "--src-tls-verify=false", "--dest-compress", "--dest-compress-format", "zstd",
		"docker://"+zstdName, "oci-archive:"+archive+":zstd-loaded:v1")
	m.must("rmi", name)
	if out := m.must("pull", zstdName); !strings.Contains(out, "Status: Downloaded newer image for "+zstdName) {
		t.Errorf("pull of the zstd image:\n%s", out)
	}
	if got := m.must("run", "--rm", zstdName); got != "from-the-registry\n" {
		t.Errorf("run of the pulled zstd image printed %q", got)
	}
	m.must("rmi", zstdName)
	if out := m.must("load", "-i", archive); !strings.Contains(out, "Loaded image") {
		t.Errorf("load of the zstd OCI archive printed %q", out)
	}
	if got := m.must("run", "--rm", "zstd-loaded:v1"); got != "from-the-registry\n" {
		t.Errorf("run of the loaded zstd image printed %q", got)
	}
}

// TestRegistryDigests: push and pull record the manifest's digest, which
// inspect shows as RepoDigests and images --digests in its column; a pull
// by that digest of an image the store has asks the registry nothing and
// says it is up to date, and run of NAME@DIGEST uses the stored image.
func TestRegistryDigests(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	m.must("run", "--name", "maker", "base", "sh", "-c", "echo pinned > /marker")
	name := r.addr + "/pinned:v1"
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker", name)
	pushed := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(m.must("push", name))
	if pushed == nil {
		t.Fatal("push printed no digest")
	}
	digest, byDigest := pushed[1], r.addr+"/pinned@"+pushed[1]
	checkDigests := func(when string) {
		t.Helper()
		if got := field(m.inspect(name), "RepoDigests"); fmt.Sprint(got) != "["+byDigest+"]" {
			t.Errorf("%s: inspect's RepoDigests is %v, want [%s]", when, got, byDigest)
		}
		out := m.must("images", "--digests")
		if !strings.Contains(out, "DIGEST") || !regexp.MustCompile(regexp.QuoteMeta(r.addr+"/pinned")+`\s+v1\s+`+digest+`\s`).MatchString(out) {
			t.Errorf("%s: images --digests does not show %s for %s:\n%s", when, digest, name, out)
		}
	}
	checkDigests("after push")
	m.must("rmi", name)
	if out := m.must("pull", name); !strings.Contains(out, "Digest: "+digest) {
		t.Errorf("pull printed:\n%s", out)
	}
	checkDigests("after pull")
	res := m.run("--debug", "pull", byDigest)
	if res.code != 0 || !strings.Contains(res.stdout, "Status: Image is up to date for "+byDigest) {
		t.Errorf("pull by digest of a pulled image: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if strings.Contains(res.stderr, "GET ") {
		t.Errorf("pull by digest of a stored image asked the registry:\n%s", res.stderr)
	}
	res = m.run("run", "--rm", byDigest)
	if res.code != 0 || res.stdout != "pinned\n" || strings.Contains(res.stderr, "Unable to find") {
		t.Errorf("run %s: exit %d, stdout %q, stderr %q", byDigest, res.code, res.stdout, res.stderr)
	}
}

// TestRegistryCrossRepoMount: pushing an image to a second repository of
// the same registry mounts every blob from the first (POST ?mount=&from=,
// 201) and uploads none; so does pushing a pulled image elsewhere on its
// registry. The pushed copy pulls and runs.
func TestRegistryCrossRepoMount(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	name := pushedImage(t, m, r, "first")
	checkMounted := func(target string) {
		t.Helper()
		m.must("tag", name, target)
		res := m.run("--debug", "push", target)
		if res.code != 0 {
			t.Fatalf("push %s: exit %d\n%s%s", target, res.code, res.stdout, res.stderr)
		}
		if !strings.Contains(res.stdout, ": Mounted from first") || strings.Contains(res.stdout, ": Pushed") {
			t.Errorf("push %s did not mount its layers:\n%s", target, res.stdout)
		}
		if !regexp.MustCompile(`POST \S*/v2/[a-z/]+/blobs/uploads/\?from=first&mount=sha256:[0-9a-f]{64} -> 201 Created`).MatchString(res.stderr) {
			t.Errorf("push %s: no mount answered 201 in the exchange:\n%s", target, res.stderr)
		}
		if regexp.MustCompile(`(PUT|PATCH) \S*/blobs/uploads/`).MatchString(res.stderr) {
			t.Errorf("push %s uploaded a blob:\n%s", target, res.stderr)
		}
	}
	checkMounted(r.addr + "/second/copy:v1")
	m.must("rmi", name, r.addr+"/second/copy:v1")
	m.must("pull", name)
	checkMounted(r.addr + "/third:v1")
	m.must("rmi", name, r.addr+"/third:v1")
	if got := m.must("run", "--rm", r.addr+"/second/copy:v1"); got != "from-the-registry\n" {
		t.Errorf("run of the mounted copy printed %q", got)
	}
}

// TestRegistryPullProgress: on a terminal (a pty of 120 columns), pull
// draws one line per layer and redraws it in place (cursor up) with a
// bar and byte counts, then says Pull complete, the digest and the
// status; into a pipe it writes plain lines without bars or escapes;
// with -q it writes nothing.
func TestRegistryPullProgress(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	m.must("run", "--name", "big", "base", "sh", "-c", "head -c 6291456 /dev/urandom > /big")
	name := r.addr + "/progress:v1"
	m.must("commit", "big", name)
	m.must("push", name)
	m.must("rmi", name)

	master, slave := openTestPty(t, 30, 120)
	defer master.Close()
	cmd := exec.Command(finalBinary, "--root", m.root, "pull", name)
	cmd.Stdout, cmd.Stderr = slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Start() })
	slave.Close()
	if err != nil {
		t.Fatal(err)
	}
	var screen lockedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, master); close(copied) }() // ends with EIO when the pull's end of the pty closes
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pull on a terminal: %v\n%q", err, screen.String())
	}
	<-copied
	out := screen.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\x1b\[\d+A`), // back up to a layer's line
		regexp.MustCompile(`[0-9a-f]{12}: Downloading \[=*>? *\]\s+[0-9.]+[kM]?B/[0-9.]+MB`),
		regexp.MustCompile(`[0-9a-f]{12}: Pull complete`),
		regexp.MustCompile(`Digest: sha256:[0-9a-f]{64}`),
		regexp.MustCompile(`Status: Downloaded newer image for ` + regexp.QuoteMeta(name)),
	} {
		if !want.MatchString(out) {
			t.Errorf("pull on a terminal shows no %s:\n%q", want, out)
		}
	}

	m.must("rmi", name)
	plain := m.must("pull", name)
	if strings.Contains(plain, "\x1b") || strings.Contains(plain, "Downloading") || !strings.Contains(plain, ": Pull complete\n") {
		t.Errorf("pull into a pipe printed:\n%q", plain)
	}
	m.must("rmi", name)
	if quiet := m.run("pull", "-q", name); quiet.code != 0 || quiet.stdout != "" || quiet.stderr != "" {
		t.Errorf("pull -q: exit %d, printed %q %q", quiet.code, quiet.stdout, quiet.stderr)
	}
}

// podman runs podman in m's network namespace with storage of the test's
// own (vfs: no mounts), no events and no cgroup manager of the host's
// (skipping the test when podman is missing, outside CI).
func podman(t *testing.T, m *md, dir string, args ...string) string {
	t.Helper()
	bin := needProgram(t, "podman", "podman")
	global := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--tmpdir", filepath.Join(dir, "tmp")}
	if _, err := os.Stat("/run/containers"); err != nil {
		// podman makes an empty /run/containers/networks whatever its
		// configuration says; it goes with the test when it was not there.
		t.Cleanup(func() { os.Remove("/run/containers/networks"); os.Remove("/run/containers") })
	}
	cmd := exec.Command(bin, append(global, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"))
	var out []byte
	var err error
	m.inNetns(func() { out, err = cmd.CombinedOutput() })
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRegistryPodmanInterop: podman pulls an image minidocker pushed (its
// inspect shows minidocker's layers, command and manifest digest), and
// minidocker pulls and runs an image podman made and pushed.
func TestRegistryPodmanInterop(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	if _, err := exec.LookPath("podman"); err != nil {
		podman(t, m, "") // skips or fails as the environment says
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	name := pushedImage(t, m, r, "frommd")
	podman(t, m, dir, "pull", "--tls-verify=false", name)
	var seen []struct {
		Digest string
		Config struct{ Cmd []string }
		RootFS struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(podman(t, m, dir, "image", "inspect", name)), &seen); err != nil || len(seen) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	ours := m.inspect(name)
	if fmt.Sprint(seen[0].RootFS.Layers) != fmt.Sprint(field(ours, "RootFS", "Layers")) || fmt.Sprint(seen[0].Config.Cmd) != "[cat /marker]" {
		t.Errorf("podman sees layers %v and command %v; minidocker has %v", seen[0].RootFS.Layers, seen[0].Config.Cmd, field(ours, "RootFS", "Layers"))
	}
	if digests := fmt.Sprint(field(ours, "RepoDigests")); !strings.Contains(digests, seen[0].Digest) {
		t.Errorf("podman pulled manifest %s, minidocker pushed %s", seen[0].Digest, digests)
	}

	rootfs := filepath.Join(dir, "rootfs.tar")
	m.must("run", "--name", "source", "base", "sh", "-c", "echo from-podman > /marker")
	m.must("export", "-o", rootfs, "source")
	other := r.addr + "/frompodman:v1"
	podman(t, m, dir, "import", "--change", `CMD ["cat", "/marker"]`, rootfs, other)
	podman(t, m, dir, "push", "--tls-verify=false", other)
	if out := m.must("pull", other); !strings.Contains(out, "Status: Downloaded newer image for "+other) {
		t.Errorf("pull of podman's image:\n%s", out)
	}
	if got := m.must("run", "--rm", other); got != "from-podman\n" {
		t.Errorf("run of the image podman pushed printed %q", got)
	}
}

// testCA makes a CA and a server certificate it signs for ip, in PEM.
func testCA(t *testing.T, ip string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minidocker test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestRegistryTLS: a registry on an address that is not loopback (given
// to lo of the test's namespace) is spoken to in verified TLS.
// Its certificate, from a CA the test made, is refused until the CA is in
// <root>/certs.d/HOST:PORT/ca.crt, with an error that says so; then push,
// pull and run work. --insecure-registry reaches it without the CA.
func TestRegistryTLS(t *testing.T) {
	m := newMD(t)
	const ip = "10.123.0.1"
	var err error
	m.inNetns(func() {
		var lo netlink.Link
		if lo, err = netlink.LinkByName("lo"); err != nil {
			return
		}
		addr, _ := netlink.ParseAddr(ip + "/32")
		err = netlink.AddrAdd(lo, addr)
	})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, certPEM, keyPEM := testCA(t, ip)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	r := startRegistryOn(t, m, ip, fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")), "")
	name := r.addr + "/secure/app:v1"
	m.must("run", "--name", "maker", "base", "sh", "-c", "echo over-tls > /marker")
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker", name)
	m.fails(1, "certs.d/"+r.addr+"/ca.crt", "push", name)
	certs := filepath.Join(m.root, "certs.d", r.addr)
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	push := m.run("--debug", "push", name)
	if push.code != 0 || !strings.Contains(push.stderr, "PUT https://"+r.addr+"/v2/secure/app/manifests/v1 -> 201") || strings.Contains(push.stderr, "http://") {
		t.Fatalf("push over TLS: exit %d\n%s%s", push.code, push.stdout, push.stderr)
	}
	m.must("rmi", name)
	m.must("pull", name)
	if got := m.must("run", "--rm", name); got != "over-tls\n" {
		t.Errorf("run of the image pulled over TLS printed %q", got)
	}
	os.RemoveAll(filepath.Join(m.root, "certs.d"))
	m.must("rmi", name)
	m.fails(1, "certificate", "pull", name)
	m.must("--insecure-registry", r.addr, "pull", name)
}

// tokenIssuer is a small token server, as Docker Hub's auth.docker.io:
// it hands out JWTs (ES256, with its certificate in the x5c header) that
// grant the scope asked for, to alice with her password, and only pull
// to anyone without credentials; a wrong password gets 401.
type tokenIssuer struct {
	addr     string
	key      *ecdsa.PrivateKey
	certDER  []byte
	password string
	mu       sync.Mutex
	tokens   []string
}

// startTokenIssuer serves tokens in m's network namespace and writes its
// certificate to bundle, for the registry to trust.
func startTokenIssuer(t *testing.T, m *md, password, bundle string) *tokenIssuer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "minidocker test token issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	ti := &tokenIssuer{key: key, certDER: der, password: password}
	var l net.Listener
	m.inNetns(func() { l, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	ti.addr = l.Addr().String()
	srv := &http.Server{Handler: ti}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ti
}

// ServeHTTP answers GET /token?service=S&scope=repository:NAME:ACTIONS.
func (ti *tokenIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	if hasAuth && (user != "alice" || pass != ti.password) {
		http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
		return
	}
	var access []map[string]any
	for _, scope := range r.URL.Query()["scope"] { // one per repository, as a push that mounts asks
		parts := strings.Split(scope, ":")
		if len(parts) != 3 {
			http.Error(w, "bad scope", http.StatusBadRequest)
			return
		}
		actions := strings.Split(parts[2], ",")
		if !hasAuth {
			actions = []string{"pull"}
		}
		access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": actions})
	}
	now := time.Now()
	claims := map[string]any{"iss": "minidocker-test-issuer", "sub": user, "aud": r.URL.Query().Get("service"),
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprint(now.UnixNano()), "access": access}
	header := map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(ti.certDER)}}
	token, err := signJWT(ti.key, header, claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ti.mu.Lock()
	ti.tokens = append(ti.tokens, token)
	ti.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"token": token})
}

// signJWT makes a compact JWS signed with ES256.
func signJWT(key *ecdsa.PrivateKey, header, claims map[string]any) (string, error) {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}

// TestRegistryTokenAuth: docker-registry with token auth, as Docker Hub
// has it, and a token issuer in the test whose certificate it trusts.
// Pull works anonymously; push needs a token that grants push, which
// only login gives; a wrong password is the token server's refusal, one
// line, exit 1; no token appears in any output.
func TestRegistryTokenAuth(t *testing.T) {
	m := newMD(t)
	const password = "t0ken-pa55"
	bundle := filepath.Join(t.TempDir(), "issuer.pem")
	ti := startTokenIssuer(t, m, password, bundle)
	r := startRegistry(t, m, fmt.Sprintf("auth:\n  token:\n    realm: http://%s/token\n    service: test-registry\n    issuer: minidocker-test-issuer\n    rootcertbundle: %s\n", ti.addr, bundle))
	name := r.addr + "/tok/app:v1"
	m.must("run", "--name", "maker", "base", "sh", "-c", "echo with-a-token > /marker")
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker", name)
	m.fails(1, "401 Unauthorized", "push", name)
	wrong := m.runInput("wrong\n", "login", "-u", "alice", "--password-stdin", r.addr)
	if wrong.code != 1 || !strings.Contains(wrong.stderr, "refused a token") || strings.Count(strings.TrimSpace(wrong.stderr), "\n") != 0 {
		t.Errorf("login with a wrong password: exit %d, stderr %q", wrong.code, wrong.stderr)
	}
	m.runInput(password+"\n", "login", "-u", "alice", "--password-stdin", r.addr)
	push := m.run("--debug", "push", name)
	if push.code != 0 || !strings.Contains(push.stderr, "/token?scope=repository:tok/app:pull,push&service=test-registry (Authorization: Basic ***) -> 200") ||
		!strings.Contains(push.stderr, "(Authorization: Bearer ***)") {
		t.Fatalf("push with a token: exit %d\n%s%s", push.code, push.stdout, push.stderr)
	}
	m.must("logout", r.addr)
	m.must("rmi", name)
	pull := m.run("--debug", "pull", name)
	if pull.code != 0 || !strings.Contains(pull.stderr, "WWW-Authenticate: Bearer realm=") {
		t.Fatalf("anonymous pull with a token: exit %d\n%s%s", pull.code, pull.stdout, pull.stderr)
	}
	if got := m.must("run", "--rm", name); got != "with-a-token\n" {
		t.Errorf("run printed %q", got)
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	for _, tok := range ti.tokens {
		for _, out := range []string{push.stdout, push.stderr, pull.stdout, pull.stderr, wrong.stderr} {
			if strings.Contains(out, tok[strings.LastIndex(tok, ".")+1:]) {
				t.Errorf("a token appears in minidocker's output:\n%s", out)
			}
		}
	}
}

// TestRegistryConcurrentPulls runs two pulls of one image at once: both
// succeed, the image is stored once, and no temp file is left.
func TestRegistryConcurrentPulls(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	name := pushedImage(t, m, r, "twice")
	m.must("rmi", name)
	a, outA := startMD(t, m, "pull", name)
	b, outB := startMD(t, m, "pull", name)
	errA, errB := a.Wait(), b.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("two pulls at once: %v, %v\n%s\n%s", errA, errB, outA, outB)
	}
	if got := m.must("run", "--rm", name); got != "from-the-registry\n" {
		t.Errorf("run after two pulls printed %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(m.root, "image", "tmp")); len(entries) > 0 {
		t.Errorf("two pulls left %s in tmp/", entries[0].Name())
	}
	if n := strings.Count(m.must("images", "-q"), "\n"); n != 2 {
		t.Errorf("images -q lists %d images, want 2 (base and the pulled one)", n)
	}
}
