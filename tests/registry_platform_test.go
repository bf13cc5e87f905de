//go:build linux

// A multi-platform image, and pulls killed at each step of their work,
// against the real registry of registry_test.go.

package tests

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http/httputil"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"golang.org/x/sys/unix"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// platformImage is one platform's image of an index, as pushed.
type platformImage struct {
	desc     map[string]any // the index's descriptor of its manifest
	topLayer string         // the digest of its own (last) layer blob
	topDiff  string         // that layer's diff id
}

// pushPlatformImage commits a container whose /marker says arch, pushes
// it as repo:arch, and rewrites its config on the registry to say arch
// (as an image built for that architecture would).
func pushPlatformImage(t *testing.T, m *md, r *testRegistry, repo, arch string) platformImage {
	t.Helper()
	name := r.addr + "/" + repo + ":" + arch
	m.must("run", "--name", "maker-"+arch, "base", "sh", "-c", "echo built-for-"+arch+" > /marker")
	m.must("commit", "-c", `CMD ["cat", "/marker"]`, "maker-"+arch, name)
	m.must("push", name)
	code, header, raw := r.api(t, "GET", "/v2/"+repo+"/manifests/"+arch, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET manifest %s: %d %s", arch, code, raw)
	}
	var manifest map[string]any
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	config := manifest["config"].(map[string]any)
	code, _, rawConfig := r.api(t, "GET", "/v2/"+repo+"/blobs/"+config["digest"].(string), "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET config: %d", code)
	}
	var cfg map[string]any
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["architecture"], cfg["os"] = arch, "linux"
	rawConfig, _ = json.Marshal(cfg)
	config["digest"], config["size"] = r.uploadBlob(t, repo, rawConfig), len(rawConfig)
	raw, _ = json.Marshal(manifest)
	mediaType := header.Get("Content-Type")
	if code, _, body := r.api(t, "PUT", "/v2/"+repo+"/manifests/"+arch, mediaType, raw); code != http.StatusCreated {
		t.Fatalf("PUT manifest %s: %d %s", arch, code, body)
	}
	layers := manifest["layers"].([]any)
	diffIDs := cfg["rootfs"].(map[string]any)["diff_ids"].([]any)
	m.must("rm", "maker-"+arch)
	m.must("rmi", name)
	return platformImage{
		desc: map[string]any{"mediaType": mediaType, "digest": "sha256:" + sha256Hex(raw), "size": len(raw),
			"platform": map[string]string{"os": "linux", "architecture": arch}},
		topLayer: layers[len(layers)-1].(map[string]any)["digest"].(string),
		topDiff:  diffIDs[len(diffIDs)-1].(string),
	}
}

