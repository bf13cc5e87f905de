//go:build linux

// The exchange in docs/10-client-and-daemon.md is real: this test starts
// the daemon as the chapter does, runs the chapter's docker and curl
// command lines against it, and compares what they print with the block
// (ids, dates and digits masked; "make docs" rewrites it).

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// daemonDoc is the chapter on the client and the daemon.
var daemonDoc = filepath.Join(repoRoot, "docs", "10-client-and-daemon.md")

// daemonSocket is the socket the chapter names; the test's is elsewhere.
const daemonSocket = "/run/minidocker.sock"

// apiSteps are the chapter's command lines, after the daemon's start.
var apiSteps = []string{
	"docker -H unix://" + daemonSocket + " run --rm --network none base echo hello",
	"cat daemon.log",
	"curl -s --unix-socket " + daemonSocket + " http://localhost/_ping; echo",
	"curl -si --unix-socket " + daemonSocket + " http://localhost/_ping | tr -d '\\r'; echo",
	"curl -s --unix-socket " + daemonSocket + " http://localhost/v1.30/version",
	"curl -s --unix-socket " + daemonSocket + ` -H 'Content-Type: application/json' -d '{"Image": "base", "Cmd": ["sh", "-c", "echo hello; echo world"], "HostConfig": {"NetworkMode": "none"}}' 'http://localhost/v1.50/containers/create?name=hello'`,
	"curl -s --unix-socket " + daemonSocket + " -X POST http://localhost/v1.50/containers/hello/start",
	"curl -s --unix-socket " + daemonSocket + " -X POST http://localhost/v1.50/containers/hello/wait",
	"curl -s --unix-socket " + daemonSocket + " 'http://localhost/v1.50/containers/hello/logs?stdout=1&stderr=1' | od -A d -c",
	"curl -s --unix-socket " + daemonSocket + " -X DELETE http://localhost/v1.50/containers/hello; echo",
	"curl -s --unix-socket " + daemonSocket + " -X DELETE http://localhost/v1.50/containers/hello",
}

// apiMasks are what changes between runs of the exchange.
var apiMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{12,64}`), "<id>"},
	{regexp.MustCompile(`Date: .*`), "Date: <date>"},
	{regexp.MustCompile(`(?m)^minidocker: API listening on .* \(`), "minidocker: API listening on <socket> ("},
}

// maskAPI replaces what changes from run to run with placeholders.
func maskAPI(s string) string {
	for _, m := range apiMasks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return maskedLines(s)
}

// TestDocsDaemonExchange runs the chapter's exchange.
func TestDocsDaemonExchange(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the exchange shows what the clients print on the machines that build this project; checked there, not in the test VM")
	}
	docker := dockerCLI(t)
	name, value, _ := strings.Cut(docsRootfs, "=")
	t.Setenv(name, value)
	m := newMD(t)
	work := t.TempDir()
	sock := filepath.Join(m.root, "api.sock")
	logFile, err := os.Create(filepath.Join(work, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	d := &daemon{m: m, socket: sock, proc: &background{}}
	d.proc.cmd = exec.Command(finalBinary, "--root", m.root, "--debug", "daemon", "--host", "unix://"+sock)
	d.proc.cmd.Stderr = logFile
	d.proc.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.inNetns(func() { err = d.proc.cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.proc.cmd.Process.Kill(); _ = d.proc.cmd.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	var b strings.Builder
	b.WriteString("```console\n$ sudo minidocker --debug daemon 2>daemon.log &\n")
	for _, step := range apiSteps {
		line := strings.NewReplacer(daemonSocket, sock, "docker -H", docker+" -H").Replace(step)
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = work
		cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/local/bin", "HOME=" + work, "DOCKER_CONFIG=" + filepath.Join(work, "docker-config")}
		out, _ := cmd.CombinedOutput()
		b.WriteString("$ " + step + "\n" + strings.ReplaceAll(string(out), sock, daemonSocket))
	}
	b.WriteString("```\n")
	d.stop(t)
	checkDocBlockIn(t, daemonDoc, "exchange-api", b.String(), func(a, b string) bool { return maskAPI(a) == maskAPI(b) })
}
