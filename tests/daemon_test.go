// minidocker daemon: the Docker Engine API on a unix socket, driven by
// clients nobody here wrote (the docker CLI, the Python SDK) and by raw
// HTTP for what no client sends; what they do is checked on the host.

package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/tests/skip"
)

// daemon is a minidocker daemon a test started, on a socket in its state root.
type daemon struct {
	m      *md
	socket string
	proc   *background
}

// startDaemon starts the daemon in the test's network namespace and
// waits until its socket answers.
func (m *md) startDaemon() *daemon {
	m.t.Helper()
	d := &daemon{m: m, socket: filepath.Join(m.root, "api.sock")}
	d.proc = m.start("daemon", "--host", "unix://"+d.socket)
	waitFor(m.t, func() bool {
		conn, err := net.Dial("unix", d.socket)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return d
}

// stop sends SIGTERM to the daemon (by its pid) and checks that it ends
// cleanly and removes its socket and the socket's lock file.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.proc.cmd.Process.Signal(syscall.SIGTERM)
	if r := d.proc.finish(t); r.code != 0 {
		t.Errorf("the daemon ended with status %d after SIGTERM:\n%s", r.code, r.stderr)
	}
	for _, path := range []string{d.socket, d.socket + ".lock"} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("the daemon left %s behind (%v)", path, err)
		}
	}
}

// dockerCLI is the docker client (docker 25 or later: API 1.44), or a
// skip (a failure under MINIDOCKER_STRICT, except in the test VM, which
// has it only when the host's is a static binary).
func dockerCLI(t *testing.T) string {
	t.Helper()
	return needProgram(t, "docker", "docker.io")
}

