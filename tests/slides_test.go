// The teacher's slides (docs/labs/slides, docs/labs/agenda.md) build: every
// deck renders with the documented command (make slides, render.sh) into
// one self-contained HTML file that loads nothing from the network, and a
// deck that refers to a file that is not there fails the build. Their
// Markdown links are checked with every other page's (links_test.go).

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// slidesDir holds the decks and their renderer.
var slidesDir = filepath.Join(repoRoot, "docs", "labs", "slides")

// externalResource finds a script, style sheet or image the browser would fetch.
var externalResource = regexp.MustCompile(`<(?:script|img|link)[^>]*(?:src|href)="(?:https?:)?//[^"]*"`)

func TestSlidesRender(t *testing.T) {
	needPandoc(t)
	decks, _ := filepath.Glob(filepath.Join(slidesDir, "[0-9][0-9]-*.md"))
	if len(decks) == 0 {
		t.Fatalf("no deck in %s", slidesDir)
	}
	out := t.TempDir()
	if msg, err := exec.Command("bash", filepath.Join(slidesDir, "render.sh"), out).CombinedOutput(); err != nil {
		t.Fatalf("render.sh: %v\n%s", err, msg)
	}
	for _, deck := range decks {
		name := strings.TrimSuffix(filepath.Base(deck), ".md")
		html, err := os.ReadFile(filepath.Join(out, name+".html"))
		if err != nil {
			t.Errorf("%s: no HTML rendered: %v", name, err)
			continue
		}
		if m := externalResource.Find(html); m != nil {
			t.Errorf("%s.html fetches %s: a deck must open offline", name, m)
		}
		if n := strings.Count(string(html), "<h2"); n < 4 {
			t.Errorf("%s.html has %d slides, want at least 4", name, n)
		}
	}
}

func TestSlidesRenderFailsOnAMissingFile(t *testing.T) {
	needPandoc(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(slidesDir, "render.sh"), filepath.Join(dir, "render.sh"))
	deck := "---\ntitle: broken\n---\n\n## A slide\n\n![a diagram](no-such-diagram.png)\n"
	if err := os.WriteFile(filepath.Join(dir, "01-broken.md"), []byte(deck), 0o644); err != nil {
		t.Fatal(err)
	}
	msg, err := exec.Command("bash", filepath.Join(dir, "render.sh"), t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "no-such-diagram.png") {
		t.Errorf("a deck with a missing image rendered (err %v), or the error does not name it:\n%s", err, msg)
	}
}

// needPandoc skips (fails under MINIDOCKER_STRICT) without pandoc, which
// .ci/run installs; the test VM, which has no pandoc, always skips.
func needPandoc(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pandoc"); err != nil {
		skipUnlessStrict(t, "needs pandoc to render the slides: sudo apt-get install pandoc")
	}
}
