// The chapters' "Run it" blocks (<!-- run: STEP ARGS -->) are generated
// on the machines that build this project, cgroup v1 hosts, in a mount
// namespace of their own (docs_test.go). The lab VM prints some of them
// differently: its / has systemd's shared propagation, and its cgroups
// are v2. Such a block is followed by its twin,
//
//	<!-- run-v2: step05-cgroups -m 64m -- load mem 100m -->
//
// the same command's output on the lab VM. "make lab-walk" boots a
// systemd Debian with cgroup v2 (lab/walk), runs every run block's
// command there as the learner would, through sudo, and hands the
// outputs to TestDocsOutputOnTheLabVM (-lab-vm-runs DIR): each run-v2
// block must match its command's output there, and each run block
// without a twin must print the same there as here (both compared as
// docs_test.go compares, digits masked and lines sorted). "make lab-walk
// UPDATE_DOCS=1" adds -update, which rewrites the run-v2 blocks. On the
// build machines run-v2 blocks are never regenerated; they are checked
// for their twin (TestDocsV2BlocksFollowTheirTwins) and, like every
// generated block, copied byte for byte into the Chinese edition
// (docs_zh_test.go).

package tests

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// labVMRuns is the directory of outputs from the lab walk's VM.
var labVMRuns = flag.String("lab-vm-runs", "", "check the docs' run-v2 blocks against the lab VM's outputs in `DIR` (lab/walk/run.sh)")

// runBlock is a run or run-v2 block, with its marker's arguments.
var runBlock = regexp.MustCompile("(?s)<!-- (run|run-v2): ([^\n]*?) -->\n(.*?)<!-- end -->")

// twinKind is a run-v2 block's marker kind.
const twinKind = "run-v2"

// textBlock is how a run block shows a program's output.
func textBlock(out string) string { return "```text\n" + out + "```\n" }

// runArgsKey identifies a command by its words.
func runArgsKey(words []string) string { return strings.Join(words, "\x00") }

func TestDocsV2BlocksFollowTheirTwins(t *testing.T) {
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if len(chapters) == 0 {
		t.Skip("no docs here")
	}
	for _, chapter := range chapters {
		src, err := os.ReadFile(chapter)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range twinProblems(src) {
			t.Errorf("%s: %s", filepath.Base(chapter), problem)
		}
	}
}

// twinProblems says which run-v2 blocks of a chapter do not follow a run
// block of the same command, or hold something else than program output.
func twinProblems(src []byte) []string {
	var problems []string
	blocks := anyBlock.FindAllSubmatchIndex(src, -1)
	for i, b := range blocks {
		m := runBlock.FindSubmatch(src[b[0]:b[1]])
		if m == nil || string(m[1]) != twinKind {
			continue
		}
		line := 1 + bytes.Count(src[:b[0]], []byte("\n"))
		want := "run: " + string(m[2])
		if i == 0 || string(src[blocks[i-1][2]:blocks[i-1][3]]) != want {
			problems = append(problems, fmt.Sprintf("line %d: <!-- run-v2: %s --> does not come right after <!-- %s -->, its twin", line, m[2], want))
		}
		if !bytes.HasPrefix(m[3], []byte("```text\n")) || !bytes.HasSuffix(m[3], []byte("```\n")) {
			problems = append(problems, fmt.Sprintf("line %d: <!-- run-v2: %s --> holds no ```text block", line, m[2]))
		}
	}
	return problems
}

