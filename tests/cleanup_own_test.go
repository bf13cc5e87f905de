// cleanup touches only what is its own: two state roots share a cgroup
// parent with a bystander, a process the test starts in a cgroup the test
// makes there; cleanup of one root must kill that root's containers and
// nothing else. And a --cgroup-parent that reaches outside a tree of its
// own ("/", "..", a relative path) is refused before anything is made.

package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCleanupTouchesOnlyItsOwn runs a detached container in each of two
// state roots under one cgroup parent (the default one, one given as the
// global --cgroup-parent, one given to run), beside a bystander in a
// sibling cgroup; then cleanup of the first root. Its container must be
// dead and its cgroup gone; the other root's container and the bystander
// must still run, in their cgroups.
func TestCleanupTouchesOnlyItsOwn(t *testing.T) {
	custom := fmt.Sprintf("/minidocker-test-parent-%d", os.Getpid())
	cases := []struct {
		name           string
		parent         string   // where the containers' cgroups are
		global, runOpt []string // how the parent is given
	}{
		{"default parent", "/minidocker", nil, nil},
		{"global cgroup-parent", custom, []string{"--cgroup-parent", custom}, nil},
		{"run cgroup-parent", custom, nil, []string{"--cgroup-parent", custom}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.parent != "/minidocker" {
				t.Cleanup(func() { removeTestCgroup(t, tc.parent) }) // after both roots' cleanup
			}
			a, b := newMD(t), newMD(t)
			run := append(append(append([]string{}, tc.global...), "run", "-d"), tc.runOpt...)
			mine := startSleeper(a, append(run, "base", "sleep", "1000"))
			theirs := startSleeper(b, append(run, "base", "sleep", "1000"))
			bystander := startBystander(t, tc.parent)
			mineDirs, theirDirs := cgroupsOf(tc.parent, mine.id), cgroupsOf(tc.parent, theirs.id)
			if len(mineDirs) == 0 || len(theirDirs) == 0 {
				t.Fatalf("the containers' cgroups are not under %s: %v %v", tc.parent, mineDirs, theirDirs)
			}

			a.must(append(append([]string{}, tc.global...), "cleanup")...)

			waitForDeath(t, mine.pid)
			for _, d := range mineDirs {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("cleanup left its own container's cgroup %s (%v)", d, err)
				}
			}
			expectRunning(t, "the other root's container", theirs.pid, theirDirs)
			expectRunning(t, "the bystander", bystander.pid, bystander.dirs)
			if status := b.must("inspect", "--format", "{{.State.Status}}", theirs.id); strings.TrimSpace(status) != "running" {
				t.Errorf("the other root's container is %q after cleanup, want running", status)
			}
			bystander.remove(t)
			b.must("rm", "-f", theirs.id) // the last of ours under the parent: it may go now
		})
	}
}

// TestCleanupRefusesParents checks that a cgroup parent that is the root
// cgroup, climbs with "..", or is relative is refused with a clear error
// by run (status 125, nothing made) and, for the global flag, by cleanup.
func TestCleanupRefusesParents(t *testing.T) {
	m := newMD(t)
	bad := []struct{ parent, want string }{
		{"/", "the root cgroup holds every process"},
		{"/minidocker/../..", `".." is not allowed`},
		{"/..", `".." is not allowed`},
		{"minidocker", "must be an absolute cgroup path"},
		{"../minidocker", "must be an absolute cgroup path"},
	}
	for _, b := range bad {
		m.fails(125, b.want, "run", "--rm", "--cgroup-parent", b.parent, "base", "true")
		m.fails(125, b.want, "--cgroup-parent", b.parent, "run", "--rm", "base", "true")
	}
	if out := m.must("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("a refused run left containers: %q", out)
	}
	if t.Failed() {
		// A runtime that accepts such a parent for run may accept it for
		// cleanup too, which would kill every process on this host.
		t.Fatal("not trying cleanup with these parents")
	}
	for _, b := range bad {
		m.fails(2, b.want, "--cgroup-parent", b.parent, "cleanup")
	}
}

// sleeper is a detached container: its id and host pid.
type sleeper struct {
	id  string
	pid int
}

// startSleeper runs a detached container and reads its pid.
func startSleeper(m *md, args []string) sleeper {
	m.t.Helper()
	id := strings.TrimSpace(m.must(args...))
	pid, err := strconv.Atoi(strings.TrimSpace(m.must("inspect", "--format", "{{.State.Pid}}", id)))
	if err != nil || pid <= 0 {
		m.t.Fatalf("container %s has no pid: %v", id, err)
	}
	return sleeper{id: id, pid: pid}
}

