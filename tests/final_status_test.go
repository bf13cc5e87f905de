// Status that a script can rely on: wait prints exit codes as Docker's
// does; once kill, logs -f or wait says a container has exited, its record
// says so and the kernel agrees (no cgroup, no network lease); a container
// whose monitor was killed is not shown running, and its end is dated by
// the monitor's last heartbeat rather than by the repair.

package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// background is a minidocker command that runs while the test goes on.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// start starts minidocker with args in the test's network namespace,
// without waiting for it.
func (m *md) start(args ...string) *background {
	m.t.Helper()
	b := &background{}
	b.cmd = exec.Command(finalBinary, append([]string{"--root", m.root}, args...)...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = b.cmd.Start() })
	if err != nil {
		m.t.Fatalf("minidocker %s: %v", strings.Join(args, " "), err)
	}
	m.t.Cleanup(func() { _ = b.cmd.Process.Kill(); _ = b.cmd.Wait() })
	return b
}

// finish waits (up to 30 s) for the command to end and returns its result.
func (b *background) finish(t *testing.T) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case err := <-done:
		code, err := exitCode(err)
		if err != nil {
			t.Fatal(err)
		}
		return result{stdout: b.stdout.String(), stderr: b.stderr.String(), code: code}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end", strings.Join(b.cmd.Args, " "))
	}
	return result{}
}

