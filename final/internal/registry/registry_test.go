//go:build linux

package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minidocker/minidocker/final/internal/image"
)

// TestParseReference resolves names as Docker does.
func TestParseReference(t *testing.T) {
	cases := []struct{ in, want, local string }{
		{"alpine", "docker.io/library/alpine:latest", "alpine:latest"},
		{"user/app:1.0", "docker.io/user/app:1.0", "user/app:1.0"},
		{"docker.io/library/alpine:3", "docker.io/library/alpine:3", "alpine:3"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"host:5000/team/app:v1", "host:5000/team/app:v1", "host:5000/team/app:v1"},
		{"[::1]:5000/app:v1", "[::1]:5000/app:v1", "[::1]:5000/app:v1"},
		{"Registry/app", "Registry/app:latest", "Registry/app:latest"},
		{"a__b/c-d--e", "docker.io/a__b/c-d--e:latest", "a__b/c-d--e:latest"},
		{"reg.example.com/app@sha256:" + strings.Repeat("a", 64), "reg.example.com/app@sha256:" + strings.Repeat("a", 64), ""},
	}
	for _, c := range cases {
		r, err := ParseReference(c.in)
		if err != nil || r.String() != c.want || r.LocalName() != c.local {
			t.Errorf("ParseReference(%q) = %q, %q, %v; want %q, %q", c.in, r.String(), r.LocalName(), err, c.want, c.local)
		}
	}
	for _, bad := range []string{"", "UPPER", "host:5000/App", "a/../b", "a//b", "app:", "app@sha256:abc", "-app", "app:.x", "host:port/app", "a.-b", "a___b", "app-", "Upper/Case"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) succeeded", bad)
		}
	}
}

// TestInsecure: plain HTTP only for loopback and listed hosts.
func TestInsecure(t *testing.T) {
	c := &Client{Insecure: []string{"lab.example:5000"}}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true,
		"lab.example:5000": true, "lab.example:5001": false, "registry-1.docker.io": false, "10.0.0.1:5000": false,
	} {
		if got := c.insecure(host); got != want {
			t.Errorf("insecure(%q) = %v, want %v", host, got, want)
		}
	}
}

// fakeRegistry serves one image under /v2/app, behind a bearer token.
type fakeRegistry struct {
	blobs     map[string][]byte
	manifests map[string][]byte // tag or digest -> body
	types     map[string]string // tag or digest -> media type
	token     string
	served    []string
	tamper    func(path string, body []byte) []byte
	fail      int  // when not 0, the status every blob request gets
	closeMid  bool // promise a blob's full length, send half, close
}