// cgroupsOf lists the directories of the cgroup parent/name that exist:
// one on v2, one per controller tree on v1.
func cgroupsOf(parent, name string) []string {
	pattern := filepath.Join("/sys/fs/cgroup", "*", parent, name)
	if hostCgroupV2() {
		pattern = filepath.Join("/sys/fs/cgroup", parent, name)
	}
	dirs, _ := filepath.Glob(pattern)
	return dirs
}

// bystander is a process that is not minidocker's, in a cgroup that is
// not minidocker's, both made by the test.
type bystander struct {
	cmd  *exec.Cmd
	pid  int
	dirs []string
}

// startBystander starts sleep in a cgroup of its own under parent: in the
// memory, pids, cpu, cpuacct and devices trees on v1 (those minidocker
// uses), in the one tree on v2. It is removed when the test ends.
func startBystander(t *testing.T, parent string) *bystander {
	t.Helper()
	name := fmt.Sprintf("bystander-%d", os.Getpid())
	var dirs []string
	if hostCgroupV2() {
		dirs = []string{filepath.Join("/sys/fs/cgroup", parent, name)}
	} else {
		for _, ctrl := range []string{"memory", "pids", "cpu", "cpuacct", "devices"} {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ctrl, parent, name))
		}
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	by := &bystander{cmd: exec.Command(sleep, "1000")}
	if err := by.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	by.pid = by.cmd.Process.Pid
	t.Cleanup(func() { by.remove(t) })
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		by.dirs = append(by.dirs, d)
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(by.pid)), 0); err != nil {
			t.Fatalf("move the bystander into %s: %v", d, err)
		}
	}
	return by
}

// remove kills the bystander (the test started it) and removes the
// cgroups the test made for it; running it twice is harmless.
func (by *bystander) remove(t *testing.T) {
	if by.cmd.Process != nil && by.cmd.ProcessState == nil {
		_ = by.cmd.Process.Kill()
		_ = by.cmd.Wait()
	}
	for _, d := range by.dirs {
		if err := removeCgroupDir(d); err != nil {
			t.Errorf("remove the bystander's cgroup: %v", err)
		}
	}
	by.dirs = nil
}

// removeTestCgroup removes a cgroup parent the test named (it may have
// been made by minidocker for the test's containers), once it is empty.
func removeTestCgroup(t *testing.T, parent string) {
	dirs := []string{filepath.Join("/sys/fs/cgroup", parent)}
	if !hostCgroupV2() {
		dirs, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	}
	for _, d := range dirs {
		if err := removeCgroupDir(d); err != nil {
			t.Errorf("remove the test's cgroup parent: %v", err)
		}
	}
}

// removeCgroupDir removes an empty cgroup, waiting up to 5 s for the
// processes that just died to leave it.
func removeCgroupDir(dir string) error {
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = unix.Rmdir(dir); err == nil || os.IsNotExist(err) {
			return nil
		}
	}
	return fmt.Errorf("rmdir %s: %w", dir, err)
}

// expectRunning checks that pid runs (not a zombie) and is still listed
// in each of its cgroup directories.
func expectRunning(t *testing.T, who string, pid int, dirs []string) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || bytes.HasPrefix(stat[i:], []byte(") Z")) {
		t.Errorf("%s (pid %d) was killed by cleanup: %v", who, pid, err)
	}
	for _, d := range dirs {
		procs, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			t.Errorf("%s's cgroup %s was removed by cleanup: %v", who, d, err)
			continue
		}
		if !containsWord(string(procs), strconv.Itoa(pid)) {
			t.Errorf("%s (pid %d) is no longer in its cgroup %s: %q", who, pid, d, procs)
		}
	}
}

// containsWord reports whether a whitespace-separated list holds word.
func containsWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}

// TestStepsRefuseParentsAndKeepTheUsers checks steps 05 on: a cgroup
// parent that is the root cgroup, climbs with "..", or is relative is
// refused; and a parent the user made and named with --cgroup-parent is
// still there after the run (only the default parent is the steps' to
// remove), as it is after minidocker's run --rm.
func TestStepsRefuseParentsAndKeepTheUsers(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		for _, bad := range []string{"/", "/..", "/minidocker/../..", "minidocker"} {
			if r := run(t, s, "-q", "--cgroup-parent", bad, "--", "true"); r.code == 0 || !strings.Contains(r.stderr, "--cgroup-parent") {
				t.Errorf("--cgroup-parent %s: exit %d, stderr %q; want it refused", bad, r.code, r.stderr)
			}
		}
		parent := fmt.Sprintf("/minidocker-test-users-%s-%d", s.name[:6], os.Getpid())
		dirs := makeUsersParent(t, parent)
		mustRun(t, s, "-q", "--cgroup-parent", parent, "--", "true")
		expectDirs(t, s.name, dirs)
	})
	t.Run("final", func(t *testing.T) {
		m := newMD(t)
		parent := fmt.Sprintf("/minidocker-test-users-final-%d", os.Getpid())
		dirs := makeUsersParent(t, parent)
		m.must("run", "--rm", "--cgroup-parent", parent, "base", "true")
		expectDirs(t, "minidocker run --rm", dirs)
	})
}