// exited reports whether a process has ended: gone, or a zombie.
func exited(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// assertReleased checks, right after a command said the container id
// (address ip) has exited, that its record and the host agree: the
// record is final with the exit code want, no cgroup of it is left in
// any hierarchy, and no lease of its address in the network state.
func (m *md) assertReleased(when, ref, id, ip string, want int) {
	m.t.Helper()
	info := m.inspect(ref)
	if r, s, c := field(info, "State", "Running"), field(info, "State", "Status"), field(info, "State", "ExitCode"); r != false || s != "exited" || c != float64(want) {
		m.t.Errorf("right after %s: State.Running=%v Status=%v ExitCode=%v, want false, exited, %d", when, r, s, c, want)
	}
	for _, pattern := range []string{"/sys/fs/cgroup/minidocker/" + id, "/sys/fs/cgroup/*/minidocker/" + id} {
		if dirs, _ := filepath.Glob(pattern); len(dirs) > 0 {
			m.t.Errorf("right after %s: its cgroups are still there: %v", when, dirs)
		}
	}
	if ip == "" {
		m.t.Fatalf("the container had no address")
	}
	var link string
	m.inNetns(func() { link, _ = os.Readlink("/proc/thread-self/ns/net") })
	inode := strings.Trim(strings.TrimPrefix(link, "net:"), "[]")
	files, _ := filepath.Glob(filepath.Join("/run/minidocker", "net-"+inode, "*.json"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(`"`+ip+`"`)) {
			m.t.Errorf("right after %s: %s still leases %s:\n%s", when, f, ip, data)
		}
	}
}

// idAndIP reads a running container's id and address.
func (m *md) idAndIP(ref string) (string, string) {
	m.t.Helper()
	info := m.inspect(ref)
	return field(info, "Id").(string), field(info, "NetworkSettings", "IPAddress").(string)
}

// TestFinalWait checks wait: the exit code of a container that exits 3,
// of one killed (137), of several in order, of one that another process
// started and stops while wait blocks, and a missing container.
func TestFinalWait(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "three", "base", "sh", "-c", "sleep 0.3; exit 3")
	if out := m.must("wait", "three"); out != "3\n" {
		t.Errorf("wait of a container that exits 3 printed %q", out)
	}
	m.must("run", "-d", "--name", "killed", "base", "sleep", "1000")
	m.must("run", "-d", "--name", "zero", "base", "true")
	w := m.start("wait", "zero", "killed")
	// wait holds a waiters lock while it blocks: kill only then, so that
	// wait sees the end happen rather than read a record already final.
	waitFor(t, func() bool { return holdsFlock(w.cmd.Process.Pid) })
	m.must("kill", "killed")
	if r := w.finish(t); r.code != 0 || r.stdout != "0\n137\n" {
		t.Errorf("wait zero killed: exit %d, printed %q (stderr %q), want 0\\n137\\n", r.code, r.stdout, r.stderr)
	}
	// A container started by another process (run -d's monitor), stopped
	// by a third while wait blocks: wait watches the record, not a child.
	// The shell says when its trap is set; a SIGTERM before that would kill
	// it (PID 1 ignores it) and the stop would end in SIGKILL, 137.
	m.must("run", "-d", "--name", "other", "base", "sh", "-c", "trap 'exit 7' TERM; touch /tmp/trapped; while :; do sleep 0.1; done")
	waitFor(t, func() bool { return m.run("exec", "other", "cat", "/tmp/trapped").code == 0 })
	w = m.start("wait", "other")
	waitFor(t, func() bool { return holdsFlock(w.cmd.Process.Pid) })
	m.must("stop", "-t", "10", "other")
	if r := w.finish(t); r.code != 0 || r.stdout != "7\n" {
		t.Errorf("wait of a container stopped by another command: exit %d, printed %q (stderr %q), want 7", r.code, r.stdout, r.stderr)
	}
	if info := m.inspect("other"); field(info, "State", "Running") != false {
		t.Errorf("wait returned while the record says running")
	}
	// --rm: the monitor removes the record only once wait has read it.
	m.must("run", "-d", "--rm", "--name", "gone", "base", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 5")
	w = m.start("wait", "gone")
	waitFor(t, func() bool { return holdsFlock(w.cmd.Process.Pid) })
	m.must("exec", "gone", "touch", "/tmp/go")
	if r := w.finish(t); r.code != 0 || r.stdout != "5\n" {
		t.Errorf("wait of a --rm container: exit %d, printed %q (stderr %q), want 5", r.code, r.stdout, r.stderr)
	}
	waitFor(t, func() bool { return m.run("inspect", "gone").code != 0 }) // and it does go
	m.fails(1, "no such container: nosuch", "wait", "nosuch")
	if r := m.run("wait", "three", "nosuch"); r.code != 1 || r.stdout != "3\n" {
		t.Errorf("wait three nosuch: exit %d, printed %q; want 3, then exit 1", r.code, r.stdout)
	}
	m.fails(2, "requires at least 1 argument", "wait")
}

// holdsFlock reports whether process pid holds a flock(2) lock, as
// /proc/locks lists them ("1: FLOCK  ADVISORY  READ  PID MAJ:MIN:INODE 0 EOF").
func holdsFlock(pid int) bool {
	data, _ := os.ReadFile("/proc/locks")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[1] == "FLOCK" && f[4] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// TestFinalKillReleases checks that kill (SIGKILL) returns only once the
// container has exited: its record is final and its cgroup and network
// lease are gone, every time.
func TestFinalKillReleases(t *testing.T) {
	m := newMD(t)
	for i := 0; i < 3; i++ {
		name := "victim" + strconv.Itoa(i)
		m.must("run", "-d", "--name", name, "base", "sleep", "1000")
		id, ip := m.idAndIP(name)
		m.must("kill", name)
		m.assertReleased("kill", name, id, ip, 137)
	}
	// With --rm the record goes too; kill still succeeds, as Docker's.
	m.must("run", "-d", "--rm", "--name", "brief", "base", "sleep", "1000")
	if out := m.must("kill", "brief"); out != "brief\n" {
		t.Errorf("kill of a --rm container printed %q", out)
	}
	waitFor(t, func() bool { return m.run("inspect", "brief").code != 0 })
}

// TestFinalLogsFollowReleases checks that when logs -f ends the container
// has exited and released what it held.
func TestFinalLogsFollowReleases(t *testing.T) {
	m := newMD(t)
	for i := 0; i < 3; i++ {
		name := "ticker" + strconv.Itoa(i)
		m.must("run", "-d", "--name", name, "base", "sh", "-c", "echo one; sleep 0.3; echo two; exit 4")
		id, ip := m.idAndIP(name)
		if out := m.must("logs", "-f", name); out != "one\ntwo\n" {
			t.Errorf("logs -f printed %q", out)
		}
		m.assertReleased("logs -f", name, id, ip, 4)
	}
}

// TestFinalKilledMonitorStatus kills a container's monitor with SIGKILL.
// Once the kernel says the monitor is dead (a zombie counts: init may
// take its time to reap it), the very next inspect and ps must not show
// the container running; and a record repaired later dates the end by
// the monitor's last heartbeat, not by the repair.
func TestFinalKilledMonitorStatus(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "late", "base", "sleep", "1000")
	lateID, lateIP := m.idAndIP("late")
	monitor := int(field(m.inspect("late"), "Minidocker", "MonitorPid").(float64))
	killed := time.Now()
	if err := syscallKill(monitor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return exited(monitor) })
	dead := time.Now()
	time.Sleep(1500 * time.Millisecond) // the repair comes well after the death
	finished, err := time.Parse(time.RFC3339Nano, field(m.inspect("late"), "State", "FinishedAt").(string))
	if err != nil {
		t.Fatal(err)
	}
	if finished.After(dead) || finished.Before(killed.Add(-2*time.Second)) {
		t.Errorf("FinishedAt %v: want between %v (a heartbeat before the kill) and %v (the death was seen)", finished, killed.Add(-2*time.Second), dead)
	}
	m.assertReleased("the repair", "late", lateID, lateIP, 137)

	m.must("run", "-d", "--name", "now", "base", "sleep", "1000")
	nowID, nowIP := m.idAndIP("now")
	monitor = int(field(m.inspect("now"), "Minidocker", "MonitorPid").(float64))
	if err := syscallKill(monitor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return exited(monitor) })
	if s := field(m.inspect("now"), "State", "Status"); s != "exited" {
		t.Errorf("the first inspect after its monitor died says %v, want exited", s)
	}
	if ps := m.must("ps", "-a"); strings.Contains(ps, "Up ") {
		t.Errorf("ps -a after the monitors died:\n%s", ps)
	}
	m.assertReleased("the repair", "now", nowID, nowIP, 137)
}

