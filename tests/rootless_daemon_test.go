// The rootless daemon: minidocker daemon run by the test's unprivileged
// user (rootless_test.go), driven by the docker CLI and the Python SDK
// run as that user on $XDG_RUNTIME_DIR/minidocker.sock, as rootless
// Docker is on $XDG_RUNTIME_DIR/docker.sock. What the kernel shows is
// checked: the socket's owner and mode, the daemon's ids and user
// namespace, the containers' maps, exec in the container's namespace,
// bytes through a published port.

package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/tests/skip"
)

// rootlessDaemon is a daemon the test's user started, with its default
// socket.
type rootlessDaemon struct {
	m      *md
	u      *rootlessUser
	socket string
	proc   *background
}

// startRootlessDaemon starts minidocker daemon as the user, with no
// --host, in the test's network namespace, and waits until its socket
// answers.
func startRootlessDaemon(m *md, u *rootlessUser) *rootlessDaemon {
	m.t.Helper()
	d := &rootlessDaemon{m: m, u: u, socket: filepath.Join(u.runtime, "minidocker.sock"), proc: &background{}}
	d.proc.cmd = exec.Command(finalBinary, "daemon")
	d.proc.cmd.Stdout, d.proc.cmd.Stderr = &d.proc.stdout, &d.proc.stderr
	d.proc.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	u.command(d.proc.cmd)
	var err error
	m.inNetns(func() { err = d.proc.cmd.Start() })
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { _ = d.proc.cmd.Process.Kill(); _ = d.proc.cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.Dial("unix", d.socket)
		if err == nil {
			conn.Close()
			return d
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the rootless daemon does not answer on %s: %v\nstderr:\n%s", d.socket, err, d.proc.stderr.String())
		}
	}
}

// docker runs the docker CLI as the user, with DOCKER_HOST set to the
// daemon's socket.
func (d *rootlessDaemon) docker(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.u.command(cmd)
	cmd.Env = append(cmd.Env, "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+filepath.Join(d.u.home, ".docker"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, err := exitCode(cmd.Run())
	if err != nil || ctx.Err() != nil {
		t.Fatalf("docker %s: %v %v\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// must runs docker and fails the test unless it exits 0; its stdout.
func (d *rootlessDaemon) must(t *testing.T, args ...string) string {
	t.Helper()
	r := d.docker(t, args...)
	if r.code != 0 {
		t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// inside is the daemon's own process, in the user's namespaces: the
// child of the process the user started (internal/rootless).
func (d *rootlessDaemon) inside(t *testing.T) int {
	t.Helper()
	outside := d.proc.cmd.Process.Pid
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", outside, outside))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil {
		t.Fatalf("the daemon's process inside, child of %d: %q %v", outside, data, err)
	}
	return pid
}

// stop sends sig to the process the user started and checks that the
// daemon ends with 0 and leaves neither its socket nor its lock.
func (d *rootlessDaemon) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = d.proc.cmd.Process.Signal(sig)
	if r := d.proc.finish(t); r.code != 0 {
		t.Errorf("the rootless daemon ended with status %d after %v:\n%s", r.code, sig, r.stderr)
	}
	for _, path := range []string{d.socket, d.socket + ".lock"} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("the rootless daemon left %s behind (%v)", path, err)
		}
	}
}

// checkSocketAndDaemon checks the socket (the user's, mode 0600) and the
// daemon's process: the user's ids on the host, in a user namespace of
// its own, where it is root.
func (d *rootlessDaemon) checkSocketAndDaemon(t *testing.T) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(d.socket, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o7777 != 0o600 || int(st.Uid) != d.u.uid || int(st.Gid) != d.u.gid {
		t.Errorf("the socket is mode %o, owner %d:%d; want a socket, 0600, %d:%d", st.Mode, st.Uid, st.Gid, d.u.uid, d.u.gid)
	}
	pid := d.inside(t)
	for _, field := range []string{"Uid", "Gid"} {
		id := d.u.uid
		if field == "Gid" {
			id = d.u.gid
		}
		if want := strings.Repeat(strconv.Itoa(id)+"\t", 3) + strconv.Itoa(id); pidStatus(t, pid, field) != want {
			t.Errorf("the daemon's %s: %q, want the user's %q", field, pidStatus(t, pid, field), want)
		}
	}
	if fileInode(t, fmt.Sprintf("/proc/%d/ns/user", pid)) == fileInode(t, "/proc/self/ns/user") {
		t.Errorf("the daemon (pid %d) is in the host's user namespace", pid)
	}
	if uidMap := strings.Join(strings.Fields(mustRead(t, fmt.Sprintf("/proc/%d/uid_map", pid))), " "); uidMap != fmt.Sprintf("0 %d 1 1 %d %d", d.u.uid, d.u.subUID[0], d.u.subUID[1]) {
		t.Errorf("the daemon's uid_map: %q", uidMap)
	}
	return pid
}

// checkNoDaemonFiles checks that nothing of the daemon's reaches its
// container's processes (PID 1 and an exec'd sleep 999): not the socket
// on which the daemon asks the user's process outside to signal or to
// run commands (fd 4), nor that process's root directory (fd 6).
func checkNoDaemonFiles(t *testing.T, daemonPid, pid1 int) {
	t.Helper()
	secret := map[string]bool{}
	for _, fd := range []int{4, 6} {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", daemonPid, fd))
		if err != nil {
			t.Fatalf("the daemon's fd %d: %v", fd, err)
		}
		secret[link] = true
	}
	pidNS := fileInode(t, fmt.Sprintf("/proc/%d/ns/pid", pid1))
	var procs []int
	waitFor(t, func() bool {
		procs = nil
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			var st unix.Stat_t
			if err == nil && unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", p), &st) == nil && st.Ino == pidNS {
				procs = append(procs, p)
			}
		}
		return len(procs) >= 2
	})
	for _, p := range procs {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		for _, fd := range fds {
			if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p, fd.Name())); secret[link] {
				t.Errorf("the container's process %d has the daemon's %s as fd %s", p, link, fd.Name())
			}
		}
	}
}

