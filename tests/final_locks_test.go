// Black-box tests of concurrent commands on one container or image:
// parallel start and rm, rmi while a container is being made from the
// image, and rm killed with SIGKILL at several moments. Commands here
// really run at once: every one is started before any is waited for.

package tests

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parallel starts every command line at once in the test's network
// namespace, then waits for them all; their results, in order.
func (m *md) parallel(cmds ...[]string) []result {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmdsRun := make([]*exec.Cmd, len(cmds))
	outs := make([][2]*bytes.Buffer, len(cmds))
	var startErr error
	m.inNetns(func() {
		for i, args := range cmds {
			cmd := exec.CommandContext(ctx, finalBinary, append([]string{"--root", m.root}, args...)...)
			outs[i] = [2]*bytes.Buffer{{}, {}}
			cmd.Stdout, cmd.Stderr = outs[i][0], outs[i][1]
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil && startErr == nil {
				startErr = err
			}
			cmdsRun[i] = cmd
		}
	})
	if startErr != nil {
		m.t.Fatal(startErr)
	}
	results := make([]result, len(cmds))
	for i, cmd := range cmdsRun {
		code, err := exitCode(cmd.Wait())
		if err != nil {
			m.t.Fatalf("minidocker %s: %v", strings.Join(cmds[i], " "), err)
		}
		results[i] = result{stdout: outs[i][0].String(), stderr: outs[i][1].String(), code: code}
	}
	if ctx.Err() != nil {
		m.t.Fatalf("parallel commands timed out (a deadlock?): %v", results)
	}
	return results
}

// repeat is n copies of one command line.
func repeat(n int, args ...string) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = args
	}
	return out
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(stat, ')')
	return err == nil && i > 0 && !bytes.HasPrefix(stat[i:], []byte(") Z"))
}

// monitorsOf lists the live monitor processes of container id: processes
// whose command line is minidocker's hidden "monitor" verb for that id.
func monitorsOf(id string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if err != nil || len(args) < 3 || args[1] != "monitor" || args[len(args)-1] != id {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// traces lists the paths under the state root named after container id
// (its directory, its log, a removal in progress, whatever the layout).
func traces(root, id string) []string {
	var found []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), id) {
			found = append(found, path)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	return found
}

// containerPid is the pid of a running container's first process.
func (m *md) containerPid(ref string) int {
	m.t.Helper()
	info := m.inspect(ref)
	if field(info, "State", "Running") != true {
		m.t.Fatalf("%s is not running: %v", ref, field(info, "State"))
	}
	return int(field(info, "State", "Pid").(float64))
}

// TestFinalParallelStart starts one stopped container five times at once:
// one start makes one monitor, the others find the container running and,
// as docker start does, print its name and exit 0; once they have all
// returned, the container still runs.
func TestFinalParallelStart(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "once", "base", "sleep", "1000"))
	m.must("stop", "-t", "0", "once")
	for i, r := range m.parallel(repeat(5, "start", "once")...) {
		if r.code != 0 || r.stdout != "once\n" || r.stderr != "" {
			t.Errorf("start %d: exit %d, stdout %q, stderr %q; want exit 0, the name, and no error", i, r.code, r.stdout, r.stderr)
		}
	}
	pid := m.containerPid("once")
	if !processAlive(pid) {
		t.Errorf("the container's process %d is dead after the starts returned", pid)
	}
	if monitors := monitorsOf(id); len(monitors) != 1 {
		t.Errorf("container %s has %d monitors %v, want 1", id[:12], len(monitors), monitors)
	}
	m.must("rm", "-f", "once")
}

// TestFinalParallelRemove removes one running container five times at
// once, while two restarts of it run too: one rm removes it, each other
// one either does too or finds it gone (Docker's "No such container"); a
// restart either restarts it before it goes or finds it gone. Once all
// have returned nothing of it is left: no process, no monitor, no file
// under the state root, nothing on the host (newMD's check).
func TestFinalParallelRemove(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "doomed", "base", "sleep", "1000"))
	pid := m.containerPid("doomed")
	cmds := append(repeat(5, "rm", "-f", "doomed"), repeat(2, "restart", "-t", "0", "doomed")...)
	removed := 0
	for i, r := range m.parallel(cmds...) {
		switch {
		case r.code == 0 && r.stdout == "doomed\n" && r.stderr == "":
			if i < 5 {
				removed++
			}
		case r.code == 1 && strings.Contains(strings.ToLower(r.stderr), "no such container: doomed"):
		default:
			t.Errorf("%s: exit %d, stdout %q, stderr %q", strings.Join(cmds[i], " "), r.code, r.stdout, r.stderr)
		}
	}
	if removed == 0 {
		t.Error("no rm -f succeeded")
	}
	if processAlive(pid) {
		t.Errorf("the container's process %d still runs", pid)
	}
	if monitors := monitorsOf(id); len(monitors) > 0 {
		t.Errorf("monitors %v still run the removed container", monitors)
	}
	if ps := m.must("ps", "-a", "-q", "--no-trunc"); strings.Contains(ps, id) {
		t.Errorf("ps -a still lists the container:\n%s", ps)
	}
	if left := traces(m.root, id); len(left) > 0 {
		t.Errorf("left under the state root: %v", left)
	}
}

