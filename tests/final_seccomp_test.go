// Black-box tests of final's seccomp filter (Docker's default profile,
// compiled to BPF) and of each container's own session keyring: the
// helper makes raw system calls inside a container and prints each errno.

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// seccompCalls are the helper's calls (tests/helper/syscall.go) the tests
// judge; issue 11 names most of them.
var seccompCalls = []string{
	"keyctl", "add_key", "request_key", "unshare_user", "clone_user", "clone3", "perf_event_open",
	"personality_query", "personality_set", "socket_inet", "socket_alg", "socket_vsock", "mkdir", "getppid",
}

// errnos runs the helper's calls with minidocker args before the image
// and returns call -> "ok" or the errno's name.
func errnos(t *testing.T, m *md, args ...string) map[string]string {
	t.Helper()
	cmd := append(append([]string{"run", "--rm", "--network", "none", "-v", helperVolume(t)}, args...),
		"base", "/helper", "errno")
	return parseErrnos(t, m.must(append(cmd, seccompCalls...)...))
}

// parseErrnos reads the helper's "CALL RESULT" lines.
func parseErrnos(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		call, result, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("the helper printed %q", out)
		}
		got[call] = result
	}
	return got
}

// TestFinalSeccompDefault checks Docker's default profile in a default
// container: the keyring, user namespace and perf calls fail with EPERM,
// clone3 with ENOSYS (so libc falls back to clone), forbidden personality
// and socket families are refused; everyday calls pass.
func TestFinalSeccompDefault(t *testing.T) {
	m := newMD(t)
	got := errnos(t, m)
	want := map[string]string{
		"keyctl": "EPERM", "add_key": "EPERM", "request_key": "EPERM",
		"unshare_user": "EPERM", "clone_user": "EPERM", "clone3": "ENOSYS", "perf_event_open": "EPERM",
		"personality_query": "ok", "personality_set": "EPERM",
		"socket_inet": "ok", "socket_alg": "EPERM", "socket_vsock": "EPERM",
		"mkdir": "ok", "getppid": "ok",
	}
	for call, w := range want {
		if got[call] != w {
			t.Errorf("%s in a default container: got %s, want %s", call, got[call], w)
		}
	}
	// PID 1 runs under one filter; ordinary programs still work under it.
	out := m.must("run", "--rm", "--network", "none", "base", "sh", "-c", "grep Seccomp: /proc/1/status; ls / >/dev/null && echo listed")
	if !strings.Contains(out, "Seccomp:\t2\n") || !strings.Contains(out, "listed") {
		t.Errorf("a default container's PID 1 is not in seccomp filter mode (Seccomp:\\t2), or ls failed:\n%s", out)
	}
}

// TestFinalSeccompLifted checks that seccomp=unconfined and --privileged
// lift the filter: the same calls reach the kernel (whatever it then
// says, it is not seccomp's EPERM or ENOSYS).
func TestFinalSeccompLifted(t *testing.T) {
	m := newMD(t)
	for _, args := range [][]string{{"--security-opt", "seccomp=unconfined"}, {"--privileged"}} {
		t.Run(args[0], func(t *testing.T) {
			got := errnos(t, m, args...)
			// The kernel's own answers vary with its configuration (no
			// vsock module: EAFNOSUPPORT); seccomp's would be EPERM.
			lifted := []string{"keyctl", "add_key", "request_key", "unshare_user", "clone_user", "personality_set", "socket_alg", "socket_vsock"}
			if args[0] == "--privileged" {
				lifted = append(lifted, "perf_event_open") // with CAP_PERFMON, and CAP_SYS_ADMIN
			}
			for _, call := range lifted {
				if got[call] == "EPERM" {
					t.Errorf("%s with %v: EPERM, as if the filter were there", call, args)
				}
			}
			if got["clone3"] == "ENOSYS" || got["personality_set"] != "ok" {
				t.Errorf("with %v: clone3 %s (want the kernel's EINVAL for no arguments), personality %s (want ok)", args, got["clone3"], got["personality_set"])
			}
			out := m.must(append(append([]string{"run", "--rm", "--network", "none"}, args...), "base", "grep", "Seccomp:", "/proc/self/status")...)
			if out != "Seccomp:\t0\n" {
				t.Errorf("with %v: %q, want no filter", args, out)
			}
		})
	}
	// With CAP_SYS_ADMIN the profile allows the namespace calls, as Docker's does.
	got := errnos(t, m, "--cap-add", "SYS_ADMIN")
	if got["clone_user"] != "ok" || got["keyctl"] != "EPERM" {
		t.Errorf("with --cap-add SYS_ADMIN: clone_user %s (want ok), keyctl %s (want EPERM)", got["clone_user"], got["keyctl"])
	}
}

