// Package tests is the behaviour suite of minidocker: it runs each step's
// real program, as root, on the real kernel, and checks what the kernel
// shows. One check is written once and run against every step from the one
// that introduced the behaviour on (Crafting Interpreters style): once a
// step passes a check, every later step must pass it too.
//
// TestMain builds each step into a temporary directory, or, when
// MINIDOCKER_STEP_BINS names a directory of prebuilt binaries (as in the
// cgroup v2 VM, which has no Go toolchain), uses those.
//
// Skipping. A test that lacks what it needs skips, unless
// MINIDOCKER_STRICT is set (CI and the cgroup v2 VM set it): then the skip
// is a failure, so CI can never pass by skipping. That policy is the
// package tests/skip, which the unit tests of final's packages use too;
// nothing else reads os.Geteuid or MINIDOCKER_STRICT to skip:
//
//   - skip.UnlessRoot(t): the test needs root.
//   - containerTest(t): the test runs containers: it needs root, and the
//     host must be left as it was found (hostState). newMD calls it.
//   - needProgram(t, name, pkg): the test needs a program from the host
//     (docker-registry, skopeo); the test VM's busybox userland has none,
//     so there it skips even under MINIDOCKER_STRICT.
package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minidocker/minidocker/tests/skip"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = ".."

// step is one step program under test.
type step struct {
	number int
	name   string // the directory name, e.g. "step03-chroot"
	binary string
}

// steps are all the step programs found, in order.
var steps []step

// stepDirPattern matches a step's directory name.
var stepDirPattern = regexp.MustCompile(`^step(\d\d)-[a-z0-9-]+$`)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite finds or builds the step binaries, then runs the tests.
func runSuite(m *testing.M) int {
	binDir := os.Getenv("MINIDOCKER_STEP_BINS")
	if binDir == "" {
		dir, err := os.MkdirTemp("", "minidocker-tests-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		// Readable by the unprivileged user of TestNotRoot.
		_ = os.Chmod(dir, 0o755)
		if err := buildSteps(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := buildFinal(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		binDir = dir
	}
	// Steps from 08 on keep images and containers in a state directory:
	// this run's own, removed at the end.
	if os.Getenv("MINIDOCKER_ROOT") == "" {
		state, err := os.MkdirTemp("", "minidocker-tests-state-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(state)
		_ = os.Chmod(state, 0o711) // as the steps make it: open to root of a user namespace
		os.Setenv("MINIDOCKER_ROOT", state)
	}
	if err := findSteps(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	findFinal(binDir)
	code := m.Run()
	if *update {
		if err := syncTranslations(); err != nil { // the Chinese pages get the blocks just rewritten
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return code
}

// buildSteps compiles every step directory of the repository into dir.
func buildSteps(dir string) error {
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || !stepDirPattern.MatchString(e.Name()) {
			continue
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, e.Name()), "./"+e.Name())
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./%s: %v\n%s", e.Name(), err, out)
		}
	}
	return nil
}

// findSteps lists the step binaries in dir.
func findSteps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		m := stepDirPattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		steps = append(steps, step{number: n, name: e.Name(), binary: filepath.Join(dir, e.Name())})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].number < steps[j].number })
	if len(steps) == 0 {
		return fmt.Errorf("no step binaries in %s", dir)
	}
	return nil
}

// stepsFrom returns the steps numbered first and later.
func stepsFrom(first int) []step {
	return stepsBetween(first, 99)
}

// stepsBetween returns the steps numbered first to last, inclusive.
func stepsBetween(first, last int) []step {
	var out []step
	for _, s := range steps {
		if s.number >= first && s.number <= last {
			out = append(out, s)
		}
	}
	return out
}

// forSteps runs check as a subtest for each step in list.
func forSteps(t *testing.T, list []step, check func(t *testing.T, s step)) {
	t.Helper()
	if len(list) == 0 {
		t.Skip("no step in range has been built")
	}
	for _, s := range list {
		t.Run(s.name, func(t *testing.T) { check(t, s) })
	}
}

// needProgram is the path of a program from the host that a test needs,
// such as docker-registry; without it the test skips (skip.Because), and
// in the test VM, whose busybox userland has none of them, it skips even
// under MINIDOCKER_STRICT: what needs them does not depend on the cgroup
// version, and is tested on the host.
func needProgram(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	why := fmt.Sprintf("needs %s (apt-get install %s)", name, pkg)
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip(why + ": the test VM's busybox userland has none")
	}
	skip.Because(t, why)
	return ""
}

// containerTest marks a test that runs containers: it needs root
// (skip.UnlessRoot), and the host must be as clean afterwards as before.
func containerTest(t *testing.T) {
	t.Helper()
	skip.UnlessRoot(t)
	before := hostState(t)
	t.Cleanup(func() {
		after := hostState(t)
		for _, leak := range difference(after, before) {
			t.Errorf("left behind on the host: %s", leak)
		}
	})
}