// mustBoth runs minidocker, which must succeed, and returns its stdout
// and stderr (where --debug narrates the exchange).
func mustBoth(m *md, args ...string) string {
	m.t.Helper()
	res := m.run(args...)
	if res.code != 0 {
		m.t.Fatalf("minidocker %s: exit status %d\n%s%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout + res.stderr
}

// sha256Hex is the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// hasLayer reports whether m's store holds the layer with this diff id.
func hasLayer(m *md, diffID string) bool {
	_, err := os.Stat(filepath.Join(m.root, "image", "layers", strings.TrimPrefix(diffID, "sha256:")))
	return err == nil
}

// TestRegistryMultiPlatform: an OCI index with this machine's image and
// another architecture's, written through the registry's API. pull
// takes this machine's without downloading a byte of the other's own
// layer; --platform takes the other; a platform the index lacks is a
// one-line error that lists those it has.
func TestRegistryMultiPlatform(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	host, other := runtime.GOARCH, "arm64"
	if host == "arm64" {
		other = "amd64"
	}
	mine := pushPlatformImage(t, m, r, "multi", host)
	theirs := pushPlatformImage(t, m, r, "multi", other)
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{theirs.desc, mine.desc}})
	if code, _, body := r.api(t, "PUT", "/v2/multi/manifests/v1", "application/vnd.oci.image.index.v1+json", index); code != http.StatusCreated {
		t.Fatalf("PUT index: %d %s", code, body)
	}
	name := r.addr + "/multi:v1"
	if hasLayer(m, mine.topDiff) || hasLayer(m, theirs.topDiff) {
		t.Fatal("the store still holds a pushed image's own layer after rmi")
	}

	out := mustBoth(m, "--debug", "pull", name)
	if !strings.Contains(out, "Digest: sha256:"+sha256Hex(index)) {
		t.Errorf("pull of the index does not end with the index's digest:\n%s", out)
	}
	if strings.Contains(out, theirs.topLayer) || strings.Contains(out, theirs.desc["digest"].(string)) {
		t.Errorf("pull for %s fetched %s's manifest or layer:\n%s", host, other, out)
	}
	if !hasLayer(m, mine.topDiff) || hasLayer(m, theirs.topDiff) {
		t.Errorf("after pull for %s: store has %s layer %v, %s layer %v", host, host, hasLayer(m, mine.topDiff), other, hasLayer(m, theirs.topDiff))
	}
	if got := m.must("run", "--rm", name); got != "built-for-"+host+"\n" {
		t.Errorf("run of the pulled index printed %q", got)
	}

	out = mustBoth(m, "--debug", "pull", "--platform", "linux/"+other, name)
	if strings.Contains(out, mine.topLayer) || !strings.Contains(out, theirs.topLayer) {
		t.Errorf("pull --platform linux/%s fetched the wrong layers:\n%s", other, out)
	}
	if !hasLayer(m, theirs.topDiff) {
		t.Errorf("pull --platform linux/%s did not store its layer", other)
	}
	if got := m.must("run", "--rm", name); got != "built-for-"+other+"\n" {
		t.Errorf("run after pull --platform linux/%s printed %q", other, got)
	}

	res := m.run("pull", "--platform", "linux/s390x", name)
	want := fmt.Sprintf("has no image for linux/s390x (it has: linux/%s, linux/%s)", other, host)
	if res.code != 1 || !strings.Contains(res.stderr, want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
		t.Errorf("pull of a platform the index lacks: exit %d, stderr %q, want 1 and %q", res.code, res.stderr, want)
	}
}

// holdingProxy is an HTTP proxy in front of a registry that holds the
// answer to the first request `hold` matches, until the client goes away
// or the test releases it: a pull is then caught just before that answer.
type holdingProxy struct {
	addr    string
	hold    func(*http.Request) bool
	held    chan struct{} // closed when a request is held
	release chan struct{} // closed to let the held request through
	once    sync.Once
}

// startHoldingProxy listens in m's network namespace and forwards to target.
func startHoldingProxy(t *testing.T, m *md, target string, hold func(*http.Request) bool) *holdingProxy {
	t.Helper()
	p := &holdingProxy{hold: hold, held: make(chan struct{}), release: make(chan struct{})}
	var l net.Listener
	var err error
	m.inNetns(func() { l, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	dial := netnsDialer(t, m)
	forward := &httputil.ReverseProxy{
		Director: func(r *http.Request) { r.URL.Scheme, r.URL.Host = "http", target },
		Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dial(addr) }},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.first(r) {
			select {
			case <-r.Context().Done():
				return
			case <-p.release:
			}
		}
		forward.ServeHTTP(w, r)
	})}
	go server.Serve(l)
	t.Cleanup(func() { server.Close() })
	return p
}

// first reports whether r is the request to hold (the first that matches).
func (p *holdingProxy) first(r *http.Request) bool {
	caught := false
	if p.hold(r) {
		p.once.Do(func() { caught = true; close(p.held) })
	}
	return caught
}

// waitHeld waits until the proxy holds a request of cmd's.
func (p *holdingProxy) waitHeld(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	select {
	case <-p.held:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull never sent the request to hold:\n%s", out)
	}
}

