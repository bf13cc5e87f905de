// The docs cannot rot. A chapter shows three kinds of generated text, each
// between a marker and "<!-- end -->":
//
//	<!-- diff: step01-clone-ns step02-mount-tmp -->   the diff of two steps
//	<!-- diff: step06-unionfs step07-veth-bridge nat.go -->   of one file of theirs
//	<!-- run: step02-mount-tmp -- ps -ef -->           what a step prints
//	<!-- diffsizes: steps -->                          the size of every step diff
//
// A chapter that shows a diff file by file, in the order it explains them,
// must show every file that differs (TestDocsFileDiffsShowEveryFile).
//
// These tests regenerate each block and compare. Program output is compared
// with every run of digits masked (pids, inodes, temp names change from run
// to run) and with lines in sorted order (host and container narrate at the
// same time). "make docs" (go test ./tests -run TestDocs -update) rewrites
// the blocks.

package tests

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// update makes the docs tests rewrite the generated blocks instead of comparing.
var update = flag.Bool("update", false, "rewrite the generated blocks in docs/")

// generatedBlock finds a marker, its fenced block and the end marker.
var generatedBlock = regexp.MustCompile("(?s)<!-- (diff|run|diffsizes): ([^\n]*?) -->\n(.*?)<!-- end -->")

func TestDocsDiffsAreCurrent(t *testing.T) {
	forEachBlock(t, "diff", func(t *testing.T, args []string) string {
		switch len(args) {
		case 2:
			return "```diff\n" + stepDiff(t, args[0], args[1]) + "```\n"
		case 3:
			return "```diff\n" + stepDiff(t, stepFile(args[0], args[2]), stepFile(args[1], args[2])) + "```\n"
		}
		t.Fatalf("diff marker wants two steps and perhaps a file, has %q", args)
		return ""
	}, func(a, b string) bool { return a == b })
}

// stepFile is a step's file for git diff, /dev/null if the step lacks it.
func stepFile(step, file string) string {
	if _, err := os.Stat(filepath.Join(repoRoot, step, file)); err != nil {
		return "/dev/null"
	}
	return filepath.Join(step, file)
}

func TestDocsFileDiffsShowEveryFile(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the chapters' diffs are checked where git is, on the machines that build this project, not in the test VM")
	}
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	for _, chapter := range chapters {
		src, err := os.ReadFile(chapter)
		if err != nil {
			t.Fatal(err)
		}
		shown := map[[2]string][]string{}
		for _, m := range generatedBlock.FindAllStringSubmatch(string(src), -1) {
			if args := shellWords(m[2]); m[1] == "diff" && len(args) == 3 {
				pair := [2]string{args[0], args[1]}
				shown[pair] = append(shown[pair], args[2])
			}
		}
		for pair, files := range shown {
			for _, f := range changedFiles(t, pair[0], pair[1]) {
				if !contains(files, f) {
					t.Errorf("%s shows %s to %s file by file, but not %s, which differs", filepath.Base(chapter), pair[0], pair[1], f)
				}
			}
		}
	}
}

// changedFiles names the files that differ between two steps.
func changedFiles(t *testing.T, a, b string) []string {
	cmd := exec.Command("git", "diff", "--no-index", "--name-only", "--", a, b)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("git diff --name-only %s %s: %v", a, b, err)
	}
	var names []string
	for _, path := range lines(string(out)) {
		names = append(names, filepath.Base(path))
	}
	return names
}

// docsRootfs makes the steps and minidocker build their rootfs from the
// host's commands even where busybox is installed: the docs show that
// rootfs, and their output must not depend on what the host has.
const docsRootfs = "MINIDOCKER_BUSYBOX=none"

func TestDocsOutputMatchesThePrograms(t *testing.T) {
	skip.UnlessRoot(t)
	forEachBlock(t, "run", func(t *testing.T, args []string) string {
		s, ok := stepNamed(args[0])
		if !ok {
			t.Fatalf("run marker names %q, which is not a built step", args[0])
		}
		cmd := exec.Command(s.binary, args[1:]...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1", docsRootfs)
		cmd.Dir = os.TempDir()
		// A mount namespace of its own (Go makes it private), so that the
		// output is the same on hosts whose / is shared and on those where
		// it is private; a network namespace of its own, so that no bridge
		// is ever built on the machine that checks the docs.
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
		out, _ := cmd.CombinedOutput()
		return "```text\n" + string(out) + "```\n"
	}, func(a, b string) bool { return maskedLines(a) == maskedLines(b) })
}

// forEachBlock regenerates every block of one kind in docs/*.md and
// compares it with what the chapter shows, or rewrites it under -update.
func forEachBlock(t *testing.T, kind string, generate func(*testing.T, []string) string, same func(a, b string) bool) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the docs show what the programs print on the machines that build this project; checked there, not in the test VM")
	}
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if len(chapters) == 0 {
		t.Skip("no docs here")
	}
	for _, chapter := range chapters {
		src, err := os.ReadFile(chapter)
		if err != nil {
			t.Fatal(err)
		}
		out := generatedBlock.ReplaceAllFunc(src, func(block []byte) []byte {
			m := generatedBlock.FindSubmatch(block)
			if string(m[1]) != kind {
				return block
			}
			want := generate(t, shellWords(string(m[2])))
			if same(string(m[3]), want) {
				return block // -update too keeps it: only what masks hide changed
			}
			if !*update {
				t.Errorf("%s: the block after <!-- %s: %s --> is out of date: run sudo make docs\nit shows:\n%s\nthe program gives:\n%s",
					filepath.Base(chapter), m[1], m[2], m[3], want)
			}
			return []byte(fmt.Sprintf("<!-- %s: %s -->\n%s<!-- end -->", m[1], m[2], want))
		})
		if *update && !bytes.Equal(out, src) {
			if err := os.WriteFile(chapter, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// stepDiff is what "diff -ru a b" shows, in git's stable form.
func stepDiff(t *testing.T, a, b string) string {
	cmd := exec.Command("git", "diff", "--no-index", "--no-color", "--", a, b)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("git diff %s %s: %v", a, b, err)
	}
	return string(out)
}

// stepNamed finds a built step by its directory name.
func stepNamed(name string) (step, bool) {
	for _, s := range steps {
		if s.name == name {
			return s, true
		}
	}
	return step{}, false
}

// digits are masked when program output is compared.
var digits = regexp.MustCompile(`[0-9]+`)

// maskedLines normalises program output for comparison.
func maskedLines(text string) string {
	ls := strings.Split(strings.TrimSpace(digits.ReplaceAllString(text, "N")), "\n")
	sort.Strings(ls)
	return strings.Join(ls, "\n")
}

// shellWords splits a marker's arguments on spaces, keeping 'quoted words' whole.
func shellWords(s string) []string {
	var words []string
	var word strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