// hostState lists what a run could leak: mounts, cgroups and temp dirs.
func hostState(t *testing.T) []string {
	t.Helper()
	var state []string
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			state = append(state, "mount "+f[4])
		}
	}
	for _, pattern := range []string{"/sys/fs/cgroup/minidocker", "/sys/fs/cgroup/*/minidocker"} {
		parents, _ := filepath.Glob(pattern)
		for _, p := range parents {
			children, _ := filepath.Glob(filepath.Join(p, "*", "cgroup.procs"))
			state = append(state, "cgroup "+p)
			for _, c := range children {
				state = append(state, "cgroup "+filepath.Dir(c))
			}
		}
	}
	netState, _ := filepath.Glob("/run/minidocker/net-*/*")
	for _, p := range netState {
		if !keptNetwork(p) {
			state = append(state, "path "+p)
		}
	}
	tmp, _ := filepath.Glob(filepath.Join(os.TempDir(), "minidocker-*"))
	for _, p := range tmp {
		if !strings.Contains(p, "minidocker-tests-") && !strings.Contains(p, "minidocker-vm") {
			state = append(state, "path "+p)
		}
	}
	return state
}

// keptNetwork reports whether a network state file is the record of a
// bridge that minidocker keeps with no container on it, as Docker keeps
// docker0 (final/internal/network: Release); "minidocker cleanup" removes
// it, and each test of final runs it at its end. A record that still
// leases an address is not kept: it is a leak.
func keptNetwork(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".json") {
		return false
	}
	var record struct {
		OwnBridge   bool              `json:"ownBridge"`
		Allocations []json.RawMessage `json:"allocations"`
	}
	return json.Unmarshal(data, &record) == nil && record.OwnBridge && len(record.Allocations) == 0
}

// isolatedNetwork starts a step in a network namespace of its own, its
// host, so that a step that wires networks (step07 on) never touches this
// machine's links; what it wires goes with the namespace (network_test.go
// checks that the steps clean up there themselves).
func isolatedNetwork() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNET}
}

// difference returns the items of a that are not in b, counting repeats.
func difference(a, b []string) []string {
	count := map[string]int{}
	for _, s := range b {
		count[s]++
	}
	var out []string
	for _, s := range a {
		if count[s] > 0 {
			count[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}

// result is what a finished run of a step printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// run runs a step to completion with args, with a timeout.
func run(t *testing.T, s step, args ...string) result {
	t.Helper()
	return runWithEnv(t, s, nil, args...)
}

// runWithEnv runs a step with extra environment variables ("TMPDIR=/x").
func runWithEnv(t *testing.T, s step, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = isolatedNetwork()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, err := exitCode(cmd.Run())
	if err != nil {
		t.Fatalf("%s %s: %v", s.name, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out\nstderr:\n%s", s.name, strings.Join(args, " "), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// exitCode turns the result of Wait into a shell-style exit status.
func exitCode(err error) (int, error) {
	exitErr, ok := err.(*exec.ExitError)
	if !ok {
		return 0, err
	}
	if ws := exitErr.Sys().(syscall.WaitStatus); ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return exitErr.ExitCode(), nil
}

// mustRun runs a step and fails the test unless it exits 0.
func mustRun(t *testing.T, s step, args ...string) result {
	t.Helper()
	r := run(t, s, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit status %d\nstdout:\n%s\nstderr:\n%s", s.name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// session is a step still running, that the test talks to line by line.
type session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// start starts a step whose command the test will talk to.
func start(t *testing.T, s step, args ...string) *session {
	t.Helper()
	return startWithEnv(t, s, nil, args...)
}

// startWithEnv is start with extra environment variables.
func startWithEnv(t *testing.T, s step, env []string, args ...string) *session {
	t.Helper()
	cmd := exec.Command(s.binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = isolatedNetwork()
	return startSession(t, cmd, cmd.Start)
}

// startSession wires cmd's stdin and stdout to a session, starts it with
// launch (cmd.Start, or cmd.Start inside a namespace: testNetns.start),
// and kills it when the test ends.
func startSession(t *testing.T, cmd *exec.Cmd, launch func() error) *session {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := launch(); err != nil {
		t.Fatal(err)
	}
	sess := &session{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), stderr: &stderr}
	t.Cleanup(func() { sess.kill() })
	return sess
}

// readLine returns the next line the container printed.
func (s *session) readLine(t *testing.T) string {
	t.Helper()
	timer := time.AfterFunc(time.Minute, func() { s.kill() })
	defer timer.Stop()
	if !s.lines.Scan() {
		t.Fatalf("the container ended before printing a line\nstderr:\n%s", s.stderr.String())
	}
	return s.lines.Text()
}

// finish closes stdin and waits for the step to exit, returning its status.
func (s *session) finish(t *testing.T) int {
	t.Helper()
	s.stdin.Close()
	timer := time.AfterFunc(time.Minute, func() { s.kill() })
	defer timer.Stop()
	for s.lines.Scan() {
	}
	code, err := exitCode(s.cmd.Wait())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// kill ends a step that is still running as a user would, with Ctrl-C
// twice, so that it cleans up; SIGKILL only if that did not work.
func (s *session) kill() {
	if s.cmd.ProcessState != nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(100 * time.Millisecond)
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	timer := time.AfterFunc(30*time.Second, func() { _ = s.cmd.Process.Kill() })
	defer timer.Stop()
	_ = s.cmd.Wait()
}

// lines splits output into its non-empty lines.
func lines(output string) []string {
	var out []string
	for _, l := range strings.Split(output, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
