// Links cannot rot: every relative link in the README files and docs/
// must name a file or directory of the repository, and every #anchor a
// heading of the page it points into, spelled as GitHub makes heading
// anchors. Links to other sites are not followed (nothing here may need
// the internet).

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

func TestLinksResolve(t *testing.T) {
	pages := markdownPages(t)
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range markdownLinks(string(data)) {
			if problem := checkLink(page, l.target); problem != "" {
				rel, _ := filepath.Rel(repoRoot, page)
				t.Errorf("%s:%d: link %q: %s", rel, l.line, l.target, problem)
			}
		}
	}
}

func TestLinksCheckCatchesBrokenOnes(t *testing.T) {
	readme := filepath.Join(repoRoot, "README.md")
	for target, broken := range map[string]bool{
		"docs/README.md#prerequisites": false,
		"docs/no-such-page.md":         true,
		"docs/README.md#no-such-part":  true,
		"#no-such-part":                true,
		"https://example.com/x#y":      false,
	} {
		if got := checkLink(readme, target) != ""; got != broken {
			t.Errorf("checkLink(README.md, %q) finds it broken: %v, want %v", target, got, broken)
		}
	}
}

func TestLinksAnchorsAreSpelledAsGitHubDoes(t *testing.T) {
	tests := map[string]string{
		"Before you start":              "before-you-start",
		"`sudo: go: command not found`": "sudo-go-command-not-found",
		"Step 04 — pivot_root":          "step-04--pivot_root",
		"`overlayfs: filesystem on '…' not supported as upperdir`": "overlayfs-filesystem-on--not-supported-as-upperdir",
		"Set up, run, test":           "set-up-run-test",
		"The [lab VM](lab/README.md)": "the-lab-vm",
		"目标":                          "目标",
		"`MS_REC|MS_PRIVATE` 为什么要先做":  "ms_recms_private-为什么要先做",
		"01 — 用 clone(2) 创建命名空间":      "01--用-clone2-创建命名空间",
		"chroot：为什么它不是一堵墙（wall）":      "chroot为什么它不是一堵墙wall",
		"术语表（Glossary）、中文版":           "术语表glossary中文版",
	}
	for heading, want := range tests {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// markdownPages are the pages whose links are checked.
func markdownPages(t *testing.T) []string {
	t.Helper()
	var pages []string
	for _, p := range []string{"README.md", "lab/README.md", "tests/vm/README.md"} {
		if _, err := os.Stat(filepath.Join(repoRoot, p)); err == nil {
			pages = append(pages, filepath.Join(repoRoot, p))
		}
	}
	_ = filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return nil
	})
	if len(pages) == 0 {
		t.Skip("no Markdown pages here")
	}
	return pages
}

// fencedBlock is a fenced code block; inlineCode a code span.
var (
	fencedBlock  = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```")
	inlineCode   = regexp.MustCompile("`[^`\n]*`")
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
)

// blankFences empties fenced code blocks but keeps their lines, so that
// what is found after them keeps its line number.
func blankFences(text string) string {
	return fencedBlock.ReplaceAllStringFunc(text, func(block string) string {
		return strings.Repeat("\n", strings.Count(block, "\n"))
	})
}

// link is a link's target and the line of the page it is on.
type link struct {
	target string
	line   int
}

// markdownLinks are a page's links, outside code.
func markdownLinks(text string) []link {
	text = blankFences(text)
	text = inlineCode.ReplaceAllString(text, "``")
	var links []link
	for _, m := range markdownLink.FindAllStringSubmatchIndex(text, -1) {
		links = append(links, link{text[m[2]:m[3]], 1 + strings.Count(text[:m[0]], "\n")})
	}
	return links
}

// checkLink says what is wrong with a link from page, or "".
func checkLink(page, target string) string {
	if regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(target) {
		return "" // http:, https:, mailto:: another site
	}
	path, anchor, _ := strings.Cut(target, "#")
	file := page
	if path != "" {
		file = filepath.Join(filepath.Dir(page), path)
		if _, err := os.Stat(file); err != nil {
			return "no such file or directory"
		}
	}
	if anchor == "" {
		return ""
	}
	if !strings.HasSuffix(file, ".md") {
		return "an anchor into a file that is not Markdown"
	}
	anchors, err := pageAnchors(file)
	if err != nil {
		return err.Error()
	}
	if !anchors[anchor] {
		return fmt.Sprintf("no heading of %s has the anchor #%s", filepath.Base(file), anchor)
	}
	return ""
}

// heading is a Markdown ATX heading line.
var heading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)

// pageAnchors are the anchors GitHub gives a page's headings: a repeated
// one gets -1, -2, ... appended.
func pageAnchors(file string) (map[string]bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	text := fencedBlock.ReplaceAllString(string(data), "")
	anchors, count := map[string]bool{}, map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(text, -1) {
		a := githubAnchor(m[1])
		if n := count[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		count[a]++
	}
	return anchors, nil
}

// githubAnchor spells a heading as GitHub's anchor for it: the rendered
// text in lower case, without punctuation and symbols other than "-" and
// "_", each space a "-".
func githubAnchor(text string) string {
	text = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1") // a link counts as its text
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