// docker runs the docker CLI against the daemon, with input on stdin.
func (d *daemon) docker(t *testing.T, input string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI(t), append([]string{"-H", "unix://" + d.socket}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + d.m.root, "DOCKER_CONFIG=" + filepath.Join(d.m.root, "docker-config")}
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, err := exitCode(cmd.Run())
	if err != nil || ctx.Err() != nil {
		t.Fatalf("docker %s: %v %v\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustDocker runs docker and fails the test unless it exits 0; its stdout.
func (d *daemon) mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	r := d.docker(t, "", args...)
	if r.code != 0 {
		t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// cgroupFile reads a file of container id's cgroup, on v1 (in the
// controller's hierarchy) or v2.
func cgroupFile(id, controller, v1, v2 string) string {
	path := filepath.Join("/sys/fs/cgroup", controller, "minidocker", id, v1)
	if hostCgroupV2() {
		path = filepath.Join("/sys/fs/cgroup/minidocker", id, v2)
	}
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// TestDaemonDockerCLI drives the daemon with the docker CLI: every verb
// the issue lists that a daemon without stdin forwarding serves, each
// checked where the kernel or the CLI's own records show it.
func TestDaemonDockerCLI(t *testing.T) {
	m := newMD(t)
	dockerCLI(t)
	d := m.startDaemon()
	if out := d.mustDocker(t, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}"); out != "1.50 1.44\n" {
		t.Errorf("docker version: server API %q, want 1.50 1.44", out)
	}
	if out := d.mustDocker(t, "info", "--format", "{{.Driver}} {{.OSType}}"); out != "overlay2 linux\n" {
		t.Errorf("docker info: %q", out)
	}
	for _, sub := range []struct {
		name string
		run  func(t *testing.T, m *md, d *daemon)
	}{
		{"run --rm", cliRunRemove},
		{"run -i", cliRunStdin},
		{"run -d, exec, top, stats, logs, stop, wait, rm", cliDetached},
		{"one state, two doors", cliTwoDoors},
		{"statuses", cliStatuses},
		{"images", cliImages},
		{"commit, export, save, load", cliArchives},
	} {
		t.Run(sub.name, func(t *testing.T) { sub.run(t, m.on(t), d) })
	}
	d.stop(t)
}

// cliRunRemove is docker run --rm: attach, wait(condition=removed) and start.
// The output arrives framed into stdout and stderr, the status is the
// container's, and --rm (HostConfig.AutoRemove) is the daemon's to honour.
func cliRunRemove(t *testing.T, m *md, d *daemon) {
	r := d.docker(t, "", "run", "--rm", "--network", "none", "base", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("docker run --rm: exit %d, stdout %q, stderr %q; want 3, out, err", r.code, r.stdout, r.stderr)
	}
	if out := m.must("ps", "-a", "-q"); out != "" {
		t.Errorf("docker run --rm left containers: %q", out)
	}
}

// cliRunStdin is docker run -i with input on stdin.
// Stdin goes through the monitor's attach socket; StdinOnce (run -i)
// closes the container's stdin at the end of the client's.
func cliRunStdin(t *testing.T, m *md, d *daemon) {
	r := d.docker(t, "a\nb\n", "run", "--rm", "-i", "--network", "none", "base", "sh", "-c", "cat; echo done")
	if r.code != 0 || r.stdout != "a\nb\ndone\n" {
		t.Errorf("docker run -i: exit %d, stdout %q, stderr %q; want a, b, done", r.code, r.stdout, r.stderr)
	}
}

// cliDetached is run -d and what follows it, checked on the host.
func cliDetached(t *testing.T, m *md, d *daemon) {
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "d1", "--network", "none", "-m", "64m",
		"base", "sh", "-c", "echo one; echo two; echo three >&2; exec sleep 1000"))
	pid := m.containerPid("d1") // the CLI reads the record the daemon made
	if ns := procStatusField(pid, "NSpid"); !strings.HasSuffix(ns, "\t1") {
		t.Errorf("the container's process is not PID 1 of its own pid namespace: NSpid %q", ns)
	}
	if got := cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max"); got != "67108864" {
		t.Errorf("the container's memory limit in its cgroup is %q, want 67108864", got)
	}
	r := d.docker(t, "", "exec", "d1", "sh", "-c", "echo in; echo $$ >/dev/null; exit 5")
	if r.code != 5 || r.stdout != "in\n" {
		t.Errorf("docker exec: exit %d, stdout %q, want 5 and in", r.code, r.stdout)
	}
	if r := d.docker(t, "", "exec", "d1", "nosuch"); r.code != 127 || !strings.Contains(r.stderr, "executable file not found") {
		t.Errorf("docker exec of a missing command: exit %d, stderr %q, want 127", r.code, r.stderr)
	}
	if out := d.mustDocker(t, "top", "d1"); !strings.Contains(out, "sleep 1000") || !strings.Contains(out, strconv.Itoa(pid)) {
		t.Errorf("docker top does not list the container's process %d:\n%s", pid, out)
	}
	if out := d.mustDocker(t, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "d1"); !strings.HasPrefix(out, "d1 ") || !strings.Contains(out, "64MiB") {
		t.Errorf("docker stats --no-stream: %q", out)
	}
	waitFor(t, func() bool { return strings.Contains(m.run("logs", "d1").stderr, "three") })
	if r := d.docker(t, "", "logs", "d1"); r.stdout != "one\ntwo\n" || r.stderr != "three\n" {
		t.Errorf("docker logs: stdout %q, stderr %q; want each stream on its own", r.stdout, r.stderr)
	}
	if r := d.docker(t, "", "logs", "--tail", "1", "d1"); strings.Count(r.stdout+r.stderr, "\n") != 1 {
		t.Errorf("docker logs --tail 1: stdout %q, stderr %q; want one line", r.stdout, r.stderr)
	}
	if out := d.mustDocker(t, "logs", "-t", "d1"); !strings.Contains(out, "Z one\n") {
		t.Errorf("docker logs -t: %q", out)
	}
	d.mustDocker(t, "stop", "-t", "0", "d1")
	if out := d.mustDocker(t, "wait", "d1"); out != "137\n" {
		t.Errorf("docker wait after stop -t 0: %q, want 137", out)
	}
	if !exited(pid) {
		t.Errorf("the container's process %d outlived stop", pid)
	}
	d.mustDocker(t, "rm", "d1")
	if found := traces(m.root, id); len(found) > 0 {
		t.Errorf("docker rm left %v", found)
	}
}

// cliTwoDoors checks that the CLI and the daemon see each other's containers.
func cliTwoDoors(t *testing.T, m *md, d *daemon) {
	m.must("run", "-d", "--name", "fromcli", "--network", "none", "base", "sleep", "1000")
	if out := d.mustDocker(t, "ps", "--format", "{{.Names}} {{.State}}"); out != "fromcli running\n" {
		t.Errorf("docker ps does not show the CLI's container: %q", out)
	}
	d.mustDocker(t, "create", "--name", "fromapi", "--network", "none", "base", "true")
	if out := m.must("ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(out, "fromapi Created") {
		t.Errorf("minidocker ps -a does not show the daemon's container: %q", out)
	}
	if r := d.docker(t, "", "rm", "fromcli"); r.code != 1 || !strings.Contains(r.stderr, "is running") {
		t.Errorf("docker rm of a running container: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := d.mustDocker(t, "ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"); out != "fromapi\n" {
		t.Errorf("docker ps -a --filter status=created: %q", out)
	}
	if r := d.docker(t, "", "ps", "--filter", "nosuch=1"); r.code != 1 || !strings.Contains(r.stderr, "invalid filter 'nosuch'") {
		t.Errorf("docker ps --filter nosuch=1: exit %d, %q", r.code, r.stderr)
	}
	d.mustDocker(t, "kill", "-s", "KILL", "fromcli")
	d.mustDocker(t, "start", "fromapi")
	if out := m.must("wait", "fromapi"); out != "0\n" {
		t.Errorf("wait of the daemon's container: %q", out)
	}
	d.mustDocker(t, "restart", "-t", "0", "fromcli")
	if out := d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.Name}}", "fromcli"); out != "running /fromcli\n" {
		t.Errorf("after restart: %q", out)
	}
	d.mustDocker(t, "rm", "-f", "fromcli", "fromapi")
	if out := m.must("ps", "-a", "-q"); out != "" {
		t.Errorf("docker rm -f left %q", out)
	}
}

