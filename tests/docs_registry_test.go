//go:build linux

// The exchange in docs/09-images-and-registries.md is real: a push and a
// pull with --debug against docker-registry with token auth (the token
// issuer of registry_test.go), run by this test and compared with the
// block, with what changes from run to run masked ("make docs" rewrites it).

package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// registryDoc is the chapter on images and registries.
var registryDoc = filepath.Join(repoRoot, "docs", "09-images-and-registries.md")

// exchangeMasks are what changes between runs of the exchange, besides ids.
var exchangeMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`_state=[^& )]+`), "_state=<state>"},
	{regexp.MustCompile(`/uploads/[0-9a-f-]{36}`), "/uploads/<uuid>"},
}

// TestDocsRegistryExchange pushes and pulls an image as the chapter does.
func TestDocsRegistryExchange(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the exchange shows what minidocker prints on the machines that build this project; checked there, not in the test VM")
	}
	name, value, _ := strings.Cut(docsRootfs, "=")
	t.Setenv(name, value)
	m := newMD(t)
	const password = "s3cret-of-alice"
	bundle := filepath.Join(t.TempDir(), "issuer.pem")
	ti := startTokenIssuer(t, m, password, bundle)
	r := startRegistry(t, m, fmt.Sprintf("auth:\n  token:\n    realm: http://%s/token\n    service: class-registry\n    issuer: minidocker-test-issuer\n    rootcertbundle: %s\n", ti.addr, bundle))
	image := r.addr + "/alice/greeting:v1"
	steps := []struct {
		args  []string
		input string
	}{
		{args: []string{"run", "--name", "maker", "base", "sh", "-c", "echo hello from alice > /greeting"}},
		{args: []string{"commit", "-c", `CMD ["cat", "/greeting"]`, "maker", image}},
		{args: []string{"login", "-u", "alice", "--password-stdin", r.addr}, input: password + "\n"},
		{args: []string{"--debug", "push", image}},
		{args: []string{"rm", "maker"}},
		{args: []string{"rmi", image}},
		{args: []string{"logout", r.addr}},
		{args: []string{"--debug", "pull", image}},
		{args: []string{"run", "--rm", image}},
		{args: []string{"login", "-u", "alice", "--password-stdin", r.addr}, input: password + "\n"},
		{args: []string{"tag", image, r.addr + "/class/greeting:v1"}},
		{args: []string{"--debug", "push", r.addr + "/class/greeting:v1"}},
		{args: []string{"images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"}},
	}
	var b strings.Builder
	b.WriteString("```console\n")
	for i, s := range steps {
		if i == 5 { // after the push, before rmi: what the registry holds
			showManifest(t, r, ti, "alice/greeting", "v1")
		}
		out := runCombined(t, m, s.input, s.args...)
		line := "$ sudo minidocker " + shellQuote(s.args)
		if s.input != "" {
			line += " < alice-password.txt"
		}
		b.WriteString(line + "\n" + out)
	}
	b.WriteString("```\n")
	out := strings.NewReplacer(r.addr, "127.0.0.1:5000", ti.addr, "127.0.0.1:5001").Replace(b.String())
	if strings.Contains(out, password) {
		t.Fatalf("the password appears in the exchange:\n%s", out)
	}
	for _, mask := range exchangeMasks {
		out = mask.re.ReplaceAllString(out, mask.with)
	}
	checkDocBlockIn(t, registryDoc, "exchange", out, func(a, b string) bool { return maskExchange(a) == maskExchange(b) })
}

// showManifest checks the chapter's blocks "exchange-manifest" and
// "exchange-config": the manifest of repo:tag and the config it points
// at, as the registry serves them (fetched with an anonymous pull token).
func showManifest(t *testing.T, r *testRegistry, ti *tokenIssuer, repo, tag string) {
	t.Helper()
	client := r.client()
	resp, err := client.Get(fmt.Sprintf("http://%s/token?scope=repository:%s:pull&service=class-registry", ti.addr, repo))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		req, _ := http.NewRequest("GET", r.url(path), nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", path, resp.Status, data)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, data, "", "  "); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return pretty.Bytes()
	}
	manifest := get("/v2/" + repo + "/manifests/" + tag)
	var m struct{ Config struct{ Digest string } }
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	config := get("/v2/" + repo + "/blobs/" + m.Config.Digest)
	same := func(a, b string) bool { return maskExchange(a) == maskExchange(b) }
	checkDocBlockIn(t, registryDoc, "exchange-manifest", "```json\n"+string(manifest)+"\n```\n", same)
	checkDocBlockIn(t, registryDoc, "exchange-config", "```json\n"+string(config)+"\n```\n", same)
}

// runCombined runs minidocker in m's network namespace, which must
// succeed, with stdout and stderr in one pipe, so that the narration and
// the progress lines come in the order they were written, as on a terminal.
func runCombined(t *testing.T, m *md, input string, args ...string) string {
	t.Helper()
	cmd := exec.Command(finalBinary, append([]string{"--root", m.root}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Run() })
	if err != nil {
		t.Fatalf("minidocker %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// maskExchange hides ids and the order of lines that parallel transfers
// print in any order.
func maskExchange(s string) string {
	return maskedLines(hexIDs.ReplaceAllString(s, "<id>"))
}
