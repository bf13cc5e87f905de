// Grading a student's copies: "labgen -grade DIR" (make grade). DIR holds
// the student's copies, one per step (as labgen wrote them: ~/lab/step04-…),
// or is one copy. After checking that tests/ is the reference (sums.go),
// the grader builds the repository's test suite once, builds each copy
// into a directory of its own, runs the lab's grading tests (the table in
// main.go) against that binary alone (MINIDOCKER_STEP_BINS, as the copy's
// own "make grade" does), prints a score per step, and writes a JSON
// report a teacher can collect from every machine (docs/labs/grading.md).

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// report is the JSON a grading run writes.
type report struct {
	Student    string       `json:"student"`
	Host       string       `json:"host"`
	Time       string       `json:"time"`
	TestsSHA   string       `json:"tests_sha256"` // sha256 of lab/tests.sha256: equal on every honest machine
	Passed     int          `json:"passed"`
	Total      int          `json:"total"`
	Steps      []stepReport `json:"steps"`
	ReportPath string       `json:"-"`
}

// stepReport is one step's result.
type stepReport struct {
	Step       string   `json:"step"`
	Copy       string   `json:"copy"`
	Passed     int      `json:"passed"`
	Failed     int      `json:"failed"`
	Total      int      `json:"total"`
	Failing    []string `json:"failing"`
	BuildError string   `json:"build_error,omitempty"`
	Seconds    float64  `json:"seconds"`
}

// leftByUnsolvedCopies are files that grading tests make inside a
// container and that an unsolved step02 copy (no tmpfs on /tmp) leaves in
// the host's /tmp; the grader removes them if it made them.
var leftByUnsolvedCopies = []string{"/tmp/made-inside"}

// moduleLine finds a student copy's module name in its go.mod.
var moduleLine = regexp.MustCompile(`(?m)^module lab/(step\d\d-[a-z0-9-]+)\s*$`)

// gradeAll grades the copies under dir and writes the report to out
// ("" means dir/grade-HOST.json).
func gradeAll(repo, dir, out string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	if err := checkSums(repo); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New(`grading runs containers and needs root: sudo env "PATH=$PATH" make grade`)
	}
	if dir == "" {
		dir = defaultLabDir()
	}
	copies, err := findCopies(dir)
	if err != nil {
		return err
	}
	r, err := newReport(repo, dir, out)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "minidocker-grade-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	suite := filepath.Join(work, "tests.test")
	if err := goTool(repo, "test", "-c", "-o", suite, "./tests"); err != nil {
		return fmt.Errorf("build the test suite: %w", err)
	}
	for _, c := range copies {
		s := gradeStep(suite, filepath.Join(repo, "tests"), work, c.step, c.dir)
		r.add(s)
		fmt.Println(scoreLine(s))
	}
	fmt.Printf("%-20s %d/%d\n", "total", r.Passed, r.Total)
	return writeReport(r)
}

// studentCopy is one copy found under the lab directory.
type studentCopy struct{ step, dir string }

// findCopies returns the student copies in dir, or dir itself if it is one.
func findCopies(dir string) ([]studentCopy, error) {
	if step, ok := copyStep(dir); ok {
		return []studentCopy{{step, dir}}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the lab directory: %w (say where your copies are: make grade LABS=DIR)", err)
	}
	var copies []studentCopy
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if step, ok := copyStep(sub); ok && e.IsDir() {
			copies = append(copies, studentCopy{step, sub})
		}
	}
	if len(copies) == 0 {
		return nil, fmt.Errorf("no student copy in %s: make one with go run ./lab/labgen -step STEP -o %s/STEP, or say where they are with LABS=DIR", dir, dir)
	}
	sort.Slice(copies, func(i, j int) bool { return copies[i].step < copies[j].step })
	return copies, nil
}

// copyStep returns the step a student copy in dir is of, from its go.mod.
func copyStep(dir string) (string, bool) {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", false
	}
	m := moduleLine.FindSubmatch(mod)
	if m == nil {
		return "", false
	}
	_, graded := grading[string(m[1])]
	return string(m[1]), graded
}

