// pause, unpause, cp, rename, port, diff and the prunes through minidocker
// daemon, driven by the docker CLI and by the Python SDK
// (testdata/daemon_verbs_sdk.py); what they did is checked on the host,
// as verbs_test.go checks the minidocker CLI.

package tests

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minidocker/minidocker/tests/skip"
)

func TestDaemonVerbsDockerCLI(t *testing.T) {
	m := newMD(t)
	dockerCLI(t)
	d := m.startDaemon()
	hostDir, untouched := hostTarget(t)

	// pause and unpause.
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "dv", "--network", "none", "base", "sh", "-c",
		"mkdir -p /d "+hostDir+" && ln -s "+hostDir+" /abs && echo inside > /d/f && rm /etc/group && touch /ready && exec sleep 1000"))
	waitFor(t, func() bool { return d.docker(t, "", "exec", "dv", "cat", "/ready").code == 0 })
	pid := m.containerPid("dv")
	d.mustDocker(t, "pause", "dv")
	assertFrozen(t, id, pid, true)
	if got := d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "dv"); got != "paused true\n" {
		t.Errorf("docker inspect: %q", got)
	}
	if got := d.mustDocker(t, "ps", "--format", "{{.Status}}"); !strings.HasSuffix(got, "(Paused)\n") {
		t.Errorf("docker ps: %q", got)
	}
	if r := d.docker(t, "", "exec", "dv", "true"); r.code == 0 || !strings.Contains(r.stderr, "is paused, unpause the container before exec") {
		t.Errorf("docker exec into a paused container: exit %d %q", r.code, r.stderr)
	}
	if r := d.docker(t, "", "pause", "dv"); r.code != 1 || !strings.Contains(r.stderr, "is already paused") {
		t.Errorf("docker pause twice: exit %d %q", r.code, r.stderr)
	}
	d.mustDocker(t, "unpause", "dv")
	assertFrozen(t, id, pid, false)

	// cp both ways, a tar on stdout, and a symlink that names a host path.
	out := t.TempDir()
	d.mustDocker(t, "cp", "dv:/d/f", filepath.Join(out, "f"))
	if data, err := os.ReadFile(filepath.Join(out, "f")); err != nil || string(data) != "inside\n" {
		t.Errorf("docker cp out: %q %v", data, err)
	}
	src := filepath.Join(out, "up")
	os.WriteFile(src, []byte("bytes\x00\xfe"), 0o600)
	d.mustDocker(t, "cp", src, "dv:/d/")
	if got := d.mustDocker(t, "exec", "dv", "cat", "/d/up"); got != "bytes\x00\xfe" {
		t.Errorf("docker cp in: %q", got)
	}
	tr := tar.NewReader(strings.NewReader(d.mustDocker(t, "cp", "dv:/d", "-")))
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "d/ d/f d/up" {
		t.Errorf("docker cp to -: %v", names)
	}
	if r := d.docker(t, "", "cp", "dv:/abs/marker", filepath.Join(out, "stolen")); r.code != 1 || !strings.Contains(r.stderr, "Could not find the file") {
		t.Errorf("docker cp through a symlink to a host path: exit %d %q", r.code, r.stderr)
	}
	d.mustDocker(t, "cp", src, "dv:/abs/")
	if got := d.mustDocker(t, "exec", "dv", "ls", hostDir); got != "up\n" {
		t.Errorf("the container's %s: %q", hostDir, got)
	}
	untouched()

	// diff, rename.
	if got := d.mustDocker(t, "diff", "dv"); !strings.Contains(got, "D /etc/group\n") || !strings.Contains(got, "A /d/up\n") {
		t.Errorf("docker diff: %q", got)
	}
	d.mustDocker(t, "rename", "dv", "dv2")
	if data, _ := os.ReadFile(filepath.Join(m.root, "names", "dv2")); string(data) != id {
		t.Errorf("names index after docker rename: dv2=%q", data)
	}
	d.mustDocker(t, "create", "--name", "taken", "--network", "none", "base", "true")
	if r := d.docker(t, "", "rename", "dv2", "taken"); r.code != 1 || !strings.Contains(r.stderr, `Conflict. The container name "/taken" is already in use`) {
		t.Errorf("docker rename to a taken name: exit %d %q", r.code, r.stderr)
	}

	// update.
	d.mustDocker(t, "update", "--memory", "96m", "--pids-limit", "40", "dv2")
	if got := cgroupFile(id, "pids", "pids.max", "pids.max"); got != "40" {
		t.Errorf("pids.max after docker update: %q", got)
	}
	if got := cgroupFile(id, "memory", "memory.limit_in_bytes", "memory.max"); got != strconv.Itoa(96<<20) {
		t.Errorf("memory limit after docker update: %q", got)
	}

	// port.
	d.mustDocker(t, "run", "-d", "--name", "pv", "-p", "8080:80", "base", "sleep", "1000")
	if got := d.mustDocker(t, "port", "pv"); got != "80/tcp -> 0.0.0.0:8080\n" {
		t.Errorf("docker port: %q", got)
	}

	// kill of a paused container, then the prunes.
	d.mustDocker(t, "pause", "dv2")
	d.mustDocker(t, "kill", "dv2")
	if !exited(pid) {
		t.Errorf("pid %d still runs after docker kill of the paused container", pid)
	}
	taken := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "taken"))
	got := d.mustDocker(t, "container", "prune", "-f")
	if !strings.HasPrefix(got, "Deleted Containers:\n") || !strings.Contains(got, id+"\n") || !strings.Contains(got, taken+"\n") || !strings.Contains(got, "\nTotal reclaimed space: ") {
		t.Errorf("docker container prune -f: %q", got)
	}
	for _, c := range []string{id, taken} {
		if _, err := os.Stat(filepath.Join(m.root, "containers", c)); !os.IsNotExist(err) {
			t.Errorf("%s is still in the state directory after prune: %v", c[:12], err)
		}
	}
	d.mustDocker(t, "rm", "-f", "pv")
	d.mustDocker(t, "run", "--name", "src", "--network", "none", "base", "touch", "/x")
	img := strings.TrimSpace(d.mustDocker(t, "commit", "src"))
	d.mustDocker(t, "rm", "src")
	if got := d.mustDocker(t, "image", "prune", "-f"); !strings.Contains(got, "deleted: "+img) {
		t.Errorf("docker image prune -f: %q (image %s)", got, img)
	}
	d.stop(t)
}