// cliStatuses checks docker's exit statuses for minidocker's errors.
func cliStatuses(t *testing.T, m *md, d *daemon) {
	if r := d.docker(t, "", "run", "--network", "none", "--rm", "base", "nosuch"); r.code != 127 {
		t.Errorf("docker run of a missing command: exit %d (%q), want 127", r.code, r.stderr)
	}
	if r := d.docker(t, "", "run", "--network", "none", "--name", "bad/name", "base", "true"); r.code != 125 || !strings.Contains(r.stderr, "Invalid container name") {
		t.Errorf("docker run --name bad/name: exit %d (%q), want 125", r.code, r.stderr)
	}
	if r := d.docker(t, "", "run", "--network", "none", "--rm", "base", "/etc/passwd"); r.code != 126 {
		t.Errorf("docker run of a file that cannot be executed: exit %d (%q), want 126", r.code, r.stderr)
	}
	if r := d.docker(t, "", "inspect", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "No such object") {
		t.Errorf("docker inspect nosuch: exit %d (%q)", r.code, r.stderr)
	}
	if r := d.docker(t, "", "run", "--network", "none", "nosuch.invalid/x"); r.code != 125 {
		t.Errorf("docker run of an image that cannot be pulled: exit %d (%q), want 125", r.code, r.stderr)
	}
}

// cliImages is tag, images, image inspect, history, rmi and system df.
func cliImages(t *testing.T, m *md, d *daemon) {
	d.mustDocker(t, "tag", "base", "mine:1")
	if out := d.mustDocker(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "mine:1\n") {
		t.Errorf("docker images after tag: %q", out)
	}
	if out := m.must("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "mine:1") {
		t.Errorf("minidocker images after docker tag: %q", out)
	}
	if out := d.mustDocker(t, "image", "inspect", "-f", "{{.Os}}", "mine:1"); out != "linux\n" {
		t.Errorf("docker image inspect: %q", out)
	}
	if out := d.mustDocker(t, "history", "mine:1"); !strings.Contains(out, "created from the host") {
		t.Errorf("docker history: %q", out)
	}
	if out := d.mustDocker(t, "rmi", "mine:1"); out != "Untagged: mine:1\n" {
		t.Errorf("docker rmi: %q", out)
	}
	if out := d.mustDocker(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}}"); !strings.Contains(out, "Images 1") {
		t.Errorf("docker system df: %q", out)
	}
}