func TestDocsOutputOnTheLabVM(t *testing.T) {
	if *labVMRuns == "" {
		t.Skip("compares the docs with the lab VM's outputs: make lab-walk runs it (-lab-vm-runs DIR)")
	}
	runs, err := readLabVMRuns(*labVMRuns)
	if err != nil {
		t.Fatal(err)
	}
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	var total labVMCount
	for _, chapter := range chapters {
		src, err := os.ReadFile(chapter)
		if err != nil {
			t.Fatal(err)
		}
		out, problems, n := checkOnLabVM(src, runs, *update)
		total.twins, total.rewritten, total.same = total.twins+n.twins, total.rewritten+n.rewritten, total.same+n.same
		for _, p := range problems {
			t.Errorf("%s: %s", filepath.Base(chapter), p)
		}
		if *update && !bytes.Equal(out, src) {
			if err := os.WriteFile(chapter, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rewritten := ""
	if total.rewritten > 0 {
		rewritten = fmt.Sprintf(" (%d rewritten)", total.rewritten)
	}
	t.Logf("%d run-v2 blocks match what the lab VM printed%s, and the %d run blocks without one print the same there", total.twins+total.rewritten, rewritten, total.same)
}

// labVMCount counts the run blocks that matched the lab VM's outputs:
// run-v2 blocks that matched or were rewritten, run blocks that print
// the same there.
type labVMCount struct{ twins, rewritten, same int }

// checkOnLabVM compares a chapter's run blocks with the lab VM's outputs:
// a run-v2 block with its command's output, a run block that has no
// run-v2 twin with the output it shows. It returns the chapter with its
// run-v2 blocks rewritten if rewrite is set (otherwise unchanged), the
// problems, and how many blocks of each kind matched.
func checkOnLabVM(src []byte, runs map[string]string, rewrite bool) (out []byte, problems []string, n labVMCount) {
	twinned := map[string]bool{}
	for _, m := range runBlock.FindAllSubmatch(src, -1) {
		if string(m[1]) == twinKind {
			twinned[string(m[2])] = true
		}
	}
	out = runBlock.ReplaceAllFunc(src, func(block []byte) []byte {
		m := runBlock.FindSubmatch(block)
		kind, args, shown := string(m[1]), string(m[2]), string(m[3])
		vm, ok := runs[runArgsKey(shellWords(args))]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("<!-- %s: %s -->: the lab VM did not run this command (lab/walk/guest.sh runs every <!-- run: --> marker's)", kind, args))
		case kind == twinKind && maskedLines(shown) == maskedLines(textBlock(vm)):
			n.twins++
		case kind == twinKind && rewrite:
			n.rewritten++
			return []byte(fmt.Sprintf("<!-- %s: %s -->\n%s<!-- end -->", kind, args, textBlock(vm)))
		case kind == twinKind:
			problems = append(problems, fmt.Sprintf("the block after <!-- %s: %s --> is not what the lab VM prints: run sudo make lab-walk UPDATE_DOCS=1\nit shows:\n%s\nthe lab VM printed:\n%s", kind, args, shown, textBlock(vm)))
		case twinned[args]:
		case maskedLines(shown) == maskedLines(textBlock(vm)):
			n.same++
		default:
			problems = append(problems, fmt.Sprintf("<!-- run: %s --> prints something else on the lab VM: add a twin after its block, <!-- run-v2: %s --> and an empty ```text block up to <!-- end -->, then run sudo make lab-walk UPDATE_DOCS=1\nthe chapter shows:\n%s\nthe lab VM printed:\n%s", args, args, shown, textBlock(vm)))
		}
		return block
	})
	return out, problems, n
}

// readLabVMRuns reads the lab walk's outputs: for each command N, the
// words in N.args (each ended by a NUL) and the output in N.out.
func readLabVMRuns(dir string) (map[string]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.args"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no *.args in %s (lab/walk/guest.sh writes them): %v", dir, err)
	}
	runs := map[string]string{}
	for _, name := range names {
		args, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out, err := os.ReadFile(strings.TrimSuffix(name, ".args") + ".out")
		if err != nil {
			return nil, err
		}
		runs[runArgsKey(strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00"))] = string(out)
	}
	return runs, nil
}

func TestDocsLabVMChecksCatchWhatTheyShould(t *testing.T) {
	v1 := "<!-- run: step05-cgroups -m 64m -- true -->\n```text\n[host]      cgroup v1\n[host]      / on the host has private propagation\n```\n<!-- end -->\n"
	twin := "\nOn the lab VM:\n\n<!-- run-v2: step05-cgroups -m 64m -- true -->\n```text\n[host]      cgroup v2\n[host]      / on the host has shared:1 propagation\n```\n<!-- end -->\n"
	other := "<!-- run: step01-clone-ns -- sh -c 'echo $$' -->\n```text\n1\n```\n<!-- end -->\n"
	runs := map[string]string{
		runArgsKey([]string{"step05-cgroups", "-m", "64m", "--", "true"}):    "[host]      / on the host has shared:7 propagation\n[host]      cgroup v2\n",
		runArgsKey([]string{"step01-clone-ns", "--", "sh", "-c", "echo $$"}): "1\n",
	}
	if p := twinProblems([]byte(v1 + twin + other)); p != nil {
		t.Errorf("a twin in its place is found wrong: %q", p)
	}
	if _, p, n := checkOnLabVM([]byte(v1+twin+other), runs, false); p != nil || n != (labVMCount{twins: 1, same: 1}) {
		t.Errorf("outputs that match are found not to (%+v): %q", n, p)
	}
	stale := v1 + strings.Replace(twin, "shared:1", "private", 1) + other
	if out, p, _ := checkOnLabVM([]byte(stale), runs, true); p != nil || !strings.Contains(string(out), "shared:7") || !strings.Contains(string(out), "private propagation") {
		t.Errorf("-update does not rewrite a stale twin alone: %q\n%s", p, out)
	}
	for name, doc := range map[string]string{
		"a twin after another block": other + twin,
		"a twin without a block":     v1 + strings.Replace(twin, "```text\n", "", 1),
		"a twin first":               twin + v1,
	} {
		if p := twinProblems([]byte(doc)); p == nil {
			t.Errorf("%s is not found", name)
		}
	}
	for name, doc := range map[string]string{
		"a stale twin":                  stale,
		"a run block that differs":      v1 + other,
		"a block the VM did not run":    v1 + twin + strings.Replace(other, "echo $$", "echo $PPID", 2),
		"a twin of another line number": v1 + strings.Replace(twin, "shared:1 propagation", "shared:1 propagation\nmore", 1) + other,
	} {
		if _, p, _ := checkOnLabVM([]byte(doc), runs, false); p == nil {
			t.Errorf("%s is not found", name)
		}
	}
}