// TestRootlessDaemon runs the daemon as the user, with the default
// socket, and drives it with the docker CLI as the user: version and info
// (which says rootless), run -d with a published port, ps, logs, exec (in
// the container's user namespace: the daemon's, and for a container the
// CLI started, the CLI's, through the user's process outside), kill,
// wait, stop, rm, images, an attached run; limits are refused without a
// delegated cgroup, as the CLI refuses them; the CLI and the daemon share
// the user's state. --group and a second daemon are refused. SIGINT to
// the process the user started stops the daemon, which removes its
// socket and lock; the containers, which their monitors own, keep
// running.
func TestRootlessDaemon(t *testing.T) {
	m, u := newRootlessMD(t)
	dockerCLI(t)
	userTun(t, u)
	sock := filepath.Join(u.runtime, "minidocker.sock")
	m.fails(2, `--group "tty": rootless, the socket is yours alone`, "daemon", "--group", "tty")
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("a refused daemon left %s (%v)", sock, err)
	}
	d := startRootlessDaemon(m, u)
	daemonPid := d.checkSocketAndDaemon(t)
	m.fails(1, "another daemon is listening there", "daemon") // one owner per socket
	if v := d.must(t, "version", "--format", "{{.Server.Version}}"); strings.TrimSpace(v) == "" {
		t.Errorf("docker version: no server version")
	}
	if sec := d.must(t, "info", "--format", "{{json .SecurityOptions}}"); !strings.Contains(sec, `"name=rootless"`) {
		t.Errorf("docker info's security options: %s; want name=rootless", sec)
	}

	id := strings.TrimSpace(d.must(t, "run", "-d", "--name", "web", "-p", "127.0.0.1:18081:8080", "-v", helperVolume(t), "base", "/helper", "serve", "8080"))
	waitFor(t, func() bool { return strings.Contains(d.docker(t, "logs", "web").stdout, "listening") })
	if ps := d.must(t, "ps"); !strings.Contains(ps, "127.0.0.1:18081->8080/tcp") || !strings.Contains(ps, "web") {
		t.Errorf("docker ps:\n%s", ps)
	}
	var got string
	var err error
	m.inNetns(func() { got, err = dialLine("127.0.0.1:18081") })
	if want := "hello from " + id[:12]; err != nil || got != want {
		t.Errorf("through the published port: %q, %v; want %q", got, err, want)
	}
	pid := rootlessPid(m, id) // the CLI, as the user, finds the daemon's container
	if uidMap := strings.Join(strings.Fields(mustRead(t, fmt.Sprintf("/proc/%d/uid_map", pid))), " "); uidMap != fmt.Sprintf("0 %d 1 1 %d %d", u.uid, u.subUID[0], u.subUID[1]) {
		t.Errorf("the container's uid_map: %q", uidMap)
	}
	userNS := fmt.Sprintf("user:[%d]", fileInode(t, fmt.Sprintf("/proc/%d/ns/user", pid)))
	if fileInode(t, fmt.Sprintf("/proc/%d/ns/user", daemonPid)) != fileInode(t, fmt.Sprintf("/proc/%d/ns/user", pid)) {
		t.Errorf("the daemon's container is not in the daemon's user namespace")
	}
	if out := d.must(t, "exec", "web", "readlink", "/proc/self/ns/user"); strings.TrimSpace(out) != userNS {
		t.Errorf("docker exec runs in %q, the container's user namespace is %s", out, userNS)
	}
	d.must(t, "exec", "-d", "web", "sleep", "999")
	checkNoDaemonFiles(t, daemonPid, pid)
	if out := d.must(t, "exec", "-u", "1000", "web", "id", "-u"); strings.TrimSpace(out) != "1000" {
		t.Errorf("docker exec -u 1000: %q", out)
	}
	d.must(t, "kill", "web")
	waitForDeath(t, pid)
	if code := d.must(t, "wait", "web"); strings.TrimSpace(code) != "137" {
		t.Errorf("docker wait after kill: %q, want 137", code)
	}
	d.must(t, "rm", "web")

	// Started by the CLI, in a sibling user namespace: the daemon lists
	// it, execs in it through the user's process outside, and stops it.
	m.must("run", "-d", "--name", "cli", "--network", "none", "--user", "1000", "base", "sleep", "1000")
	if names := d.must(t, "ps", "--format", "{{.Names}}"); strings.TrimSpace(names) != "cli" {
		t.Errorf("docker ps does not list the CLI's container: %q", names)
	}
	cliPid := rootlessPid(m, "cli")
	cliNS := fileInode(t, fmt.Sprintf("/proc/%d/ns/user", cliPid))
	if cliNS == fileInode(t, fmt.Sprintf("/proc/%d/ns/user", daemonPid)) {
		t.Errorf("the CLI's container is in the daemon's user namespace")
	}
	if r := d.docker(t, "exec", "-u", "0", "-e", "X=y", "cli", "sh", "-c", "readlink /proc/self/ns/user; echo $X; exit 3"); r.code != 3 || r.stdout != fmt.Sprintf("user:[%d]\ny\n", cliNS) {
		t.Errorf("docker exec into the CLI's container: exit %d, %q %q; want 3 and its user namespace user:[%d]", r.code, r.stdout, r.stderr, cliNS)
	}
	d.must(t, "stop", "-t", "1", "cli")
	d.must(t, "rm", "cli")
	if images := d.must(t, "images", "--format", "{{.Repository}}"); !strings.Contains(images, "base") {
		t.Errorf("docker images: %q", images)
	}
	if out := d.must(t, "run", "--rm", "--network", "none", "base", "sh", "-c", "echo attached; cat /proc/self/uid_map"); !strings.HasPrefix(out, "attached\n") {
		t.Errorf("docker run, attached: %q", out)
	}
	// The docker CLI exits 125 for a daemon's refusal, but 127 when its
	// text says "no such file or directory", as the v2 one does.
	if r := d.docker(t, "run", "--rm", "--network", "none", "-m", "64m", "base", "true"); r.code == 0 || !strings.Contains(r.stderr, "rootless: limits need a cgroup of yours") {
		t.Errorf("docker run -m without a delegated cgroup: exit %d, %q; want the rootless refusal", r.code, r.stderr)
	}
	if ps := d.must(t, "ps", "-aq"); ps != "" {
		t.Errorf("a refused run left containers: %q", ps)
	}

	d.must(t, "run", "-d", "--name", "survivor", "--network", "none", "base", "sleep", "1000")
	pid = rootlessPid(m, "survivor")
	d.stop(t, syscall.SIGINT)
	if !processAlive(pid) {
		t.Errorf("the daemon's container (pid %d) ended with the daemon", pid)
	}
	if st := strings.TrimSpace(m.must("inspect", "-f", "{{.State.Status}}", "survivor")); st != "running" {
		t.Errorf("after the daemon: %s", st)
	}
	m.must("rm", "-f", "survivor")
	waitForDeath(t, pid)
}

