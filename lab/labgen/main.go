// Command labgen hands a student a step with its new mechanism cut out.
//
//	go run ./lab/labgen -step step04-pivot-root -o ~/lab/step04-pivot-root
//
// The copy is a Go module of its own (the repository's vendored modules
// come along, so it builds offline, anywhere): the step's files with each
// region marked "lab:cut" for this step replaced by a "TODO(lab)" comment
// and a stub that keeps it compiling (cut.go), a LAB.md listing the tasks,
// and a Makefile whose "make grade" builds the copy into bin/ and runs the
// repository's tests against it alone (MINIDOCKER_STEP_BINS=bin, see
// tests/suite_test.go). docs/labs/README.md is the learner's guide.
//
// "labgen -list" prints each step that has a lab and the tests that grade it;
// "labgen -grade -o DIR" grades a student's copies (grade.go, make grade);
// "labgen -sums" rewrites the checksums of the reference tests (sums.go).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// grading names, for each step with cut regions, the tests that fail on
// the student copy until its tasks are done (tests/labs_test.go checks
// that they do, and that they pass on the reference step).
var grading = map[string][]string{
	"step01-clone-ns":    {"TestCommandIsPID1", "TestEveryNamespaceIsNew"},
	"step02-mount-tmp":   {"TestTmpIsAnEmptyTmpfsTheHostCannotSee", "TestProcListsOnlyTheContainersProcesses"},
	"step03-chroot":      {"TestRootIsTheRootfsNotTheHost", "TestHostFileIsUnreachable"},
	"step04-pivot-root":  {"TestBreakoutFailsAfterPivotRoot", "TestMountinfoShowsNoHostMount"},
	"step05-cgroups":     {"TestCgroupFilesHoldTheLimits"},
	"step06-unionfs":     {"TestWritesLandInTheUpperLayer", "TestLayersStackTopWins"},
	"step07-veth-bridge": {"TestNetworkContainerReachesGatewayHostAndPeers"},
	"step08-commit":      {"TestCommitMakesAnImageOfTheChanges"},
}

// stepDir matches a step's directory name.
var stepDir = regexp.MustCompile(`^step(\d\d)-[a-z0-9-]+$`)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "labgen: %v\n", err)
		os.Exit(1)
	}
}

// run parses the flags and writes the student copy, or lists the labs.
func run(args []string) error {
	fs := flag.NewFlagSet("labgen", flag.ContinueOnError)
	step := fs.String("step", "", "the step to cut, e.g. step04-pivot-root")
	out := fs.String("o", "", "the directory to write the student copy to (must not exist or be empty)")
	repo := fs.String("repo", ".", "the repository's top directory")
	list := fs.Bool("list", false, "list the steps that have a lab, with the tests that grade each")
	grade := fs.Bool("grade", false, "grade the student copies in -o DIR (default ~/lab): a score per step and a JSON report")
	report := fs.String("report", "", "with -grade, where to write the JSON report (default DIR/grade-HOST.json)")
	sums := fs.Bool("sums", false, "rewrite "+sumsFile+", the checksums of the reference tests that -grade checks")
	checkOnly := fs.Bool("check-sums", false, "check that tests/ matches "+sumsFile)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *grade {
		return gradeAll(*repo, *out, *report)
	}
	if *sums {
		return writeSums(*repo)
	}
	if *checkOnly {
		return checkSums(*repo)
	}
	if *list {
		names := make([]string, 0, len(grading))
		for name := range grading {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Printf("%s\t%s\n", name, testPattern(name))
		}
		return nil
	}
	if *step == "" || *out == "" {
		return errors.New("usage: go run ./lab/labgen -step stepNN-name -o DIR   (or -list, -grade [-o DIR], -sums)")
	}
	if _, ok := grading[*step]; !ok || !stepDir.MatchString(*step) {
		return fmt.Errorf("no lab for %q: run with -list to see the steps that have one", *step)
	}
	return generate(*repo, *step, *out)
}

// testPattern is the go test -run pattern of a step's grading tests.
func testPattern(step string) string {
	return "^(" + strings.Join(grading[step], "|") + ")$"
}