// TestFinalRmiWhileRun removes an image while a container is being made
// from it, round after round: either rmi refuses with Docker's conflict
// (the container claimed the image first) and the container runs, or rmi
// wins and run says the image does not exist (exit 125). Never a raw
// mount error, never a half-made container, nothing left on the host.
func TestFinalRmiWhileRun(t *testing.T) {
	m := newMD(t)
	m.must("run", "--rm", "base", "true")
	outcomes := map[string]int{}
	for round := 0; round < 8; round++ {
		img, name := fmt.Sprintf("race%d", round), fmt.Sprintf("racer%d", round)
		// An image of its own each round, with a layer no other image has.
		m.must("run", "--name", "maker", "base", "sh", "-c", "echo "+img+" > /round")
		m.must("commit", "maker", img)
		m.must("rm", "maker")
		res := m.parallel([]string{"rmi", img}, []string{"run", "-d", "--name", name, img, "sleep", "1000"})
		rmi, run := res[0], res[1]
		for _, raw := range []string{"lowerdir", "mount overlay", "no such file or directory"} {
			if strings.Contains(run.stderr, raw) {
				t.Errorf("round %d: run fails with a raw error: %q", round, run.stderr)
			}
		}
		switch {
		case rmi.code == 1 && strings.Contains(rmi.stderr, `conflict: unable to remove repository reference "`+img+`" (must force) - container `) && run.code == 0:
			outcomes["rmi refused"]++
			m.containerPid(name)
			if out := m.must("exec", name, "cat", "/round"); out != img+"\n" {
				t.Errorf("round %d: the container's /round is %q", round, out)
			}
			m.must("rm", "-f", name)
			m.must("rmi", img)
		case rmi.code == 0 && run.code == 125 && (strings.Contains(strings.ToLower(run.stderr), "no such image") || strings.Contains(run.stderr, "Unable to find image")):
			outcomes["rmi first"]++
			if ps := m.must("ps", "-a", "--format", "{{.Names}}"); strings.Contains(ps, name) {
				t.Errorf("round %d: the failed run left a container:\n%s", round, ps)
			}
		default:
			t.Errorf("round %d: rmi exit %d, stderr %q; run exit %d, stderr %q", round, rmi.code, rmi.stderr, run.code, run.stderr)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestFinalKilledRemove SIGKILLs rm at several moments of a removal: at
// once, after fixed delays (as TestFinalKilledAtEveryStage does with
// run), when the container's process has died (rm -f of a running
// container), and when the record has just left the containers directory
// (deleting a writable layer of many files takes a while). Whatever the
// moment, the container is either whole (listed, and removable) or gone
// from every listing; the next command finishes a half-done removal (rm
// of it succeeds); its name can then be taken exactly once; and nothing
// of it is left, under the state root or on the host (newMD's check).
func TestFinalKilledRemove(t *testing.T) {
	m := newMD(t)
	m.must("run", "--rm", "base", "true")
	moments := []struct {
		name    string
		running bool                                // rm -f of a running container, or rm of a stopped one
		ready   func(root, id string, pid int) bool // when to kill rm
	}{
		{"at once", false, func(string, string, int) bool { return true }},
		{"after 20ms", true, after(20 * time.Millisecond)},
		{"after 60ms", false, after(60 * time.Millisecond)},
		{"once the container died", true, func(_, _ string, pid int) bool { return !processAlive(pid) }},
		{"once the record moved", false, recordMoved},
		{"once the record moved, rm -f", true, recordMoved},
	}
	halfDone := 0
	for i, moment := range moments {
		name := fmt.Sprintf("victim%d", i)
		id, pid := m.removable(name, moment.running)
		args := []string{"--root", m.root, "rm", name}
		if moment.running {
			args = []string{"--root", m.root, "rm", "-f", name}
		}
		cmd := exec.Command(finalBinary, args...)
		var err error
		m.inNetns(func() { err = cmd.Start() })
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); !moment.ready(m.root, id, pid) && time.Now().Before(deadline); {
			time.Sleep(200 * time.Microsecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		left := traces(m.root, id)
		if len(left) > 0 && !strings.HasPrefix(left[0], filepath.Join(m.root, "containers", id)) {
			halfDone++ // the record has left its place, and files remain
		}
		t.Logf("%s: left %v", moment.name, left)
		if i%2 == 0 {
			// Every command finishes a half-done removal first: ps lists
			// the container whole, or not at all.
			if strings.Contains(m.must("ps", "-a", "-q", "--no-trunc"), id) {
				m.must("inspect", name)
			} else if left := traces(m.root, id); len(left) > 0 {
				t.Errorf("%s: ps -a does not list the container, yet it left %v", moment.name, left)
			}
		}
		// rm of it finishes the job; "No such container" only once nothing was left.
		r := m.run("rm", "-f", name)
		if len(left) > 0 && i%2 == 1 && (r.code != 0 || r.stdout != name+"\n") {
			t.Errorf("%s: rm -f of the container: exit %d, stdout %q, stderr %q", moment.name, r.code, r.stdout, r.stderr)
		}
		if r.code != 0 && !strings.Contains(strings.ToLower(r.stderr), "no such container") {
			t.Errorf("%s: rm -f of the container: exit %d, stderr %q", moment.name, r.code, r.stderr)
		}
		if left := traces(m.root, id); len(left) > 0 {
			t.Errorf("%s: after rm -f, left under the state root: %v", moment.name, left)
		}
		// The name is free, once.
		m.must("run", "-d", "--name", name, "base", "sleep", "1000")
		m.fails(125, "already in use", "run", "-d", "--name", name, "base", "sleep", "1000")
		if n := strings.Count(m.must("ps", "-a", "--format", "{{.Names}}")+"\n", name+"\n"); n != 1 {
			t.Errorf("%s: %d containers are called %s", moment.name, n, name)
		}
		m.must("rm", "-f", name)
	}
	if halfDone == 0 {
		t.Error("no kill came in the middle of a removal: the test tested nothing of it")
	}
}

// removable makes a container to be removed: running, or stopped with a
// writable layer of many files. It returns its id and first process.
func (m *md) removable(name string, running bool) (string, int) {
	m.t.Helper()
	if running {
		id := strings.TrimSpace(m.must("run", "-d", "--name", name, "base", "sleep", "1000"))
		return id, m.containerPid(name)
	}
	m.must("run", "--name", name, "--network", "none", "-v", helperVolume(m.t), "base", "/helper", "files", "2000")
	info := m.inspect(name)
	return info["Id"].(string), 0
}

// after is a moment d after rm started.
func after(d time.Duration) func(string, string, int) bool {
	start := time.Now()
	var armed bool
	return func(string, string, int) bool {
		if !armed {
			start, armed = time.Now(), true
		}
		return time.Since(start) >= d
	}
}

// recordMoved is the moment container id's directory has left
// <root>/containers: its removal has begun.
func recordMoved(root, id string, _ int) bool {
	_, err := os.Stat(filepath.Join(root, "containers", id))
	return err != nil
}

// TestFinalCommitHoldsTheContainer checks that rm waits for a commit of
// the same container: the test holds the image store's lock, so the
// commit stops there holding the container's lock, and rm must wait for
// it rather than delete the writable layer under the commit.
func TestFinalCommitHoldsTheContainer(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "src", "--network", "none", "base", "sh", "-c", "echo kept > /kept")
	release := holdStoreLock(t, m)
	commit := startCmd(t, m, "commit", "src", "snap:1")
	waitFor(t, func() bool { return waitingForLock(commit.Process.Pid) })
	rm := startCmd(t, m, "rm", "src")
	rmDone := make(chan error, 1)
	go func() { rmDone <- rm.Wait() }()
	blocked := false
	for deadline := time.Now().Add(20 * time.Second); !blocked && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-rmDone:
			release()
			_ = commit.Wait()
			t.Fatalf("rm ended (%v, stderr %q) while a commit of the container was in progress", err, rm.Stderr)
		default:
			blocked = waitingForLock(rm.Process.Pid)
		}
	}
	release()
	if err := commit.Wait(); err != nil {
		t.Fatalf("commit: %v, stderr %q", err, commit.Stderr)
	}
	if err := <-rmDone; err != nil {
		t.Fatalf("rm after the commit: %v, stderr %q", err, rm.Stderr)
	}
	if !blocked {
		t.Fatal("rm never waited for the commit's lock")
	}
	if out := m.must("run", "--rm", "--network", "none", "snap:1", "cat", "/kept"); out != "kept\n" {
		t.Errorf("the committed image has /kept = %q", out)
	}
}

// TestFinalRemoveKilledAfterTheRecord makes, by hand, what an rm killed
// at its last moment leaves (removing/<id> with its record and lock
// already deleted, the name not yet given back): rm of the name must
// finish the job and say so, and the name must be free again.
func TestFinalRemoveKilledAfterTheRecord(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "late", "--network", "none", "base", "true"))
	m.must("wait", "late")
	removing := filepath.Join(m.root, "removing")
	if err := os.MkdirAll(removing, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(removing, id)
	if err := os.Rename(filepath.Join(m.root, "containers", id), dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if r := m.run("rm", "-f", "late"); r.code != 0 || r.stdout != "late\n" {
		t.Errorf("rm -f of a removal killed after its record: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", dir, err)
	}
	if _, err := os.Stat(filepath.Join(m.root, "names", "late")); !os.IsNotExist(err) {
		t.Errorf("the name late was not given back (%v)", err)
	}
	m.must("run", "--rm", "--name", "late", "--network", "none", "base", "true")
}