// sdkScript drives the rootless daemon with the Python SDK: info says
// rootless; run detached, logs, exec_run, stop, wait, remove.
const sdkScript = `
import sys
import docker

client = docker.DockerClient(base_url=sys.argv[1], version="auto")
assert client.ping()
assert "name=rootless" in client.info()["SecurityOptions"], client.info()["SecurityOptions"]
ctr = client.containers.run("base", ["sh", "-c", "echo up; exec sleep 1000"], detach=True, name="sdk", network_mode="none")
seen = b""
for chunk in ctr.logs(stream=True, follow=True):
    seen += chunk
    if b"up" in seen:
        break
r = ctr.exec_run(["sh", "-c", "readlink /proc/self/ns/user; exit 3"])
assert r.exit_code == 3, r
print(r.output.decode().strip())
r = client.containers.get("cli").exec_run(["readlink", "/proc/self/ns/user"])
assert r.exit_code == 0, r
print(r.output.decode().strip())
ctr.stop(timeout=0)
assert ctr.wait()["StatusCode"] == 137
ctr.remove()
print("sdk: ok")
`

// TestRootlessDaemonSDK drives the rootless daemon with the Python SDK:
// its exec is in the daemon's user namespace for the daemon's container,
// in the CLI's for the CLI's; SIGTERM stops the daemon cleanly. The SDK runs as root here (the user may not read root's
// Python); the socket is the user's, and root may connect to it.
func TestRootlessDaemonSDK(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the test VM has no Python: the SDK script runs on the machines that build this project")
	}
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		skip.Because(t, "needs python3 with the docker SDK 7.x: pip install docker")
	}
	m, u := newRootlessMD(t)
	d := startRootlessDaemon(m, u)
	daemonPid := d.checkSocketAndDaemon(t)
	m.must("run", "-d", "--name", "cli", "--network", "none", "base", "sleep", "1000")
	cliNS := fileInode(t, fmt.Sprintf("/proc/%d/ns/user", rootlessPid(m, "cli")))
	out, err := exec.Command("python3", "-c", sdkScript, "unix://"+d.socket).CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "sdk: ok\n") {
		t.Fatalf("the SDK script failed: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("user:[%d]\nuser:[%d]\n", fileInode(t, fmt.Sprintf("/proc/%d/ns/user", daemonPid)), cliNS); !strings.HasPrefix(string(out), want) {
		t.Errorf("the SDK's execs ran in %q, want the daemon's and the CLI container's user namespaces %q", out, want)
	}
	d.stop(t, syscall.SIGTERM)
	m.must("rm", "-f", "cli")
}