// gradeStep builds the copy in dir and runs its step's grading tests
// against it: suite is the built test binary, testsDir its package dir.
func gradeStep(suite, testsDir, work, step, dir string) stepReport {
	start := time.Now()
	s := stepReport{Step: step, Copy: dir, Total: len(grading[step])}
	bins := filepath.Join(work, "bin-"+step)
	if err := goTool(dir, "build", "-o", filepath.Join(bins, step), "."); err != nil {
		s.BuildError = compilerOutput(err)
		s.Failed, s.Failing = s.Total, grading[step]
		return s
	}
	var fresh []string
	for _, path := range leftByUnsolvedCopies {
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			fresh = append(fresh, path)
		}
	}
	cmd := exec.Command(suite, "-test.run", testPattern(step), "-test.v", "-test.count=1", "-test.timeout=10m")
	cmd.Dir = testsDir
	cmd.Env = append(os.Environ(), "MINIDOCKER_STEP_BINS="+bins)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // a failing test exits 1; the result lines say which
	for _, path := range fresh {
		os.Remove(path)
	}
	results := parseResults(out.String())
	for _, name := range grading[step] {
		if results[name] == "PASS" {
			s.Passed++
		} else {
			s.Failed++
			s.Failing = append(s.Failing, name)
		}
	}
	s.Seconds = time.Since(start).Round(time.Second).Seconds()
	return s
}

// resultLine matches a top-level test's result in go test -v output.
var resultLine = regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\S+)`)

// parseResults returns each top-level test's result from go test -v output.
func parseResults(out string) map[string]string {
	results := map[string]string{}
	for _, m := range resultLine.FindAllStringSubmatch(out, -1) {
		results[m[2]] = m[1]
	}
	return results
}

// scoreLine is the line printed for a step.
func scoreLine(s stepReport) string {
	line := fmt.Sprintf("%-20s %d/%d", s.Step, s.Passed, s.Total)
	if s.BuildError != "" {
		return line + "  does not build: " + firstLine(s.BuildError)
	}
	if len(s.Failing) > 0 {
		line += "  failing: " + strings.Join(s.Failing, ", ")
	}
	return line
}

// goTool runs the go command in dir and returns its output in the error.
func goTool(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// newReport starts the report: who, where, when, against which tests.
func newReport(repo, dir, out string) (*report, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	sums, err := os.ReadFile(filepath.Join(repo, sumsFile))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(sums)
	if out == "" {
		out = filepath.Join(dir, "grade-"+host+".json")
	}
	return &report{
		Student:    studentName(repo),
		Host:       host,
		Time:       time.Now().UTC().Format(time.RFC3339),
		TestsSHA:   hex.EncodeToString(sum[:]),
		ReportPath: out,
	}, nil
}

// add records a step's result in the report.
func (r *report) add(s stepReport) {
	if s.Failing == nil {
		s.Failing = []string{}
	}
	r.Steps = append(r.Steps, s)
	r.Passed += s.Passed
	r.Total += s.Total
}

// writeReport writes the report as indented JSON.
func writeReport(r *report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.ReportPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	fmt.Printf("report: %s\n", r.ReportPath)
	return nil
}

// studentName is $STUDENT, else the git user.name of the user who ran
// sudo, else that user's login name.
func studentName(repo string) string {
	if name := strings.TrimSpace(os.Getenv("STUDENT")); name != "" {
		return name
	}
	cmd := exec.Command("git", "config", "user.name")
	cmd.Dir = repo
	if home := invokerHome(); home != "" {
		cmd.Env = append(os.Environ(), "HOME="+home)
	}
	if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		return strings.TrimSpace(string(out))
	}
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// invokerHome is the home directory of the user who ran sudo, or $HOME.
func invokerHome() string {
	if name := os.Getenv("SUDO_USER"); name != "" {
		if u, err := user.Lookup(name); err == nil {
			return u.HomeDir
		}
	}
	return os.Getenv("HOME")
}

// defaultLabDir is where docs/labs/README.md tells students to put copies.
func defaultLabDir() string {
	return filepath.Join(invokerHome(), "lab")
}

// compilerOutput is what the go command said (goTool's error without
// its first line and the "# package" headers), or the whole error.
func compilerOutput(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	var kept []string
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, "# ") && strings.TrimSpace(line) != "" {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		return err.Error()
	}
	return strings.Join(kept, "\n")
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
