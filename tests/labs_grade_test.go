// make grade (lab/labgen/grade.go, docs/labs/grading.md) grades what it
// claims to: a student copy fresh from labgen scores 0 on its step, the
// same copy with the reference code in it scores full marks, the JSON
// report says so, and a tests/ that is not the reference one is refused
// with one line naming the file, before anything runs.

package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// gradeReport is the part of the grader's JSON report the tests read.
type gradeReport struct {
	Student string `json:"student"`
	Host    string `json:"host"`
	Time    string `json:"time"`
	Passed  int    `json:"passed"`
	Total   int    `json:"total"`
	Steps   []struct {
		Step    string   `json:"step"`
		Passed  int      `json:"passed"`
		Failed  int      `json:"failed"`
		Failing []string `json:"failing"`
	} `json:"steps"`
}

func TestLabsGradeSumsAreCurrent(t *testing.T) {
	_, labgen := labList(t)
	out, err := exec.Command(labgen, "-repo", repoRoot, "-check-sums").CombinedOutput()
	if err != nil {
		t.Fatalf("lab/tests.sha256 is not current: %s\nafter changing tests/, run: make grade-sums", out)
	}
}

func TestLabsGradeRefusesTestsThatAreNotTheReference(t *testing.T) {
	_, labgen := labList(t)
	cases := []struct {
		name, file string
		change     func(path string) error
		want       string
	}{
		{"edited", "tests/cli_test.go", func(p string) error { return appendTo(p, "\n// always pass\n") }, "tests/cli_test.go differs from the reference"},
		{"removed", "tests/labs_test.go", os.Remove, "tests/labs_test.go is missing"},
		{"added", "tests/zz_init_test.go", func(p string) error { return os.WriteFile(p, []byte("package tests\n"), 0o644) }, "tests/zz_init_test.go is not one of the reference tests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := t.TempDir()
			copyDir(t, filepath.Join(repoRoot, "tests"), filepath.Join(repo, "tests"))
			copyDir(t, filepath.Join(repoRoot, "lab"), filepath.Join(repo, "lab"))
			if err := c.change(filepath.Join(repo, c.file)); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(labgen, "-repo", repo, "-grade", "-o", t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("graded a tampered tests/ (%s %s):\n%s", c.name, c.file, out)
			}
			text := strings.TrimSpace(string(out))
			if !strings.Contains(text, c.want) || strings.Count(text, "\n") != 0 {
				t.Errorf("the refusal is %q, want one line with %q", text, c.want)
			}
		})
	}
}

func TestLabsGradeScoresAStudentCopy(t *testing.T) {
	labs, labgen := labList(t)
	const step = "step01-clone-ns"
	want := strings.Split(strings.Trim(labs[step], "^()$"), "|")
	skip.UnlessRoot(t)
	dir := t.TempDir()
	runLabgen(t, labgen, "-repo", repoRoot, "-step", step, "-o", filepath.Join(dir, step))
	r := runGrade(t, labgen, dir, "Ada Lovelace")
	if r.Student != "Ada Lovelace" || r.Host == "" || r.Time == "" || len(r.Steps) != 1 || r.Steps[0].Step != step {
		t.Fatalf("report %+v: want Ada Lovelace's grade of %s alone, with host and time", r, step)
	}
	if s := r.Steps[0]; s.Passed != 0 || s.Failed != len(want) || strings.Join(s.Failing, "|") != strings.Join(want, "|") {
		t.Errorf("the fresh copy scored %d passed, %d failed, failing %v; want 0, %d, %v", s.Passed, s.Failed, s.Failing, len(want), want)
	}
	refs, _ := filepath.Glob(filepath.Join(repoRoot, step, "*.go"))
	for _, ref := range refs {
		copyFile(t, ref, filepath.Join(dir, step, filepath.Base(ref)))
	}
	r = runGrade(t, labgen, dir, "Ada Lovelace")
	if s := r.Steps[0]; s.Passed != len(want) || s.Failed != 0 || len(s.Failing) != 0 || r.Passed != r.Total {
		t.Errorf("the copy with the reference code scored %d passed, failing %v (total %d/%d); want all %d", s.Passed, s.Failing, r.Passed, r.Total, len(want))
	}
}

// runGrade runs labgen -grade on dir as student and returns its report.
func runGrade(t *testing.T, labgen, dir, student string) gradeReport {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(labgen, "-repo", repoRoot, "-grade", "-o", dir, "-report", report)
	cmd.Env = append(os.Environ(), "STUDENT="+student)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("labgen -grade: %v\n%s", err, out)
	}
	t.Logf("labgen -grade:\n%s", out)
	var r gradeReport
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, data)
	}
	return r
}

// copyDir copies the regular files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Type().IsRegular() {
			copyFile(t, path, filepath.Join(dst, rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyFile copies one file.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendTo appends text to the file at path.
func appendTo(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}