// makeUsersParent makes an empty cgroup parent, as a user would before
// naming it with --cgroup-parent (in the trees minidocker and the steps
// use on v1); the test removes it at the end.
func makeUsersParent(t *testing.T, parent string) []string {
	t.Helper()
	t.Cleanup(func() { removeTestCgroup(t, parent) })
	dirs := []string{filepath.Join("/sys/fs/cgroup", parent)}
	if !hostCgroupV2() {
		dirs = nil
		for _, ctrl := range []string{"memory", "pids", "cpu", "cpuacct", "devices"} {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", ctrl, parent))
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// expectDirs checks that every directory still exists after who ran.
func expectDirs(t *testing.T, who string, dirs []string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed the user's cgroup parent %s: %v", who, d, err)
		}
	}
}

// TestCleanupLeavesRunningSteps runs each step's container, then
// minidocker cleanup (of a state root of its own): the step's temporary
// directories and cgroup must stay, and its container must go on with its
// root filesystem whole. The step and cleanup share a $TMPDIR of the
// test's own, so that only this test's step is there. Killed steps'
// leftovers are TestCleanupRemovesWhatKilledStepsLeft's.
func TestCleanupLeavesRunningSteps(t *testing.T) {
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		containerTest(t)
		tmp := t.TempDir()
		env := []string{"TMPDIR=" + tmp, "MINIDOCKER_ROOT=" + filepath.Join(tmp, "step08-state")}
		sess := startWithEnv(t, s, env, "-q", "--", "sh", "-c", "echo up; read x; cat /bin/sh >/dev/null && echo whole")
		if line := sess.readLine(t); line != "up" {
			t.Fatalf("%s printed %q", s.name, line)
		}
		own := fmt.Sprintf("%s-%d", s.name[:6], sess.cmd.Process.Pid)
		uses := func() []string {
			found, _ := filepath.Glob(filepath.Join(tmp, "minidocker-*"))
			cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "minidocker", own))
			v2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "minidocker", own))
			return append(append(found, cgroups...), v2...)
		}
		before := uses()
		if len(before) == 0 || (s.number >= 5 && !strings.Contains(strings.Join(before, " "), "/"+own)) {
			t.Fatalf("found nothing the running step uses (%v): the test would prove nothing", before)
		}
		cmd := exec.Command(finalBinary, "--root", filepath.Join(tmp, "md"), "cleanup")
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		cmd.SysProcAttr = isolatedNetwork()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("minidocker cleanup: %v\n%s", err, out)
		}
		if gone := difference(before, uses()); len(gone) > 0 {
			t.Errorf("cleanup removed what a running %s uses: %v", s.name, gone)
		}
		fmt.Fprintln(sess.stdin)
		if line := sess.readLine(t); line != "whole" {
			t.Errorf("after cleanup the container printed %q, want \"whole\"", line)
		}
		if code := sess.finish(t); code != 0 {
			t.Errorf("%s exited %d after cleanup", s.name, code)
		}
	})
}

// TestCleanupLeavesOtherRootsNetwork runs a container of each of two state
// roots on the bridge of one network namespace; cleanup of the first must
// leave the second's veth, address and route alone.
func TestCleanupLeavesOtherRootsNetwork(t *testing.T) {
	a := newMD(t)
	b := sharingNetns(t, a)
	mine := startSleeper(a, []string{"run", "-d", "base", "sleep", "1000"})
	theirs := startSleeper(b, []string{"run", "-d", "base", "sleep", "1000"})
	want := strings.TrimSpace(b.must("exec", theirs.id, "cat", "/sys/class/net/eth0/address"))
	a.must("cleanup")
	waitForDeath(t, mine.pid)
	r := b.run("exec", theirs.id, "cat", "/sys/class/net/eth0/address", "/sys/class/net/eth0/operstate")
	if r.code != 0 || !strings.HasPrefix(r.stdout, want+"\nup") {
		t.Errorf("the other root's container lost its network to cleanup: exit %d, %q %q (eth0 was %s)", r.code, r.stdout, r.stderr, want)
	}
	b.must("rm", "-f", theirs.id)
}

// sharingNetns is a second minidocker beside a: a state root of its own,
// commands run in a's network namespace. Its containers are removed
// before a's end-of-test checks.
func sharingNetns(t *testing.T, a *md) *md {
	root, err := os.MkdirTemp("/var/tmp", "minidocker-tests-final-")
	if err != nil {
		t.Fatal(err)
	}
	b := &md{t: t, root: root, jobs: a.jobs}
	t.Cleanup(func() {
		b.run("cleanup")
		os.RemoveAll(root)
	})
	return b
}
