// The Chinese edition (docs/zh-CN/) is kept in step with the English one.
// Every English chapter has a Chinese one (README.md's is
// docs/zh-CN/README-repo.md, docs/labs/X.md's is docs/zh-CN/labs/X.md),
// with the same headings, level by level, and the same generated blocks
// (diffs, program output, sessions, any "<!-- name … -->" up to
// "<!-- end -->"), byte for byte and in the same order: the English blocks
// are the ones the other docs tests regenerate and check, so the Chinese
// copies are checked through them. "make docs" (-update) copies the
// English blocks into the Chinese chapters once every test has run
// (syncTranslations, called by runSuite), so after the English ones are
// rewritten.
// Links and #anchors of both editions are checked by TestLinksResolve.

package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// zhDir is the Chinese edition.
var zhDir = filepath.Join(repoRoot, "docs", "zh-CN")

// zhOnly are pages of the Chinese edition with no English original.
var zhOnly = []string{"glossary.md", "setup-china.md"}

// anyBlock is a generated block of any kind: its marker, from "<!-- "
// to " -->", then everything up to "<!-- end -->".
var anyBlock = regexp.MustCompile("(?s)<!-- ([a-z][a-z0-9-]*(?::? [^\n]*?)?) -->\n.*?<!-- end -->")

// translation is an English page and the path of its Chinese edition.
type translation struct{ en, zh string }

// translations lists every English page that must have a Chinese edition,
// or skips the test where there are no docs.
func translations(t *testing.T) []translation {
	t.Helper()
	pairs := translationPairs()
	if len(pairs) == 1 {
		t.Skip("no docs here")
	}
	return pairs
}

// translationPairs are docs/*.md but the benchmarks' results,
// docs/labs/*.md and README.md, each with its Chinese edition's path.
func translationPairs() []translation {
	var pairs []translation
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	for _, en := range chapters {
		if filepath.Base(en) != "benchmarks.md" {
			pairs = append(pairs, translation{en, filepath.Join(zhDir, filepath.Base(en))})
		}
	}
	labs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "labs", "*.md"))
	for _, en := range labs {
		pairs = append(pairs, translation{en, filepath.Join(zhDir, "labs", filepath.Base(en))})
	}
	return append(pairs, translation{filepath.Join(repoRoot, "README.md"), filepath.Join(zhDir, "README-repo.md")})
}

// rel is a path relative to the repository, for messages.
func rel(path string) string {
	r, err := filepath.Rel(repoRoot, path)
	if err != nil {
		return path
	}
	return r
}

func TestDocsZhEveryPageInBothLanguages(t *testing.T) {
	known := map[string]bool{}
	for _, p := range translations(t) {
		known[p.zh] = true
		if _, err := os.Stat(p.zh); err != nil {
			t.Errorf("%s has no Chinese edition: %s is missing", rel(p.en), rel(p.zh))
		}
	}
	for _, name := range zhOnly {
		known[filepath.Join(zhDir, name)] = true
	}
	_ = filepath.WalkDir(zhDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") && !known[path] {
			t.Errorf("%s has no English original: name it as the English page it translates", rel(path))
		}
		return nil
	})
}

// docBlock is a generated block of a page and the line its marker is on.
type docBlock struct {
	marker, text string
	line         int
}

// docBlocks are the generated blocks of a page, in order.
func docBlocks(src []byte) []docBlock {
	var blocks []docBlock
	for _, m := range anyBlock.FindAllSubmatchIndex(src, -1) {
		blocks = append(blocks, docBlock{
			marker: string(src[m[2]:m[3]]),
			text:   string(src[m[0]:m[1]]),
			line:   1 + bytes.Count(src[:m[0]], []byte("\n")),
		})
	}
	return blocks
}

func TestDocsZhGeneratedBlocksAreTheEnglishOnes(t *testing.T) {
	for _, p := range translations(t) {
		en, errEn := os.ReadFile(p.en)
		zh, errZh := os.ReadFile(p.zh)
		if errEn != nil || errZh != nil {
			continue // a missing page is TestDocsZhEveryPageInBothLanguages's to report
		}
		if *update {
			var err error
			if zh, err = copyBlocks(p, en, zh); err != nil {
				t.Fatal(err)
			}
		}
		for _, problem := range blockDifferences(en, zh) {
			t.Errorf("%s:%s; English page %s: run sudo make docs, or copy the block from the English page", rel(p.zh), problem, rel(p.en))
		}
	}
}

// blockDifferences says where the generated blocks of a translation
// differ from the English page's: "LINE: what".
func blockDifferences(en, zh []byte) []string {
	be, bz := docBlocks(en), docBlocks(zh)
	var problems []string
	for i := 0; i < len(be) || i < len(bz); i++ {
		switch {
		case i >= len(bz):
			last := 1
			if len(bz) > 0 {
				last = bz[len(bz)-1].line
			}
			problems = append(problems, fmt.Sprintf("%d: after this line the block <!-- %s --> (English line %d) is missing", last, be[i].marker, be[i].line))
		case i >= len(be):
			problems = append(problems, fmt.Sprintf("%d: the block <!-- %s --> is not in the English page", bz[i].line, bz[i].marker))
		case be[i].marker != bz[i].marker:
			problems = append(problems, fmt.Sprintf("%d: block %d is <!-- %s -->, the English page's (English line %d) is <!-- %s -->", bz[i].line, i+1, bz[i].marker, be[i].line, be[i].marker))
		case be[i].text != bz[i].text:
			problems = append(problems, fmt.Sprintf("%d: the block <!-- %s --> differs from the English one (English line %d)", bz[i].line, bz[i].marker, be[i].line))
		}
	}
	return problems
}