// generate writes the student copy of step into out.
func generate(repo, step, out string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: choose a new directory (your work there is left alone)", out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(repo, step, "*.go"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no Go files in %s: is -repo the repository's top directory?", filepath.Join(repo, step))
	}
	var tasks []string
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		cut, todos, err := cutSource(filepath.Base(file), src, step[:6])
		if err != nil {
			return err
		}
		for _, t := range todos {
			tasks = append(tasks, fmt.Sprintf("- `%s:%d`: %s", filepath.Base(file), t.line, t.task))
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(file)), cut, 0o644); err != nil {
			return err
		}
	}
	if len(tasks) == 0 {
		return fmt.Errorf("%s has no region marked \"// lab:cut %s\"", step, step[:6])
	}
	if err := writeModule(repo, out, step); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "Makefile"), []byte(makefile(repo, step)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "LAB.md"), []byte(labNotes(repo, step, tasks)), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d task(s), see %s\n", out, len(tasks), filepath.Join(out, "LAB.md"))
	return nil
}

// writeModule makes out a module of its own with the repository's
// requirements and vendored modules, so that it builds offline anywhere.
func writeModule(repo, out, step string) error {
	mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		return err
	}
	mod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(mod, []byte("module lab/"+step))
	if err := os.WriteFile(filepath.Join(out, "go.mod"), mod, 0o644); err != nil {
		return err
	}
	if sum, err := os.ReadFile(filepath.Join(repo, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(out, "go.sum"), sum, 0o644); err != nil {
			return err
		}
	}
	return copyTree(filepath.Join(repo, "vendor"), filepath.Join(out, "vendor"))
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// makefile builds the copy into bin/ and grades it with the repository's tests.
func makefile(repo, step string) string {
	return fmt.Sprintf(`# Your copy of %[2]s. "make" builds it into bin/, "sudo make grade" runs
# the tests that grade this lab against it, and "sudo make grade-all" every
# check of this step and of the steps before it. (docs/labs/README.md)
REPO := %[1]s
STEP := %[2]s
TESTS := %[3]s
# Checks of the repository itself, not of a step.
NOT_STEP_CHECKS := ^(TestDocs|TestSteps|TestDrift|TestLabs|TestLinks|TestTroubleshooting)

bin/$(STEP): $(wildcard *.go)
	go build -o bin/$(STEP) .

.PHONY: grade grade-all
grade: bin/$(STEP)
	cd $(REPO) && MINIDOCKER_STEP_BINS=$(CURDIR)/bin go test -count=1 -v ./tests -run '$(TESTS)'

grade-all: bin/$(STEP)
	cd $(REPO) && MINIDOCKER_STEP_BINS=$(CURDIR)/bin go test -count=1 ./tests -skip '$(NOT_STEP_CHECKS)'
`, repo, step, strings.ReplaceAll(testPattern(step), "$", "$$"))
}

// labNotes is the LAB.md of a student copy: the tasks and how to check them.
func labNotes(repo, step string, tasks []string) string {
	return fmt.Sprintf(`# Lab: %[1]s

This is %[1]s with its new mechanism cut out. Each cut is a
`+"`TODO(lab)`"+` comment; write the code it asks for. The exercises and hints
are in %[2]s/docs/labs/%[3]s.md, the chapter in %[2]s/docs/%[3]s.md.

## Your tasks

%[4]s

## Build and grade

    make                 # builds bin/%[1]s; fix compile errors first
    sudo bin/%[1]s -- /bin/sh    # try it
    sudo make grade      # the tests that grade this lab: %[5]s
    sudo make grade-all  # every check of this step and the steps before

The tests run your binary, and only yours: make grade points the suite at
bin/ with MINIDOCKER_STEP_BINS. Until the tasks are done, the graded tests
fail; that is the point. At the top of the repository, sudo make grade
grades all your copies in ~/lab at once and writes a report for your
teacher (docs/labs/grading.md). To compare with the reference afterwards:
diff -ru %[2]s/%[1]s .
`, step, repo, step[4:], strings.Join(tasks, "\n"), strings.Join(grading[step], ", "))
}