// cliArchives is commit, export, save and load, round trip.
func cliArchives(t *testing.T, m *md, d *daemon) {
	dir := t.TempDir()
	d.mustDocker(t, "run", "--name", "ex", "--network", "none", "base", "sh", "-c", "echo hi > /exported")
	d.mustDocker(t, "commit", "ex", "exported:v1")
	d.mustDocker(t, "export", "-o", filepath.Join(dir, "fs.tar"), "ex")
	if got := fileInTar(t, filepath.Join(dir, "fs.tar"), "exported"); got != "hi\n" {
		t.Errorf("docker export: /exported in the tar is %q", got)
	}
	d.mustDocker(t, "save", "-o", filepath.Join(dir, "img.tar"), "exported:v1")
	d.mustDocker(t, "rm", "ex")
	d.mustDocker(t, "rmi", "exported:v1")
	if out := d.mustDocker(t, "load", "-i", filepath.Join(dir, "img.tar")); out != "Loaded image: exported:v1\n" {
		t.Errorf("docker load: %q", out)
	}
	if r := d.docker(t, "", "run", "--rm", "--network", "none", "exported:v1", "cat", "/exported"); r.stdout != "hi\n" {
		t.Errorf("a run of the loaded commit: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	d.mustDocker(t, "rmi", "exported:v1")
}

// TestDaemonSDK runs tests/testdata/daemon_sdk.py, which drives the
// daemon with the Python docker SDK (containers.run collecting output,
// list, logs(stream=True), images.list, exec_run, commit); the SDK's
// containers are then checked here.
func TestDaemonSDK(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the test VM has no Python: the SDK script runs on the machines that build this project")
	}
	m := newMD(t)
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		skip.Because(t, "needs python3 with the docker SDK 7.x: pip install docker")
	}
	d := m.startDaemon()
	cmd := exec.Command("python3", "testdata/daemon_sdk.py", "unix://"+d.socket)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "sdk: ok\n") {
		t.Fatalf("the SDK script failed: %v\n%s", err, out)
	}
	if images := m.must("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(images, "sdk-commit:v1") {
		t.Errorf("the SDK's commit is not in the store: %q", images)
	}
	if list := m.must("ps", "-a", "-q"); list != "" {
		t.Errorf("the SDK's containers were not all removed: %q", list)
	}
	d.stop(t)
}