func TestDaemonVerbsSDK(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the test VM has no Python: the SDK script runs on the machines that build this project")
	}
	m := newMD(t)
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		skip.Because(t, "needs python3 with the docker SDK 7.x: pip install docker")
	}
	d := m.startDaemon()
	cmd := exec.Command("python3", "testdata/daemon_verbs_sdk.py", "unix://"+d.socket)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	// The script pauses its container and says so; the kernel is asked here.
	line, err := lines.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "paused" {
		cmd.Wait()
		t.Fatalf("the SDK script: %q %v\n%s", line, err, stderr.String())
	}
	pid, _ := strconv.Atoi(f[2])
	assertFrozen(t, f[1], pid, true)
	io.WriteString(stdin, "go on\n")
	rest, _ := io.ReadAll(lines)
	if err := cmd.Wait(); err != nil || !strings.HasSuffix(string(rest), "sdk verbs: ok\n") {
		t.Fatalf("the SDK script failed: %v\n%s%s", err, rest, stderr.String())
	}
	// What the script put into the container is in its upper dir, and its
	// rename in the names index.
	if data, _ := os.ReadFile(filepath.Join(m.root, "names", "sdkv2")); string(data) != f[1] {
		t.Errorf("names index after the SDK's rename: %q, want %s", data, f[1])
	}
	if data, err := os.ReadFile(filepath.Join(m.root, "containers", f[1], "upper", "tmp", "put.txt")); err != nil || string(data) != "put by the sdk" {
		t.Errorf("the SDK's put_archive in the upper dir: %q %v", data, err)
	}
	m.must("rm", "-f", "sdkv2")
	d.stop(t)
}

// TestDaemonEventsFollow reads GET /events as docker events does while a
// container is made and run through the docker CLI: each event arrives
// on the open stream, as it happens.
func TestDaemonEventsFollow(t *testing.T) {
	m := newMD(t)
	dockerCLI(t)
	d := m.startDaemon()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://daemon/v1.44/events?filters="+url.QueryEscape(`{"type":["container"]}`), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--network", "none", "base", "true"))
	dec := json.NewDecoder(resp.Body)
	var got []string
	for len(got) < 3 {
		var e struct {
			Action string
			Actor  struct{ ID string }
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("the event stream ended after %v: %v", got, err)
		}
		if e.Actor.ID == id {
			got = append(got, e.Action)
		}
	}
	if strings.Join(got, " ") != "create start die" {
		t.Errorf("events on the stream: %v", got)
	}
	cancel()
	d.mustDocker(t, "rm", id)
	d.stop(t)
}