// TestFinalExitedShowsNoPorts checks that ps and inspect show no published
// ports for a container that has exited, as Docker's do.
func TestFinalExitedShowsNoPorts(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "pub", "-p", "8080:80", "base", "sleep", "1000")
	if out := m.must("ps", "--format", "{{.Ports}}"); !strings.Contains(out, "8080->80/tcp") {
		t.Fatalf("ps of the running container shows ports %q", out)
	}
	m.must("stop", "-t", "0", "pub")
	if out := m.must("ps", "-a", "--format", "{{.Names}}:{{.Ports}}"); out != "pub:\n" {
		t.Errorf("ps -a of the exited container shows %q, want no ports", out)
	}
	if out := m.must("ps", "-a"); strings.Contains(out, "->") {
		t.Errorf("ps -a of the exited container:\n%s", out)
	}
	if p := field(m.inspect("pub"), "NetworkSettings", "Ports"); p != nil && len(p.(map[string]any)) > 0 {
		t.Errorf("inspect of the exited container: NetworkSettings.Ports = %v", p)
	}
}

// TestFinalStartMissing checks start's status for a missing container: 1,
// as docker start's, and docs/final.md says so.
func TestFinalStartMissing(t *testing.T) {
	m := newMD(t)
	m.fails(1, "no such container: nosuch", "start", "nosuch")
	doc, err := os.ReadFile(finalDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), "`start` exits 1 when a container cannot be started or does not exist") {
		t.Errorf("docs/final.md does not say what start exits with when a container cannot be started")
	}
}