// ServeHTTP answers the distribution API and the token endpoint.
func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.served = append(f.served, r.Method+" "+r.URL.Path)
	if r.URL.Path == "/token" {
		if r.URL.Query().Get("scope") != "repository:app:pull" || r.URL.Query().Get("service") != "fake" {
			http.Error(w, "bad scope", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": f.token})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="fake",scope="repository:app:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body []byte
	switch {
	case r.URL.Path == "/v2/":
		w.Write([]byte("{}"))
		return
	case strings.HasPrefix(r.URL.Path, "/v2/app/manifests/"):
		ref := strings.TrimPrefix(r.URL.Path, "/v2/app/manifests/")
		body = f.manifests[ref]
		w.Header().Set("Content-Type", f.types[ref])
	case strings.HasPrefix(r.URL.Path, "/v2/app/blobs/"):
		body = f.blobs[strings.TrimPrefix(r.URL.Path, "/v2/app/blobs/")]
	}
	if body == nil {
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`, http.StatusNotFound)
		return
	}
	if f.tamper != nil {
		body = f.tamper(r.URL.Path, body)
	}
	if strings.Contains(r.URL.Path, "/blobs/") && f.fail != 0 {
		http.Error(w, "broken", f.fail)
		return
	}
	if strings.Contains(r.URL.Path, "/blobs/") && f.closeMid {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		return // the server closes a connection whose answer is short
	}
	w.Write(body)
}

// digestOf is the sha256 digest of data.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newFake makes a registry holding a one-layer image for linux/amd64 and
// linux/arm64 behind an OCI index tagged "multi", and the amd64 manifest tagged "v1".
func newFake(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}, types: map[string]string{}, token: "s3cret-token"}
	for _, arch := range []string{"amd64", "arm64"} {
		var tarBuf bytes.Buffer
		tw := tar.NewWriter(&tarBuf)
		tw.WriteHeader(&tar.Header{Name: "arch", Mode: 0o644, Size: int64(len(arch)), Typeflag: tar.TypeReg})
		tw.Write([]byte(arch))
		tw.Close()
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(tarBuf.Bytes())
		zw.Close()
		config, _ := json.Marshal(map[string]any{"architecture": arch, "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{digestOf(tarBuf.Bytes())}}})
		f.blobs[digestOf(gz.Bytes())] = gz.Bytes()
		f.blobs[digestOf(config)] = config
		m, _ := json.Marshal(manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
			Config: Descriptor{MediaType: mediaTypeOCIConfig, Digest: digestOf(config), Size: int64(len(config))},
			Layers: []Descriptor{{MediaType: mediaTypeOCILayerGzip, Digest: digestOf(gz.Bytes()), Size: int64(gz.Len())}}})
		f.manifests[digestOf(m)], f.types[digestOf(m)] = m, MediaTypeOCIManifest
		if arch == "amd64" {
			f.manifests["v1"], f.types["v1"] = m, MediaTypeOCIManifest
		}
	}
	var index manifest
	index.SchemaVersion, index.MediaType = 2, MediaTypeOCIIndex
	for d, m := range f.manifests {
		if d == "v1" {
			continue
		}
		var mm manifest
		json.Unmarshal(m, &mm)
		var cfg image.Config
		json.Unmarshal(f.blobs[mm.Config.Digest], &cfg)
		index.Manifests = append(index.Manifests, Descriptor{MediaType: MediaTypeOCIManifest, Digest: d, Size: int64(len(m)),
			Platform: &Platform{OS: "linux", Architecture: cfg.Architecture}})
	}
	data, _ := json.Marshal(index)
	f.manifests["multi"], f.types["multi"] = data, MediaTypeOCIIndex
	return f
}

// pull pulls name from the fake into a new store.
func pullFake(t *testing.T, f *fakeRegistry, tag string, p Platform) (*image.Store, PullResult, string, error) {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	store, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/app:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	var debug bytes.Buffer
	res, err := (&Client{Debug: &debug}).Pull(context.Background(), ref, store, PullOptions{Platform: p})
	return store, res, debug.String(), err
}

// TestPullBearer follows the token dance, narrows an index to the asked
// platform, and never prints the token.
func TestPullBearer(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		f := newFake(t)
		store, res, debug, err := pullFake(t, f, "multi", Platform{OS: "linux", Architecture: arch})
		if err != nil {
			t.Fatalf("pull %s: %v\n%s", arch, err, debug)
		}
		if res.Image.Config.Architecture != arch {
			t.Errorf("pulled %s, want %s", res.Image.Config.Architecture, arch)
		}
		if strings.Contains(debug, f.token) || !strings.Contains(debug, "401 Unauthorized") || !strings.Contains(debug, "/token?scope=repository:app:pull&service=fake -> 200") {
			t.Errorf("debug output:\n%s", debug)
		}
		l, err := store.OpenLayer(res.Image.Config.RootFS.DiffIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
}

// TestPullRefusesBadBlobs: content that does not hash to its digest, a
// truncated blob, an unknown media type, a platform the index lacks:
// an error, and nothing in the store.
func TestPullRefusesBadBlobs(t *testing.T) {
	cases := map[string]struct {
		tamper func(path string, body []byte) []byte
		edit   func(f *fakeRegistry)
		want   string
		arch   string
	}{
		"flipped byte": {tamper: func(p string, b []byte) []byte {
			if strings.Contains(p, "/blobs/") {
				b = append([]byte(nil), b...)
				b[len(b)-1] ^= 1
			}
			return b
		}, want: "hashes to"},
		"truncated": {tamper: func(p string, b []byte) []byte {
			if strings.Contains(p, "/blobs/") {
				return b[:len(b)-1]
			}
			return b
		}, want: "cut short"},
		"server error":    {edit: func(f *fakeRegistry) { f.fail = http.StatusInternalServerError }, want: "500 Internal Server Error"},
		"closed mid-blob": {edit: func(f *fakeRegistry) { f.closeMid = true }, want: "unexpected EOF"},
		"unknown media type": {edit: func(f *fakeRegistry) {
			f.manifests["v1"] = []byte(strings.Replace(string(f.manifests["v1"]), MediaTypeOCIManifest, "application/x-nonsense", 1))
		}, want: "unknown media type"},
		"unknown layer compression": {edit: func(f *fakeRegistry) {
			m := strings.Replace(string(f.manifests["v1"]), mediaTypeOCILayerGzip, "application/vnd.oci.image.layer.v1.tar+lz4", 1)
			f.manifests["v1"] = []byte(m)
		}, want: "unknown media type"},
		"no such platform": {arch: "s390x", want: "has no image for linux/s390x"},
		"index names a tag": {arch: "amd64", edit: func(f *fakeRegistry) {
			var index manifest
			json.Unmarshal(f.manifests["multi"], &index)
			for i := range index.Manifests {
				index.Manifests[i].Digest = "v1" // fetched by tag, nothing to check it against
			}
			f.manifests["multi"], _ = json.Marshal(index)
		}, want: "bad descriptor"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.tamper = c.tamper
			if c.edit != nil {
				c.edit(f)
			}
			tag, p := "v1", HostPlatform()
			if c.arch != "" {
				tag, p = "multi", Platform{OS: "linux", Architecture: c.arch}
			}
			store, _, debug, err := pullFake(t, f, tag, p)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got error %v, want one line containing %q\n%s", err, c.want, debug)
			}
			for _, sub := range []string{"layers", "images", "tmp"} {
				if entries, _ := os.ReadDir(filepath.Join(store.Dir(), sub)); len(entries) > 0 {
					t.Errorf("a refused pull left %s/%s", sub, entries[0].Name())
				}
			}
		})
	}
}

// TestAPIErrorOneLine: a registry's error message, whatever it holds,
// becomes one short line.
func TestAPIErrorOneLine(t *testing.T) {
	body := `{"errors":[{"code":"DENIED","message":"line one\nline two\r\u001b[31m` + strings.Repeat("x", 1000) + `"}]}`
	resp := &http.Response{Status: "403 Forbidden", StatusCode: http.StatusForbidden, Body: io.NopCloser(strings.NewReader(body))}
	msg := apiError("GET manifest", resp).Error()
	if strings.ContainsAny(msg, "\n\r\x1b") || len(msg) > 400 || !strings.Contains(msg, "DENIED: line one") {
		t.Errorf("apiError = %q", msg)
	}
}

// TestStoreLeavesNoTemp: a config.json that cannot be replaced (here a
// directory) gives an error and leaves no temp file beside it.
func TestStoreLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(path, []byte("{}\n")); err == nil {
		t.Fatal("writePrivate over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestTrustedRealm: credentials go to the registry's own host or its
// parent domain's hosts, over https, and to the same host over plain HTTP
// only for a registry spoken to in plain HTTP.
func TestTrustedRealm(t *testing.T) {
	cases := []struct {
		registry, realm string
		want            bool
	}{
		{"docker.io", "https://auth.docker.io/token", true},
		{"registry.gitlab.com", "https://gitlab.com/jwt/auth", true},
		{"ghcr.io", "https://ghcr.io/token", true},
		{"reg.example.com:5000", "https://reg.example.com/token", true},
		{"reg.example.com", "https://auth.example.com/token", true},
		{"reg.example.com", "http://reg.example.com/token", false},
		{"reg.example.com", "https://evil.example.org/token", false},
		{"reg.example.com", "https://example.com.evil.org/token", false},
		{"example.com", "https://auth.example.com/token", false},
		{"example.com", "https://evil.com/token", false},
		{"127.0.0.1:5000", "http://127.0.0.1:5001/token", true},
		{"127.0.0.1:5000", "http://127.0.0.2:5001/token", false},
		{"10.0.0.5:5000", "https://10.0.0.6/token", false},
		{"10.0.0.5:5000", "http://10.0.0.5/token", false}, // not listed as insecure: https only
	}
	for _, c := range cases {
		ref, err := ParseReference(c.registry + "/app")
		if err != nil {
			t.Fatal(err)
		}
		realm, _ := url.Parse(c.realm)
		s := &session{c: &Client{}, ref: ref}
		if got := s.trustedRealm(realm); got != c.want {
			t.Errorf("registry %s, realm %s: trusted %v, want %v", c.registry, c.realm, got, c.want)
		}
	}
}