// apiCall is one raw request to the daemon's socket.
func (d *daemon) apiCall(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}, Timeout: time.Minute}
	req, _ := http.NewRequest(method, "http://daemon"+path, strings.NewReader(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestDaemonHostileInput sends what a broken or hostile client sends:
// each gets a JSON error with Docker's status, nothing is made, and the
// daemon keeps serving, also 50 clients at once.
func TestDaemonHostileInput(t *testing.T) {
	m := newMD(t)
	d := m.startDaemon()
	huge := `{"Image":"base","Cmd":["` + strings.Repeat("x", 2<<20) + `"]}`
	for _, c := range []struct {
		method, path, body string
		status             int
		message            string
	}{
		{"GET", "/v1.30/version", "", 400, "client version 1.30 is too old. Minimum supported API version is 1.44"},
		{"GET", "/v1.99/containers/json", "", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"},
		{"GET", "/v1.44/nosuch", "", 404, "page not found"},
		{"PUT", "/_ping", "", 404, "page not found"},
		{"POST", "/v1.44/containers/create", `{"Image": "base",`, 400, "invalid JSON"},
		{"POST", "/v1.44/containers/create", `{"Image": "base", "Cmd": 7}`, 400, "invalid JSON"},
		{"POST", "/v1.44/containers/create", `{"Image": "base", "HostConfig": {"Memory": "lots"}}`, 400, "invalid JSON"},
		{"POST", "/v1.44/containers/create", huge, 413, "too large"},
		{"POST", "/v1.44/containers/create", `{}`, 400, "no image given"},
		{"POST", "/v1.44/containers/create?name=a/b", `{"Image":"base","Cmd":["true"]}`, 400, "Invalid container name"},
		{"POST", "/v1.44/containers/create", `{"Image":"nosuch","Cmd":["true"]}`, 404, "No such image: nosuch"},
		{"POST", "/v1.44/containers/create", `{"Image":"base","Cmd":["true"],"HostConfig":{"Binds":["relative:/x"]}}`, 400, "invalid -v"},
		{"POST", "/v1.44/containers/nosuch/start", "", 404, "no such container: nosuch"},
		{"DELETE", "/v1.44/containers/..%2f..%2fetc", "", 404, ""}, // cleaned to /etc: no such endpoint
		{"POST", "/v1.44/containers/nosuch/kill?signal=NOPE", "", 400, "invalid signal"},
		{"POST", "/v1.44/containers/nosuch/wait?condition=never", "", 400, "invalid condition"},
		{"GET", "/v1.44/containers/nosuch/logs", "", 400, "choose at least one stream"},
		{"GET", "/v1.44/images/..%2f..%2fetc%2fpasswd/json", "", 404, ""},
		{"POST", "/v1.44/exec/nosuch/start", "{}", 404, "no such exec instance"},
	} {
		status, body := d.apiCall(t, c.method, c.path, c.body)
		var msg struct{ Message string }
		if status != c.status || json.Unmarshal([]byte(body), &msg) != nil || !strings.Contains(msg.Message, c.message) {
			t.Errorf("%s %s: %d %q, want %d and a JSON message containing %q", c.method, c.path, status, clip(body), c.status, c.message)
		}
	}
	if out := m.must("ps", "-a", "-q"); out != "" {
		t.Errorf("refused requests made containers: %q", out)
	}
	// A client that leaves in the middle of an attach.
	id := strings.TrimSpace(m.must("run", "-d", "--network", "none", "base", "sh", "-c", "while :; do echo tick; sleep 0.05; done"))
	conn, err := net.Dial("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1.50/containers/%s/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", id)
	br := bufio.NewReader(conn)
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Errorf("attach answered %q, want 101 UPGRADED", line)
	}
	conn.Close()
	// Fifty clients at once.
	var wg sync.WaitGroup
	statuses := make(chan int, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := d.apiCall(t, "GET", "/v1.44/containers/json?all=1", "")
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("one of 50 concurrent clients got %d", s)
		}
	}
	// Twenty creates of one name at once: one container, nineteen 409s.
	created := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := d.apiCall(t, "POST", "/v1.50/containers/create?name=same", `{"Image":"base","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}`)
			created <- status
		}()
	}
	wg.Wait()
	close(created)
	count := map[int]int{}
	for s := range created {
		count[s]++
	}
	if count[201] != 1 || count[409] != 19 {
		t.Errorf("20 concurrent creates of one name: statuses %v, want one 201 and nineteen 409", count)
	}
	if out := m.must("ps", "-a", "--format", "{{.Names}}"); strings.Count(out, "same\n") != 1 {
		t.Errorf("after 20 concurrent creates of one name, ps -a shows %q", out)
	}
	m.must("rm", "same")
	if status, body := d.apiCall(t, "GET", "/_ping", ""); status != 200 || body != "OK" {
		t.Errorf("after all that, /_ping answers %d %q", status, body)
	}
	m.must("rm", "-f", id)
	d.stop(t)
}

// clip shortens a body for an error message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestDaemonInteractiveTerminal drives docker run -it through a
// pseudo-terminal, as a user at a terminal would: the container's shell
// sees the window size, and a new size when the terminal is resized;
// Ctrl-C interrupts the container's foreground command; the shell's exit
// status is docker's.
func TestDaemonInteractiveTerminal(t *testing.T) {
	m := newMD(t)
	d := m.startDaemon()
	m.must("run", "--rm", "--network", "none", "base", "true") // make base first: its message would go to the terminal
	term := d.startOnTerminal(t, "run", "-it", "--rm", "--name", "tty1", "--network", "none", "base", "sh")
	sleeping := func() bool { return strings.Contains(m.run("top", "tty1").stdout, "sleep 100") }
	term.step(t, "stty size\n", term.shows("33 111"))
	term.step(t, "sleep 100\n", sleeping)
	term.step(t, "\x03", func() bool { return !sleeping() })
	term.step(t, "echo alive-$((6*7))\n", term.shows("alive-42"))
	// A resize of the user's terminal: docker gets SIGWINCH and sends
	// POST /containers/{id}/resize; the container's terminal follows.
	if err := unix.IoctlSetWinsize(int(term.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, _ = term.master.Write([]byte("stty size\n"))
		return waitShort(term.shows("40 120"))
	})
	// docker exec -it into the same container, from a terminal of its own.
	exec := d.startOnTerminal(t, "exec", "-it", "tty1", "sh")
	exec.step(t, "stty size; tty\n", exec.shows("33 111"))
	exec.step(t, "exit 4\n", nil)
	if code := exec.wait(t); code != 4 {
		t.Errorf("docker exec -it sh then exit 4: status %d\nscreen:\n%s", code, exec.screen.String())
	}
	term.step(t, "exit 5\n", nil)
	if code := term.wait(t); code != 5 {
		t.Errorf("docker run -it sh then exit 5: status %d\nscreen:\n%s", code, term.screen.String())
	}
	d.stop(t)
}

