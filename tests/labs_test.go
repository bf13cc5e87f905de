// The labs grade what they claim to. lab/labgen cuts a step's new
// mechanism out of a copy (docs/labs/README.md); these tests generate the
// copy of every step that has a lab, check that it compiles, and run the
// lab's grading tests twice, as a student's "make grade" does: against a
// directory holding only the reference binary, where they must pass, and
// against one holding only the student copy, where every one must fail.
// The grading runs are this test binary itself, run again with
// MINIDOCKER_STEP_BINS (see suite_test.go) and -test.run.

package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

func TestLabsStudentCopiesFailAndReferencesPass(t *testing.T) {
	labs, labgen := labList(t)
	for _, s := range steps {
		pattern, ok := labs[s.name]
		if !ok {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			student := filepath.Join(t.TempDir(), "student")
			runLabgen(t, labgen, "-repo", repoRoot, "-step", s.name, "-o", filepath.Join(student, "src"))
			build := exec.Command("go", "build", "-o", filepath.Join(student, "bin", s.name), ".")
			build.Dir = filepath.Join(student, "src")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("the student copy does not compile: %v\n%s", err, out)
			}
			skip.UnlessRoot(t)
			reference := filepath.Join(t.TempDir(), "reference")
			if err := os.MkdirAll(reference, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(s.binary, filepath.Join(reference, s.name)); err != nil {
				t.Fatal(err)
			}
			expectGrades(t, "the reference", reference, pattern, "PASS")
			for _, path := range unsolvedLabLeaks {
				if _, err := os.Stat(path); os.IsNotExist(err) {
					defer os.Remove(path)
				}
			}
			expectGrades(t, "the student copy", filepath.Join(student, "bin"), pattern, "FAIL")
		})
	}
}

// unsolvedLabLeaks are files that the grading tests make inside a
// container and that an unsolved copy leaves on the host: the copy of
// step02 has no tmpfs of its own on /tmp, so what the test writes there
// lands in the host's /tmp (and would fail the next run of the test).
var unsolvedLabLeaks = []string{"/tmp/made-inside"}

func TestLabsCoverEveryStepWithCutRegions(t *testing.T) {
	labs, _ := labList(t)
	for _, dir := range stepSources(t) {
		name := filepath.Base(dir)
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		own := false
		for _, f := range files {
			data, _ := os.ReadFile(f)
			own = own || bytes.Contains(data, []byte("// lab:cut "+name[:6]+" "))
		}
		if _, graded := labs[name]; own != graded {
			t.Errorf("%s: has regions of its own to cut: %v, has grading tests in lab/labgen: %v; want both or neither", name, own, graded)
		}
	}
}

// expectGrades grades the binaries in bins and expects want of every test.
func expectGrades(t *testing.T, what, bins, pattern, want string) {
	t.Helper()
	results, out := grade(t, bins, pattern)
	bad := false
	for _, name := range sortedKeys(results) {
		if results[name] != want {
			t.Errorf("%s on %s: %s, want %s", name, what, results[name], want)
			bad = true
		}
	}
	if bad {
		t.Logf("the grading run on %s:\n%s", what, out)
	}
}

// labList builds lab/labgen and runs "labgen -list": each step with a
// lab and its -run pattern; labgen is the path of the built tool.
func labList(t *testing.T) (labs map[string]string, labgen string) {
	t.Helper()
	if os.Getenv("MINIDOCKER_STEP_BINS") != "" {
		t.Skip("the labs are checked from the sources, with reference binaries built here, not with MINIDOCKER_STEP_BINS")
	}
	stepSources(t)
	labgen = filepath.Join(t.TempDir(), "labgen")
	build := exec.Command("go", "build", "-o", labgen, "./lab/labgen")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./lab/labgen: %v\n%s", err, out)
	}
	labs = map[string]string{}
	for _, line := range lines(runLabgen(t, labgen, "-list")) {
		if name, pattern, ok := strings.Cut(line, "\t"); ok {
			labs[name] = pattern
		}
	}
	if len(labs) == 0 {
		t.Fatal("labgen -list lists no lab")
	}
	return labs, labgen
}

// runLabgen runs the built labgen with args and returns what it printed.
func runLabgen(t *testing.T, labgen string, args ...string) string {
	t.Helper()
	out, err := exec.Command(labgen, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("labgen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testResult matches a top-level test's result line in go test -v output.
var testResult = regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\S+)`)

// grade runs the tests matching pattern against the step binaries in
// bins, in a run of this test binary of its own, and returns each test's
// result (PASS, FAIL, SKIP or "did not run") and the run's output.
func grade(t *testing.T, bins, pattern string) (map[string]string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", pattern, "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "MINIDOCKER_STEP_BINS="+bins)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // a failing grade exits 1; the results say which test failed
	results := map[string]string{}
	for _, m := range testResult.FindAllStringSubmatch(out.String(), -1) {
		results[m[2]] = m[1]
	}
	for _, name := range strings.Split(strings.Trim(pattern, "^()$"), "|") {
		if _, ok := results[name]; !ok {
			results[name] = "did not run"
		}
	}
	return results, out.String()
}
