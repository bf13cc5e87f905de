// Who a container's commands run as: numeric users that would wrap to
// root, and the capabilities of exec.

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// idRange is the error for a uid or gid outside 0..2^32-2.
const idRange = "uids and gids must be in range 0-4294967294"

// TestFinalUserIDsOutOfRange checks that a uid or gid beyond 2^32-2 (which
// the kernel's 32-bit uid_t would truncate, 4294967296 to 0, root) is
// refused in --user, exec -u, the image's User and the container's
// /etc/passwd and /etc/group, and that a refused run leaves nothing.
func TestFinalUserIDsOutOfRange(t *testing.T) {
	m := newMD(t)
	for _, user := range []string{"4294967296", "65534:4294967296", "-1", "4294967295", "0:-1", "18446744073709551616"} {
		m.fails(125, idRange, "run", "--rm", "--user", user, "base", "id")
	}
	if ps := m.must("ps", "-aq"); ps != "" {
		t.Errorf("refused runs left containers behind:\n%s", ps)
	}
	if out := m.must("run", "--rm", "--user", "4294967294:4294967294", "base", "sh", "-c", "id -u; id -g"); out != "4294967294\n4294967294\n" {
		t.Errorf("--user 4294967294:4294967294 (the highest id) ran as %q", out)
	}

	m.must("run", "-d", "--name", "box", "base", "sleep", "1000")
	for _, user := range []string{"4294967296", "65534:4294967296", "-1"} {
		m.fails(125, idRange, "exec", "-u", user, "box", "id")
	}

	// An image whose config says User 4294967296, as a crafted archive could.
	m.must("commit", "--change", "USER 4294967296", "box", "wraps")
	m.fails(125, idRange, "run", "--rm", "wraps", "id")

	// An image whose /etc/passwd and /etc/group hold such ids: checked inside.
	m.must("run", "--name", "craft", "base", "sh", "-c",
		"echo evil:x:4294967296:0::/:/bin/sh >>/etc/passwd && echo wide:x:4294967296:evil2 >>/etc/group && echo evil2:x:1000:1000::/:/bin/sh >>/etc/passwd")
	m.must("commit", "craft", "crafted")
	m.fails(125, idRange, "run", "--rm", "--user", "evil", "crafted", "id")
	m.fails(125, idRange, "run", "--rm", "--user", "0:wide", "crafted", "id")
	m.fails(125, idRange, "run", "--rm", "--user", "evil2", "crafted", "id") // a member of "wide"
	m.must("run", "-d", "--name", "crafted-box", "crafted", "sleep", "1000")
	m.fails(125, idRange, "exec", "-u", "evil", "crafted-box", "id")
	m.must("rm", "-f", "box", "craft", "crafted-box")
}

// TestFinalExecCapabilities checks exec's capability sets against the
// container's PID 1: Docker's default set, and every capability the host
// has with --privileged (on exec or on the container).
func TestFinalExecCapabilities(t *testing.T) {
	m := newMD(t)
	host := capSet(t, mustRead(t, "/proc/self/status"), "CapBnd")
	const dockerDefault = 0xa80425fb
	m.must("run", "-d", "--name", "box", "base", "sleep", "1000")
	pid1 := int(field(m.inspect("box"), "State", "Pid").(float64))
	pid1Caps := capSet(t, mustRead(t, fmt.Sprintf("/proc/%d/status", pid1)), "CapEff")
	if pid1Caps != dockerDefault&host {
		t.Errorf("PID 1's CapEff is %016x, want Docker's default %016x", pid1Caps, dockerDefault&host)
	}
	for _, tc := range []struct {
		name string
		args []string
		want uint64
	}{
		{"default", []string{"exec", "box"}, pid1Caps},
		{"--privileged", []string{"exec", "--privileged", "box"}, host},
		{"--user nobody", []string{"exec", "-u", "nobody", "box"}, 0},
	} {
		status := m.must(append(tc.args, "cat", "/proc/self/status")...)
		for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := capSet(t, status, set); got != tc.want && !(set == "CapBnd" && tc.want == 0) {
				t.Errorf("exec %s: %s is %016x, want %016x", tc.name, set, got, tc.want)
			}
		}
	}
	m.must("run", "-d", "--privileged", "--name", "all", "base", "sleep", "1000")
	if got := capSet(t, m.must("exec", "all", "cat", "/proc/self/status"), "CapEff"); got != host {
		t.Errorf("exec in a --privileged container: CapEff %016x, want %016x", got, host)
	}
	m.must("rm", "-f", "box", "all")
}

// capSet reads one capability mask ("CapEff") from a /proc/PID/status text.
func capSet(t *testing.T, status, set string) uint64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + set + `:\s+([0-9a-f]+)$`).FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("no %s in:\n%s", set, status)
	}
	n, err := strconv.ParseUint(m[1], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mustRead reads a file or fails the test.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data)) + "\n"
}

// TestFinalNoNewPrivileges checks that --security-opt no-new-privileges
// sets the kernel's no_new_privs bit on PID 1 and on every exec (a setuid
// program run by exec could otherwise gain what PID 1 was denied), and
// that it stays off without the option.
func TestFinalNoNewPrivileges(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "nnp", "--security-opt", "no-new-privileges", "base", "sleep", "1000")
	m.must("run", "-d", "--name", "plain", "base", "sleep", "1000")
	for _, tc := range []struct {
		name, want string
	}{{"nnp", "1"}, {"plain", "0"}} {
		pid1 := int(field(m.inspect(tc.name), "State", "Pid").(float64))
		if got := statusField(t, mustRead(t, fmt.Sprintf("/proc/%d/status", pid1)), "NoNewPrivs"); got != tc.want {
			t.Errorf("%s: PID 1 has NoNewPrivs %s, want %s", tc.name, got, tc.want)
		}
		if got := statusField(t, m.must("exec", tc.name, "cat", "/proc/self/status"), "NoNewPrivs"); got != tc.want {
			t.Errorf("%s: exec has NoNewPrivs %s, want %s", tc.name, got, tc.want)
		}
	}
	m.must("rm", "-f", "nnp", "plain")
}

// statusField is the value of one field of a /proc/PID/status text.
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/PID/status:\n%s", name, status)
	return ""
}

// TestFinalInitThreadsConfined checks every thread of --init's PID 1 (the
// tiny init is the Go binary, with its runtime threads): each has Docker's
// capability set and bounding set, the seccomp filter, and no_new_privs
// when asked for, not only the thread that started the command.
func TestFinalInitThreadsConfined(t *testing.T) {
	m := newMD(t)
	host := capSet(t, mustRead(t, "/proc/self/status"), "CapBnd")
	const dockerDefault = 0xa80425fb
	m.must("run", "-d", "--name", "tini", "--init", "--security-opt", "no-new-privileges", "base", "sleep", "1000")
	pid1 := int(field(m.inspect("tini"), "State", "Pid").(float64))
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid1))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("PID 1 of --init has %d threads (%v); the check needs its Go runtime threads", len(tasks), err)
	}
	for _, task := range tasks {
		status := mustRead(t, task)
		for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := capSet(t, status, set); got != dockerDefault&host {
				t.Errorf("%s: %s is %016x, want %016x", task, set, got, dockerDefault&host)
			}
		}
		if got := statusField(t, status, "Seccomp"); got != "2" {
			t.Errorf("%s: Seccomp is %s, want 2 (filtered)", task, got)
		}
		if got := statusField(t, status, "NoNewPrivs"); got != "1" {
			t.Errorf("%s: NoNewPrivs is %s, want 1", task, got)
		}
	}
	m.must("rm", "-f", "tini")
}