// TestFinalSeccompProfileFile checks a profile given as a file: its errno
// shows in run and in exec (the record keeps the profile, not the path),
// inspect shows it, and bad profiles are refused with one line, 125, and
// nothing made.
func TestFinalSeccompProfileFile(t *testing.T) {
	m := newMD(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "no-mkdir.json")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(profile, `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]}`)
	if got := errnos(t, m, "--security-opt", "seccomp="+profile); got["mkdir"] != "ENOSPC" || got["keyctl"] == "EPERM" {
		t.Errorf("under a profile that blocks only mkdir with ENOSPC: mkdir %s, keyctl %s", got["mkdir"], got["keyctl"])
	}

	m.must("run", "-d", "--name", "custom", "--network", "none", "-v", helperVolume(t), "--security-opt", "seccomp="+profile, "base", "sleep", "1000")
	os.Remove(profile) // exec must not need the file any more
	if got := parseErrnos(t, m.must("exec", "custom", "/helper", "errno", "mkdir", "keyctl")); got["mkdir"] != "ENOSPC" || got["keyctl"] == "EPERM" {
		t.Errorf("exec under the container's profile: %v", got)
	}
	opts := fmt.Sprint(field(m.inspect("custom"), "HostConfig", "SecurityOpt"))
	if !strings.Contains(opts, `seccomp={"defaultAction":"SCMP_ACT_ALLOW"`) {
		t.Errorf("inspect's HostConfig.SecurityOpt does not show the profile: %s", opts)
	}
	m.must("rm", "-f", "custom")

	// exec's own process waits for the command from a thread without the
	// filter: a profile may refuse waitid and wait4.
	nowait := filepath.Join(dir, "no-wait.json")
	write(nowait, `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["waitid", "wait4"], "action": "SCMP_ACT_ERRNO"}]}`)
	m.must("run", "-d", "--name", "nowait", "--network", "none", "--security-opt", "seccomp="+nowait, "base", "sleep", "1000")
	if r := m.run("exec", "nowait", "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("exec in a container whose profile refuses waitid: exit %d (want the command's 3), stderr %q", r.code, r.stderr)
	}
	m.must("rm", "-f", "nowait")

	bad := filepath.Join(dir, "bad.json")
	for _, tc := range []struct{ text, want string }{
		{`{"defaultAction": "SCMP_ACT_ALLOW",`, "not a seccomp profile"},
		{`{"defaultAction": "SCMP_ACT_BLOCK"}`, `unknown action "SCMP_ACT_BLOCK"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "EQUALS"}]}]}`, `unknown op "EQUALS"`},
	} {
		write(bad, tc.text)
		r := m.run("run", "--rm", "--security-opt", "seccomp="+bad, "base", "true")
		if r.code != 125 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("profile %s: exit %d, stderr %q; want 125 and one line with %q", tc.text, r.code, r.stderr, tc.want)
		}
	}
	m.fails(125, "no such file", "run", "--rm", "--security-opt", "seccomp="+filepath.Join(dir, "missing.json"), "base", "true")
	if out := m.must("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("refused profiles left containers behind: %q", out)
	}
}

// TestFinalSeccompExec checks that a command exec runs in a default
// container is under the filter too, as PID 1 is (seen from the host).
func TestFinalSeccompExec(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "box", "--network", "none", "-v", helperVolume(t), "base", "sleep", "1000")
	pid := fmt.Sprint(field(m.inspect("box"), "State", "Pid"))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "Seccomp:\t2\n") {
		t.Errorf("the container's PID 1 (host pid %s) is not in seccomp filter mode", pid)
	}
	if out := m.must("exec", "box", "grep", "Seccomp:", "/proc/self/status"); out != "Seccomp:\t2\n" {
		t.Errorf("exec's command: %q, want Seccomp:\\t2", out)
	}
	got := parseErrnos(t, m.must("exec", "box", "/helper", "errno", "keyctl", "clone3", "getppid"))
	if got["keyctl"] != "EPERM" || got["clone3"] != "ENOSYS" || got["getppid"] != "ok" {
		t.Errorf("exec's command under the default profile: %v", got)
	}
	m.must("rm", "-f", "box")
}

// TestFinalSessionKeyring checks that a container does not share the
// session keyring of the process that ran it, even without seccomp (the
// kernel's keyrings are not namespaced): in run and in exec.
func TestFinalSessionKeyring(t *testing.T) {
	m := newMD(t)
	host, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		t.Skipf("this kernel has no keyrings: %v", err)
	}
	unconfined := []string{"--network", "none", "-v", helperVolume(t), "--security-opt", "seccomp=unconfined", "base", "/helper", "keyring"}
	inside := strings.TrimSpace(m.must(append([]string{"run", "--rm"}, unconfined...)...))
	if inside == "" || inside == fmt.Sprint(host) {
		t.Errorf("the container's session keyring is %q, the host's is %d: shared", inside, host)
	}
	m.must("run", "-d", "--name", "keys", "--network", "none", "-v", helperVolume(t), "--security-opt", "seccomp=unconfined", "base", "sleep", "1000")
	if got := strings.TrimSpace(m.must("exec", "keys", "/helper", "keyring")); got == "" || got == fmt.Sprint(host) {
		t.Errorf("exec's session keyring is %q, the host's is %d: shared", got, host)
	}
	m.must("rm", "-f", "keys")
}