// TestRootlessDaemonLimits runs the daemon in a cgroup subtree delegated
// to the user (cgroup v2, as systemd delegates one): docker run's limits
// land in the container's cgroup there, as the rootless CLI puts them.
// On cgroup v1 limits are refused (TestRootlessDaemon).
func TestRootlessDaemonLimits(t *testing.T) {
	m, u := newRootlessMD(t)
	if !cgroupV2() {
		t.Skip("cgroup v1 cannot be delegated to a user: TestRootlessDaemon checks the refusal")
	}
	dockerCLI(t)
	dir := delegate(t, u)
	d := startRootlessDaemon(m, u)
	id := strings.TrimSpace(d.must(t, "run", "-d", "--network", "none", "--memory", "64m", "--pids-limit", "20", "base", "sleep", "1000"))
	leaf := filepath.Join(dir, id)
	for file, want := range map[string]string{"memory.max": "67108864", "pids.max": "20"} {
		if got := strings.TrimSpace(mustRead(t, filepath.Join(leaf, file))); got != want {
			t.Errorf("%s/%s is %q, want %q", leaf, file, got, want)
		}
	}
	pid := rootlessPid(m, id)
	if procs := mustRead(t, filepath.Join(leaf, "cgroup.procs")); !strings.Contains("\n"+procs, fmt.Sprintf("\n%d\n", pid)) {
		t.Errorf("the container's pid %d is not in %s/cgroup.procs: %q", pid, leaf, procs)
	}
	d.must(t, "rm", "-f", id)
	if _, err := os.Stat(leaf); !os.IsNotExist(err) {
		t.Errorf("docker rm -f left the cgroup %s (%v)", leaf, err)
	}
	d.stop(t, syscall.SIGTERM)
}