// terminal is a docker command running on a pseudo-terminal of its own.
type terminal struct {
	cmd    *exec.Cmd
	master *os.File
	screen *lockedBuffer
}

// startOnTerminal runs docker with args on a new 33x111 terminal, as
// its controlling terminal.
func (d *daemon) startOnTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	master, slave := openTestPty(t, 33, 111)
	t.Cleanup(func() { master.Close() })
	cmd := exec.Command(dockerCLI(t), append([]string{"-H", "unix://" + d.socket}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + d.m.root, "DOCKER_CONFIG=" + filepath.Join(d.m.root, "docker-config"), "TERM=dumb"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	term := &terminal{cmd: cmd, master: master, screen: &lockedBuffer{}}
	go func() { _, _ = io.Copy(term.screen, master) }()
	return term
}

// shows is a condition: the screen shows s.
func (term *terminal) shows(s string) func() bool {
	return func() bool { return strings.Contains(term.screen.String(), s) }
}

// step types input, then waits until done (if not nil).
func (term *terminal) step(t *testing.T, input string, done func() bool) {
	t.Helper()
	if _, err := term.master.Write([]byte(input)); err != nil {
		t.Fatal(err)
	}
	if done != nil {
		waitFor(t, done)
	}
}

// wait waits (up to 30 s) for the command to end and returns its status.
func (term *terminal) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- term.cmd.Wait() }()
	select {
	case err := <-done:
		code, _ := exitCode(err)
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("docker did not end\nscreen:\n%s", term.screen.String())
	}
	return 0
}

// waitShort polls cond for up to a second: a step that a retry repeats.
func waitShort(cond func() bool) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestDaemonOwnsNoContainer kills the daemon with SIGKILL while a
// container it started runs: the container runs on (its monitor owns
// it), and a new daemon on the same state root lists it and stops it.
func TestDaemonOwnsNoContainer(t *testing.T) {
	m := newMD(t)
	d := m.startDaemon()
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "survivor", "--network", "none", "base", "sleep", "1000"))
	pid := m.containerPid("survivor")
	t.Logf("container %s, pid %d", id, pid)
	_ = d.proc.cmd.Process.Kill()
	_ = d.proc.cmd.Wait()
	if !processAlive(pid) {
		t.Fatalf("kill -9 of the daemon killed the container's process %d", pid)
	}
	d = m.startDaemon() // the stale socket is replaced
	if out := d.mustDocker(t, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"); out != id+" survivor\n" {
		t.Errorf("a new daemon lists %q, want the container the old one started", out)
	}
	d.mustDocker(t, "rm", "-f", "survivor")
	if !exited(pid) {
		t.Errorf("rm -f through the new daemon left the process %d running", pid)
	}
	d.stop(t)
}

