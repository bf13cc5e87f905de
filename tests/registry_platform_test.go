//go:build linux

// A multi-platform image, and pulls killed at each step of their work,
// against the real registry of registry_test.go.

package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