// TestRootlessDaemonTerminal runs docker run -it and exec -it through
// the rootless daemon, each on a terminal of its own: the container's
// terminal has the client's size, input reaches the shell, Ctrl-C
// interrupts its foreground command, and the exit statuses come back;
// exec -it into a container the CLI started too.
func TestRootlessDaemonTerminal(t *testing.T) {
	m, u := newRootlessMD(t)
	dockerCLI(t)
	d := startRootlessDaemon(m, u)
	m.must("run", "--rm", "--network", "none", "base", "true") // make base first: its message would go to the terminal
	term := d.startOnTerminal(t, "run", "-it", "--rm", "--name", "tty1", "--network", "none", "base", "sh")
	sleeping := func() bool { return strings.Contains(m.run("top", "tty1").stdout, "sleep 100") }
	term.step(t, "stty size\n", term.shows("33 111"))
	term.step(t, "sleep 100\n", sleeping)
	term.step(t, "\x03", func() bool { return !sleeping() })
	term.step(t, "echo alive-$((6*7))\n", term.shows("alive-42"))
	exec := d.startOnTerminal(t, "exec", "-it", "tty1", "sh")
	exec.step(t, "stty size; echo in-$((2*3))\n", exec.shows("in-6"))
	exec.step(t, "exit 4\n", nil)
	if code := exec.wait(t); code != 4 {
		t.Errorf("docker exec -it sh then exit 4: status %d\nscreen:\n%s", code, exec.screen.String())
	}
	// Into a container the CLI started: through the user's process outside.
	m.must("run", "-d", "--name", "cli", "--network", "none", "base", "sleep", "1000")
	exec = d.startOnTerminal(t, "exec", "-it", "cli", "sh")
	exec.step(t, "stty size; readlink /proc/self/fd/0; echo in-$((3*3))\n", exec.shows("in-9"))
	exec.step(t, "exit 6\n", nil)
	if code := exec.wait(t); code != 6 || !strings.Contains(exec.screen.String(), "33 111") || !strings.Contains(exec.screen.String(), "/dev/pts/") {
		t.Errorf("docker exec -it into the CLI's container, then exit 6: status %d\nscreen:\n%s", code, exec.screen.String())
	}
	m.must("rm", "-f", "cli")
	term.step(t, "exit 5\n", nil)
	if code := term.wait(t); code != 5 {
		t.Errorf("docker run -it sh then exit 5: status %d\nscreen:\n%s", code, term.screen.String())
	}
	d.stop(t, syscall.SIGTERM)
}

// startOnTerminal runs docker as the user, with args, on a new 33x111
// terminal, as its controlling terminal.
func (d *rootlessDaemon) startOnTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	master, slave := openTestPty(t, 33, 111)
	t.Cleanup(func() { master.Close() })
	cmd := exec.Command(dockerCLI(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	d.u.command(cmd)
	cmd.Env = append(cmd.Env, "DOCKER_HOST=unix://"+d.socket, "DOCKER_CONFIG="+filepath.Join(d.u.home, ".docker"), "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	term := &terminal{cmd: cmd, master: master, screen: &lockedBuffer{}}
	go func() { _, _ = io.Copy(term.screen, master) }()
	return term
}