// TestDaemonRunOptions checks run's options through the API (create's
// Config and HostConfig) where the container and the kernel show them,
// and logs -f while output arrives.
func TestDaemonRunOptions(t *testing.T) {
	m := newMD(t)
	d := m.startDaemon()
	vol := t.TempDir()
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "opts", "--network", "none", "-e", "GREETING=hi there",
		"-v", vol+":/data", "--cpus", "0.5", "-w", "/data", "--label", "course=containers", "base",
		"sh", "-c", `echo "$GREETING" > out; pwd; while [ ! -e /data/stop ]; do sleep 0.05; done; echo bye`))
	waitFor(t, func() bool { data, _ := os.ReadFile(filepath.Join(vol, "out")); return string(data) == "hi there\n" })
	if got := cgroupFile(id, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("--cpus 0.5: the cgroup's quota is %q", got)
	}
	// The listing carries labels and mounts, and filters by label, in
	// docker ps and in minidocker ps alike.
	m.must("run", "-d", "--name", "unlabelled", "--network", "none", "base", "sleep", "1000")
	format := `{{.Names}} {{.Label "course"}} {{.Labels}} {{.Mounts}}`
	want := "opts containers course=containers " + vol + "\n"
	if out := d.mustDocker(t, "ps", "--no-trunc", "--filter", "label=course=containers", "--format", format); out != want {
		t.Errorf("docker ps --filter label=course=containers: %q, want %q", out, want)
	}
	if out := m.must("ps", "-f", "label=course", "--format", format); out != want {
		t.Errorf("minidocker ps -f label=course: %q, want %q", out, want)
	}
	if out := m.must("ps", "-f", "label=course=other", "-f", "name=opts", "-q"); out != "" {
		t.Errorf("minidocker ps with a label value that no container has: %q", out)
	}
	m.fails(2, "bad format of filter", "ps", "-f", "label")
	m.must("rm", "-f", "unlabelled")
	// logs -f shows what is written while it follows, and ends with the container.
	follow := exec.Command(dockerCLI(t), "-H", "unix://"+d.socket, "logs", "-f", "opts")
	follow.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + m.root, "DOCKER_CONFIG=" + filepath.Join(m.root, "docker-config")}
	out := &lockedBuffer{}
	follow.Stdout, follow.Stderr = out, out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = follow.Process.Kill(); _ = follow.Wait() })
	waitFor(t, func() bool { return out.String() == "/data\n" })
	if err := os.WriteFile(filepath.Join(vol, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := follow.Wait(); err != nil || out.String() != "/data\nbye\n" {
		t.Errorf("docker logs -f: %v, printed %q; want /data, then bye, then the end", err, out.String())
	}
	if r := d.docker(t, "", "start", "-a", "opts"); r.code != 0 || r.stdout != "/data\nbye\n" {
		t.Errorf("docker start -a: exit %d, stdout %q", r.code, r.stdout)
	}
	d.mustDocker(t, "rm", "opts")
	d.stop(t)
}

// TestDaemonPushPull pushes and pulls through the daemon, against
// docker-registry on loopback in the test's network namespace: push's
// and pull's progress come as JSON lines the CLI prints, and a run of a
// missing image makes the CLI pull it (create's 404, then
// POST /images/create) before it runs.
func TestDaemonPushPull(t *testing.T) {
	m := newMD(t)
	r := startRegistry(t, m, "")
	d := m.startDaemon()
	image := r.addr + "/team/hello:v1"
	d.mustDocker(t, "run", "--name", "maker", "--network", "none", "base", "sh", "-c", "echo pushed > /greeting")
	d.mustDocker(t, "commit", "maker", image)
	if out := d.mustDocker(t, "push", image); !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("docker push printed %q, want a line with the manifest's digest", out)
	}
	d.mustDocker(t, "rm", "maker")
	d.mustDocker(t, "rmi", image)
	res := d.docker(t, "", "run", "--rm", "--network", "none", image, "cat", "/greeting")
	if res.code != 0 || res.stdout != "pushed\n" || !strings.Contains(res.stderr, "Unable to find image") {
		t.Errorf("docker run of an image only the registry has: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	d.mustDocker(t, "rmi", image)
	if out := d.mustDocker(t, "pull", image); !strings.Contains(out, image) {
		t.Errorf("docker pull printed %q", out)
	}
	// The pull recorded the manifest's digest: docker images --digests shows it.
	digests := d.mustDocker(t, "images", "--digests", "--format", "{{.Repository}} {{.Digest}}")
	if !strings.Contains(digests, r.addr+"/team/hello sha256:") {
		t.Errorf("docker images --digests:\n%s\nwant %s/team/hello with its sha256 digest", digests, r.addr)
	}
	d.stop(t)
}

// TestDaemonSocketAccess checks who may use the socket: root and the
// group given with --group (mode 0660), and that a group that does not
// exist is a usage error that leaves no socket.
func TestDaemonSocketAccess(t *testing.T) {
	m := newMD(t)
	sock := filepath.Join(m.root, "api.sock")
	if r := m.run("daemon", "--host", "unix://"+sock, "--group", "no-such-group"); r.code != 2 || !strings.Contains(r.stderr, `--group "no-such-group"`) {
		t.Errorf("daemon --group no-such-group: exit %d, %q; want 2 and the group named", r.code, r.stderr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("a refused daemon left %s (%v)", sock, err)
	}
	if r := m.run("daemon", "--host", "tcp://127.0.0.1:2375"); r.code != 2 || !strings.Contains(r.stderr, "only unix sockets") {
		t.Errorf("daemon --host tcp://...: exit %d, %q; want 2", r.code, r.stderr)
	}
	d := &daemon{m: m, socket: sock}
	d.proc = m.start("daemon", "--host", "unix://"+sock, "--group", "tty")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	var st unix.Stat_t
	if err := unix.Stat(sock, &st); err != nil {
		t.Fatal(err)
	}
	tty, err := user.LookupGroup("tty")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o660 || strconv.Itoa(int(st.Gid)) != tty.Gid || st.Uid != 0 || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Errorf("the socket is mode %o, uid %d, gid %d; want a socket 0660 owned by root and group tty (%s)", st.Mode, st.Uid, st.Gid, tty.Gid)
	}
	d.stop(t)
}

// TestDaemonOneOwnerPerSocket starts four daemons on one socket at once:
// one serves, the other three refuse, and the one that serves removes
// the socket when it stops. A daemon also refuses while anyone holds
// the socket's lock, even with no socket there yet.
func TestDaemonOneOwnerPerSocket(t *testing.T) {
	m := newMD(t)
	sock := filepath.Join(m.root, "api.sock")
	type exit struct {
		i int
		r result
	}
	exits := make(chan exit, 4)
	procs := make([]*background, 4)
	for i := range procs {
		procs[i] = m.start("daemon", "--host", "unix://"+sock)
	}
	for i, b := range procs {
		go func() {
			code, _ := exitCode(b.cmd.Wait())
			exits <- exit{i, result{code: code, stderr: b.stderr.String()}}
		}()
	}
	running := map[int]bool{0: true, 1: true, 2: true, 3: true}
	// Before m.start's own cleanup (which waits too): kill what still
	// runs and collect it here, so that no process is waited for twice.
	t.Cleanup(func() {
		for i := range running {
			_ = procs[i].cmd.Process.Kill()
		}
		for range running {
			<-exits
		}
	})
	for range 3 {
		select {
		case e := <-exits:
			delete(running, e.i)
			if e.r.code != 1 || !strings.Contains(e.r.stderr, "another daemon is listening there") {
				t.Errorf("a second daemon on one socket: exit %d, %q; want 1 and \"another daemon is listening there\"", e.r.code, e.r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("four daemons on one socket: %d still running after 30 s, want one", len(running))
		}
	}
	var survivor int
	for i := range running {
		survivor = i
	}
	// The losers may end before the winner listens: wait for it to answer.
	waitFor(t, func() bool {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	_ = procs[survivor].cmd.Process.Signal(syscall.SIGTERM)
	select {
	case e := <-exits:
		delete(running, e.i)
		if e.r.code != 0 {
			t.Errorf("the serving daemon ended with %d after SIGTERM: %s", e.r.code, e.r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the serving daemon (pid %d) still runs 30 s after SIGTERM", procs[survivor].cmd.Process.Pid)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket %s is still there after its daemon stopped (%v)", sock, err)
	}

	lock, err := os.OpenFile(sock+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if r := m.run("daemon", "--host", "unix://"+sock); r.code != 1 || !strings.Contains(r.stderr, "another daemon is listening there") {
		t.Errorf("daemon while %s.lock is held: exit %d, %q; want 1 and \"another daemon is listening there\"", sock, r.code, r.stderr)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("a refused daemon made %s (%v)", sock, err)
	}
}