// copyBlocks rewrites the translation's blocks with the English page's,
// pairing them by position when their markers agree, and returns the
// result. A translation whose markers differ from the English page's is
// left for a person to fix: the comparison then reports where.
func copyBlocks(p translation, en, zh []byte) ([]byte, error) {
	be, bz := docBlocks(en), docBlocks(zh)
	if len(be) != len(bz) {
		return zh, nil
	}
	for i := range be {
		if be[i].marker != bz[i].marker {
			return zh, nil
		}
	}
	i := 0
	out := anyBlock.ReplaceAllFunc(zh, func([]byte) []byte {
		i++
		return []byte(be[i-1].text)
	})
	if !bytes.Equal(out, zh) {
		if err := os.WriteFile(p.zh, out, 0o644); err != nil {
			return zh, err
		}
	}
	return out, nil
}

// syncTranslations copies the English pages' generated blocks into their
// Chinese editions. runSuite calls it after the tests under -update, so
// that blocks which any test rewrote reach the translations in one
// "make docs", whichever test file did the rewriting.
func syncTranslations() error {
	for _, p := range translationPairs() {
		en, errEn := os.ReadFile(p.en)
		zh, errZh := os.ReadFile(p.zh)
		if errEn != nil || errZh != nil {
			continue
		}
		if _, err := copyBlocks(p, en, zh); err != nil {
			return err
		}
	}
	return nil
}

// headingLevels are the levels of a page's headings outside code blocks,
// with the line of each.
func headingLevels(src []byte) (levels []int, lines []int) {
	text := blankFences(string(src))
	for _, m := range heading.FindAllStringIndex(text, -1) {
		levels = append(levels, strings.IndexFunc(text[m[0]:], func(r rune) bool { return r != '#' }))
		lines = append(lines, 1+strings.Count(text[:m[0]], "\n"))
	}
	return levels, lines
}

func TestDocsZhHeadingsPairWithTheEnglishOnes(t *testing.T) {
	for _, p := range translations(t) {
		en, errEn := os.ReadFile(p.en)
		zh, errZh := os.ReadFile(p.zh)
		if errEn != nil || errZh != nil {
			continue
		}
		if problem := headingDifference(en, zh); problem != "" {
			t.Errorf("%s:%s; English page %s", rel(p.zh), problem, rel(p.en))
		}
	}
}

// headingDifference says where a translation's headings stop pairing
// with the English page's, one for one and level for level: "LINE: what".
func headingDifference(en, zh []byte) string {
	le, lineEn := headingLevels(en)
	lz, lineZh := headingLevels(zh)
	for i := 0; i < len(le) && i < len(lz); i++ {
		if le[i] != lz[i] {
			return fmt.Sprintf("%d: heading %d is at level %d, the English one (line %d) at level %d", lineZh[i], i+1, lz[i], lineEn[i], le[i])
		}
	}
	switch {
	case len(lz) < len(le):
		return fmt.Sprintf("%d: %d headings, the English page has %d; the first without a partner is on English line %d", len(bytes.Split(zh, []byte("\n"))), len(lz), len(le), lineEn[len(lz)])
	case len(lz) > len(le):
		return fmt.Sprintf("%d: %d headings, the English page has %d; this one has no English partner", lineZh[len(le)], len(lz), len(le))
	}
	return ""
}

func TestDocsZhChecksCatchWhatTheyShould(t *testing.T) {
	en := []byte("# T\n\n## A\n\n<!-- run: step01-clone-ns -- hostname -->\n```text\nbox\n```\n<!-- end -->\n\n```sh\n# not a heading\n```\n### B\n<!-- session -->\n```console\n$ x\n```\n<!-- end -->\n")
	same := []byte("# 标题\n\n## 甲\n\n<!-- run: step01-clone-ns -- hostname -->\n```text\nbox\n```\n<!-- end -->\n\n```sh\n# 不是标题\n```\n### 乙\n<!-- session -->\n```console\n$ x\n```\n<!-- end -->\n")
	if d := blockDifferences(en, same); d != nil {
		t.Errorf("blocks that are the same are found to differ: %q", d)
	}
	if d := headingDifference(en, same); d != "" {
		t.Errorf("headings that pair are found not to: %s", d)
	}
	for name, zh := range map[string]string{
		"a changed output":  strings.Replace(string(same), "box\n", "盒子\n", 1),
		"a missing block":   strings.Replace(string(same), "<!-- session -->\n```console\n$ x\n```\n<!-- end -->\n", "", 1),
		"blocks swapped":    "<!-- session -->\n```console\n$ x\n```\n<!-- end -->\n<!-- run: step01-clone-ns -- hostname -->\n```text\nbox\n```\n<!-- end -->\n",
		"a translated mark": strings.Replace(string(same), "<!-- session -->", "<!-- 会话 -->", 1),
	} {
		if d := blockDifferences(en, []byte(zh)); d == nil {
			t.Errorf("%s is not found", name)
		}
	}
	for name, zh := range map[string]string{
		"a missing heading":   strings.Replace(string(same), "### 乙\n", "", 1),
		"a heading too many":  string(same) + "\n## 多余\n",
		"a level changed":     strings.Replace(string(same), "### 乙", "## 乙", 1),
		"a heading in a code": strings.Replace(string(same), "### 乙\n", "```\n### 乙\n```\n", 1),
	} {
		if d := headingDifference(en, []byte(zh)); d == "" {
			t.Errorf("%s is not found", name)
		}
	}
}