// waitInFlock waits until a thread of process pid sleeps in flock(2), as
// /proc/PID/task/*/syscall shows it.
func waitInFlock(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if nr, _, _ := strings.Cut(string(data), " "); nr == fmt.Sprint(unix.SYS_FLOCK) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never waited in flock(2)", pid)
}

// lockStore takes m's image store lock, as another minidocker would.
func lockStore(t *testing.T, m *md) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(m.root, "image", "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRegistryPullKilledAtEachStep kills a pull with SIGKILL while it
// waits for the manifest; after the manifest, before any blob; and with
// every blob downloaded, before the store takes the image (held by a
// lock the test takes). (TestRegistryPullKilled kills one mid-layer.)
// Each time: no image, nothing in the store but temp files of the dead
// process; the next pull completes, removes them, and the image runs.
func TestRegistryPullKilledAtEachStep(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	m.must("run", "--name", "two", "base", "sh", "-c", "echo one > /one")
	m.must("commit", "two", "mid")
	m.must("run", "--name", "three", "mid", "sh", "-c", "echo two > /two")
	pushed := r.addr + "/killed:v1"
	m.must("commit", "-c", `CMD ["cat", "/one", "/two"]`, "three", pushed)
	m.must("push", pushed)
	m.must("rm", "two", "three")
	m.must("rmi", pushed, "mid")
	cases := []struct {
		name  string
		hold  func(*http.Request) bool
		flock bool // also hold the store's lock, released after the held request
	}{
		{"before the manifest", func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }, false},
		{"after the manifest, before any blob", func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/") }, false},
		{"after every blob, before the tag", func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/") }, true},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			p := startHoldingProxy(t, m, r.addr, c.hold)
			name := p.addr + "/killed:v1"
			initial := storeEntries(t, m)
			cmd, out := startMD(t, m, "pull", name)
			p.waitHeld(t, cmd, out)
			var lock *os.File
			if c.flock {
				lock = lockStore(t, m)
				close(p.release)
				waitInFlock(t, cmd.Process.Pid)
			}
			kill9(t, cmd)
			if lock != nil {
				lock.Close()
			}
			temps := checkKilledPull(t, m, initial, cmd.Process.Pid)
			if c.flock && temps != 2 {
				t.Errorf("killed before the tag, the pull had %d temp files, want its 2 layers", temps)
			}
			pull, pullOut := startMD(t, m, "pull", name)
			if err := pull.Wait(); err != nil {
				t.Fatalf("pull after a killed pull: %v\n%s", err, pullOut)
			}
			if got := m.must("run", "--rm", name); got != "one\ntwo\n" {
				t.Errorf("run after the second pull printed %q", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(m.root, "image", "tmp")); len(entries) > 0 {
				t.Errorf("the store's tmp/ still holds %s after the next pull", entries[0].Name())
			}
			if n := strings.Count(m.must("images"), "/killed "); n != 1 {
				t.Errorf("images lists the pulled image %d times", n)
			}
			m.must("rmi", name)
		})
	}
}

// kill9 kills cmd with SIGKILL and reaps it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// checkKilledPull checks the store after a pull by pid was killed: no
// image of it, and nothing new but temp files named for pid, which it
// counts (the next minidocker command removes them).
func checkKilledPull(t *testing.T, m *md, initial []string, pid int) int {
	t.Helper()
	after := storeEntries(t, m) // before images, which removes a dead process's temp files
	if out := m.must("images"); strings.Contains(out, "/killed") {
		t.Errorf("a killed pull left an image:\n%s", out)
	}
	temps := 0
	for _, e := range difference(after, initial) {
		if strings.HasPrefix(e, fmt.Sprintf("tmp/%d-", pid)) {
			temps++
		} else {
			t.Errorf("after a killed pull, the store has %s besides the pull's temp files", e)
		}
	}
	return temps
}
