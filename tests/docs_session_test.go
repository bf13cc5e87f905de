// Sessions in the docs: a console block after "<!-- session -->" shows
// commands ("$ sudo go run ./step08-commit rmi base", "$ sudo minidocker
// ps") and what they print. The test runs the commands in order, as root,
// each in a mount and network namespace of its own but all with one state
// directory, and compares what they print now with the block (ids, then
// digits masked, lines sorted). "make docs" rewrites the blocks.

package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// sessionBlock finds a session marker and its console block.
var sessionBlock = regexp.MustCompile("(?s)<!-- session -->\n```console\n(.*?)```\n<!-- end -->")

// hexIDs are ids and digests, masked before digits are.
var hexIDs = regexp.MustCompile(`[0-9a-f]{12,64}`)

// TestDocsSessionsMatch runs every session in README.md and docs/.
func TestDocsSessionsMatch(t *testing.T) {
	skip.UnlessRoot(t)
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the docs show what the programs print on the machines that build this project; checked there, not in the test VM")
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	files = append(files, filepath.Join(repoRoot, "README.md"))
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out := sessionBlock.ReplaceAllFunc(src, func(block []byte) []byte {
			shown := string(sessionBlock.FindSubmatch(block)[1])
			now := runSession(t, shown)
			if maskSession(shown) == maskSession(now) {
				return block // -update too keeps it: only what masks hide changed
			}
			if !*update {
				t.Errorf("%s: a session is out of date: run sudo make docs\nit shows:\n%s\nthe programs give:\n%s", filepath.Base(file), shown, now)
			}
			return []byte("<!-- session -->\n```console\n" + now + "```\n<!-- end -->")
		})
		if *update && !bytes.Equal(out, src) {
			if err := os.WriteFile(file, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runSession runs the "$ " lines of a session and returns the session as
// it looks now: each command followed by what it printed.
func runSession(t *testing.T, shown string) string {
	t.Helper()
	state := t.TempDir()
	var b strings.Builder
	for _, line := range strings.Split(shown, "\n") {
		command, ok := strings.CutPrefix(line, "$ ")
		if !ok {
			continue
		}
		bin, args := sessionCommand(t, command)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1", "MINIDOCKER_ROOT="+state, docsRootfs)
		cmd.Dir = os.TempDir()
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
		out, _ := cmd.CombinedOutput()
		b.WriteString(line + "\n" + string(out))
	}
	if finalBinary != "" {
		_ = exec.Command(finalBinary, "--root", state, "cleanup").Run()
	}
	return b.String()
}

// sessionCommand finds the program a documented command line runs: a
// step ("sudo … go run ./stepNN-name ARGS") or minidocker.
func sessionCommand(t *testing.T, line string) (string, []string) {
	t.Helper()
	words := shellWords(line)
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || strings.HasPrefix(words[0], "--preserve-env") || strings.Contains(words[0], "=")) {
		words = words[1:]
	}
	switch {
	case len(words) >= 3 && words[0] == "go" && words[1] == "run":
		s, ok := stepNamed(strings.TrimPrefix(words[2], "./"))
		if !ok {
			t.Fatalf("a session runs %q, which is not a built step", words[2])
		}
		return s.binary, words[3:]
	case len(words) >= 1 && words[0] == "minidocker" && finalBinary != "":
		return finalBinary, words[1:]
	}
	t.Fatalf("a session runs %q: only steps (go run ./stepNN-…) and minidocker can run here", line)
	return "", nil
}

// maskSession normalises a session for comparison.
func maskSession(s string) string {
	return maskedLines(hexIDs.ReplaceAllString(s, "<id>"))
}

// generatedRegion is any block the docs tests generate.
var generatedRegion = regexp.MustCompile(`(?s)<!-- (diff|run|session|tour|reference|seccomp|exchange)\b[^>]*-->.*?<!-- end -->`)

// outputFence is a fenced code block and its body.
var outputFence = regexp.MustCompile("(?s)```[^\n]*\n(.*?)```")

// TestDocsOutputBlocksAreChecked finds code blocks that show a command
// ("$ …") followed by its output outside a generated region: such output
// would go stale unnoticed, so it must be a session (or be cut).
func TestDocsOutputBlocksAreChecked(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	labs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "labs", "*.md"))
	files = append(append(files, labs...), filepath.Join(repoRoot, "README.md"))
	zh, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "zh-CN", "*.md"))
	zhLabs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "zh-CN", "labs", "*.md"))
	files = append(append(files, zh...), zhLabs...)
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := generatedRegion.ReplaceAllString(string(src), "")
		for _, m := range outputFence.FindAllStringSubmatch(text, -1) {
			ls := strings.Split(m[1], "\n")
			for i := 0; i+1 < len(ls); i++ {
				next := strings.TrimSpace(ls[i+1])
				if strings.HasPrefix(ls[i], "$ ") && next != "" && !strings.HasPrefix(next, "$ ") {
					t.Errorf("%s: %q shows output that no test checks: make it a <!-- session --> block", filepath.Base(file), ls[i])
					break
				}
			}
		}
	}
}
