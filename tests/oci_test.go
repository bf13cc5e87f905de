// minidocker as an OCI runtime (minidocker-runc, final/runc.go), run as
// its callers run it: a bundle made in the test (config.json from the
// runtime's own `spec`, a root holding the static helper), then create,
// start, state, kill, exec and delete as separate commands. What the
// tests assert is what the kernel shows: namespace inodes, the process's
// status and limits, cgroup files, a pseudo-terminal's master fd.

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociRuntime is one test's minidocker-runc: the binary under that name,
// a state root and a log file of its own.
type ociRuntime struct {
	t         *testing.T
	bin, root string
	log       string
}

// newOCI makes a test's runtime; at the end every container is deleted
// and the host must be as clean as before.
func newOCI(t *testing.T) *ociRuntime {
	t.Helper()
	containerTest(t)
	if finalBinary == "" || helperBinary == "" {
		t.Fatal("the minidocker binary (./final) or the helper was not built")
	}
	before := hostState(t)
	dir := t.TempDir()
	r := &ociRuntime{t: t, bin: filepath.Join(dir, "minidocker-runc"), root: filepath.Join(dir, "state"), log: filepath.Join(dir, "log.json")}
	if err := os.Symlink(finalBinary, r.bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(r.root)
		for _, e := range entries {
			r.run("delete", "--force", e.Name())
		}
		for _, leak := range difference(hostState(t), before) {
			t.Errorf("left behind on the host: %s", leak)
		}
	})
	return r
}

// run runs minidocker-runc with the test's --root and --log.
func (r *ociRuntime) run(args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := append([]string{"--root", r.root, "--log", r.log, "--log-format", "json"}, args...)
	cmd := exec.CommandContext(ctx, r.bin, all...)
	// Files, not pipes: a container's process inherits create's stdio and
	// would hold a pipe open after create returns, as with runc.
	stdout, stderr := r.tempFile(), r.tempFile()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	code, err := exitCode(cmd.Run())
	if err != nil {
		r.t.Fatalf("minidocker-runc %s: %v", strings.Join(args, " "), err)
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	return result{stdout: string(out), stderr: string(errOut), code: code}
}

// tempFile is a new file in the test's temporary directory.
func (r *ociRuntime) tempFile() *os.File {
	r.t.Helper()
	f, err := os.CreateTemp(r.t.TempDir(), "out")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return f
}

// must runs minidocker-runc and fails the test unless it exits 0.
func (r *ociRuntime) must(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("minidocker-runc %s: exit %d\nstderr: %s", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

// state is the runtime-spec state of a container.
func (r *ociRuntime) state(id string) specs.State {
	r.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(r.must("state", id)), &st); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// waitStatus waits, up to ten seconds, until the container has status want.
func (r *ociRuntime) waitStatus(id string, want specs.ContainerState) {
	r.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r.state(id).Status == want {
			return
		}
	}
	r.t.Fatalf("container %s never became %s (it is %s)", id, want, r.state(id).Status)
}

// ociBundle makes a bundle: `spec`'s default config with change applied,
// and a root holding the helper as /helper.
func (r *ociRuntime) ociBundle(change func(*specs.Spec)) string {
	r.t.Helper()
	bundle := r.t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	data, err := os.ReadFile(helperBinary)
	if err == nil {
		err = os.WriteFile(filepath.Join(rootfs, "helper"), data, 0o755)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.must("spec", "--bundle", bundle)
	var cfg specs.Spec
	data, err = os.ReadFile(filepath.Join(bundle, "config.json"))
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.Process.Terminal = false
	cfg.Process.Args = []string{"/helper", "hold"}
	if change != nil {
		change(&cfg)
	}
	writeJSON(r.t, filepath.Join(bundle, "config.json"), &cfg)
	return bundle
}

// writeJSON writes v to path as JSON.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// nsInode is the inode of a process's namespace of one kind.
func nsInode(t *testing.T, pid int, kind string) string {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// pidStatus reads one field of /proc/PID/status.
func pidStatus(t *testing.T, pid int, name string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	return statusField(t, string(data), name)
}

// waitHelper waits until the container's process runs /helper: start
// returns once the process is released, and the rest of its setup
// (privileges dropped, limits set) and the execve follow.
func waitHelper(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return strings.HasSuffix(exe, "/helper")
	})
}

func TestOCILifecycle(t *testing.T) {
	r := newOCI(t)
	bundle := r.ociBundle(nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.must("create", "--bundle", bundle, "--pid-file", pidFile, "life")

	// Created: the process exists, in namespaces of its own, held before
	// the command: it is still the runtime's binary, not /helper.
	st := r.state("life")
	if st.Status != specs.StateCreated || st.Pid <= 0 || st.Bundle != bundle || st.ID != "life" {
		t.Fatalf("after create: state %+v, want created with a pid and the bundle", st)
	}
	if data, _ := os.ReadFile(pidFile); string(data) != strconv.Itoa(st.Pid) {
		t.Errorf("--pid-file holds %q, state says pid %d", data, st.Pid)
	}
	if nspid := pidStatus(t, st.Pid, "NSpid"); !strings.HasSuffix(nspid, "\t1") {
		t.Errorf("NSpid of the container's process is %q: want it to be PID 1 of its own namespace", nspid)
	}
	for _, kind := range []string{"pid", "mnt", "uts", "ipc", "net"} {
		if nsInode(t, st.Pid, kind) == nsInode(t, os.Getpid(), kind) {
			t.Errorf("the container's %s namespace is the host's", kind)
		}
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid)); strings.HasSuffix(exe, "/helper") {
		t.Errorf("the command runs before start: /proc/PID/exe is %s", exe)
	}
	r.fails(1, "does not exist", "start", "nonexistent")

	// Started: the same process, now the command.
	r.must("start", "life")
	if st2 := r.state("life"); st2.Status != specs.StateRunning || st2.Pid != st.Pid {
		t.Fatalf("after start: state %+v, want running with pid %d", st2, st.Pid)
	}
	waitHelper(t, st.Pid)
	r.fails(1, "running", "start", "life")
	r.fails(1, "running", "delete", "life")

	// Stopped: killed by name with --all (every process of its cgroup,
	// each through a pidfd), then deleted with its cgroup.
	r.must("kill", "--all", "life", "KILL")
	r.waitStatus("life", specs.StateStopped)
	r.must("delete", "life")
	r.fails(1, "does not exist", "state", "life")
	if _, err := os.Stat(filepath.Join(r.root, "life")); !os.IsNotExist(err) {
		t.Errorf("the container's state directory is still there after delete")
	}
}

// fails runs minidocker-runc expecting exit status code and an error
// containing want, on stderr and as a JSON line in the log.
func (r *ociRuntime) fails(code int, want string, args ...string) {
	r.t.Helper()
	res := r.run(args...)
	if res.code != code || !strings.Contains(res.stderr, want) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
		r.t.Errorf("minidocker-runc %s: exit %d, stderr %q; want exit %d and one line containing %q", strings.Join(args, " "), res.code, res.stderr, code, want)
	}
	log, _ := os.ReadFile(r.log)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	var entry map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &entry); err != nil || entry["level"] != "error" || !strings.Contains(entry["msg"], want) || entry["time"] == "" {
		r.t.Errorf("minidocker-runc %s: the log's last line is %q; want a JSON error line containing %q", strings.Join(args, " "), lines[len(lines)-1], want)
	}
}

func TestOCIConfigApplied(t *testing.T) {
	r := newOCI(t)
	limit, pids, adj := int64(64<<20), int64(20), 300
	caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	bundle := r.ociBundle(func(c *specs.Spec) {
		c.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps}
		c.Process.OOMScoreAdj = &adj
		c.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}, {Type: "RLIMIT_CORE", Hard: 8192, Soft: 4096}}
		c.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		c.Linux.Resources.Pids = &specs.LinuxPids{Limit: pids}
		c.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		c.Hostname = "ocibox"
	})
	r.must("create", "--bundle", bundle, "cfg")
	pid := r.state("cfg").Pid

	// The cgroup holds the process and the limits before start.
	memory, pidsMax := "memory/minidocker/cfg/memory.limit_in_bytes", "pids/minidocker/cfg/pids.max"
	if hostCgroupV2() {
		memory, pidsMax = "minidocker/cfg/memory.max", "minidocker/cfg/pids.max"
	}
	for file, want := range map[string]string{memory: strconv.FormatInt(limit, 10), pidsMax: strconv.FormatInt(pids, 10)} {
		data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", file))
		if err != nil || strings.TrimSpace(string(data)) != want {
			t.Errorf("%s: %q (%v), want %s", file, data, err, want)
		}
	}
	r.must("start", "cfg")
	waitHelper(t, pid) // the sets and limits below are the command's
	// CAP_KILL is 5, CAP_NET_BIND_SERVICE 10: every set is exactly these two.
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"} {
		if got := pidStatus(t, pid, set); got != "0000000000000420" {
			t.Errorf("%s of the container's process: %s, want 0000000000000420", set, got)
		}
	}
	if got := pidStatus(t, pid, "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs: %s, want 1 (spec's default config asks for it)", got)
	}
	if data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid)); strings.TrimSpace(string(data)) != "300" {
		t.Errorf("oom_score_adj: %q, want 300", data)
	}
	var lim unix.Rlimit
	// The helper is a Go program, and Go raises its own soft NOFILE limit
	// to the hard one at start: only the hard limit is the runtime's then.
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil || lim.Max != 512 {
		t.Errorf("RLIMIT_NOFILE of the container: %+v (%v), want a hard limit of 512", lim, err)
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_CORE, nil, &lim); err != nil || lim.Cur != 4096 || lim.Max != 8192 {
		t.Errorf("RLIMIT_CORE of the container: %+v (%v), want 4096/8192", lim, err)
	}
	if host := r.must("exec", "cfg", "/helper", "hostname"); strings.TrimSpace(host) != "ocibox" {
		t.Errorf("hostname inside: %q, want ocibox", host)
	}
	r.must("kill", "cfg", "9")
	r.waitStatus("cfg", specs.StateStopped)
	r.must("delete", "cfg")
}

func TestOCIHooksReadState(t *testing.T) {
	r := newOCI(t)
	out := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: helperBinary, Args: []string{"helper", "stdin", filepath.Join(out, name)}}
	}
	bundle := r.ociBundle(func(c *specs.Spec) {
		c.Hooks = &specs.Hooks{Prestart: []specs.Hook{hook("prestart")}, Poststart: []specs.Hook{hook("poststart")}, Poststop: []specs.Hook{hook("poststop")}}
	})
	r.must("create", "--bundle", bundle, "hooked")
	pid := r.state("hooked").Pid
	r.must("start", "hooked")
	r.must("delete", "--force", "hooked")
	for name, status := range map[string]specs.ContainerState{"prestart": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped} {
		var st specs.State
		data, err := os.ReadFile(filepath.Join(out, name))
		if err == nil {
			err = json.Unmarshal(data, &st)
		}
		if err != nil {
			t.Errorf("the %s hook's stdin: %v", name, err)
			continue
		}
		if st.ID != "hooked" || st.Bundle != bundle || st.Status != status || (status != specs.StateStopped && st.Pid != pid) {
			t.Errorf("the %s hook read %+v, want id hooked, bundle %s, status %s, pid %d", name, st, bundle, status, pid)
		}
	}
}

func TestOCIConsoleSocket(t *testing.T) {
	r := newOCI(t)
	bundle := r.ociBundle(func(c *specs.Spec) {
		c.Process.Terminal = true
		c.Process.Args = []string{"/helper", "print", "hello", "from", "the", "pty"}
	})
	socket := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r.fails(1, "--console-socket", "create", "--bundle", bundle, "tty")
	got := make(chan *os.File, 1)
	go func() { got <- receiveFd(t, l) }()
	r.must("create", "--bundle", bundle, "--console-socket", socket, "tty")
	master := <-got
	if master == nil {
		t.Fatal("no fd came over the console socket")
	}
	defer master.Close()
	// A pty master answers TIOCGPTN with its number.
	if _, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN); err != nil {
		t.Fatalf("the fd from the console socket is not a pty master: TIOCGPTN: %v", err)
	}
	r.must("start", "tty")
	var text []byte
	buf := make([]byte, 256)
	for !bytes.Contains(text, []byte("hello from the pty")) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("read the pty: %v (got %q)", err, text)
		}
		text = append(text, buf[:n]...)
	}
	r.waitStatus("tty", specs.StateStopped)
	r.must("delete", "tty")
}

// receiveFd accepts one connection and returns the fd it sends (SCM_RIGHTS).
func receiveFd(t *testing.T, l *net.UnixListener) *os.File {
	conn, err := l.AcceptUnix()
	if err != nil {
		return nil
	}
	defer conn.Close()
	buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil
	}
	return os.NewFile(uintptr(fds[0]), "pty master")
}

func TestOCIExec(t *testing.T) {
	r := newOCI(t)
	eperm := uint(unix.EPERM)
	bundle := r.ociBundle(func(c *specs.Spec) {
		c.Root.Readonly = false
		// The container's filter refuses mkdir; exec's processes must get it too.
		c.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm},
		}}
	})
	r.must("create", "--bundle", bundle, "ex")
	r.must("start", "ex")
	pid := r.state("ex").Pid
	process := specs.Process{Args: []string{"/helper", "stdin", "/tmp/exec-ran"}, Cwd: "/", User: specs.User{UID: 0}}
	processFile := filepath.Join(t.TempDir(), "process.json")
	writeJSON(t, processFile, &process)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.must("exec", "--process", processFile, "--pid-file", pidFile, "ex")
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/root/tmp/exec-ran", pid)); err != nil {
		t.Errorf("exec's command did not run inside the container's root: %v", err)
	}
	if data, err := os.ReadFile(pidFile); err != nil || len(data) == 0 {
		t.Errorf("exec --pid-file: %q (%v)", data, err)
	}
	if out := r.must("exec", "ex", "/helper", "errno", "mkdir"); strings.TrimSpace(out) != "mkdir EPERM" {
		t.Errorf("mkdir in exec under the container's seccomp filter: %q, want mkdir EPERM", out)
	}
	if res := r.run("exec", "ex", "/helper", "errno-nonexistent"); res.code != 2 {
		t.Errorf("exec of a command that exits 2: status %d, want 2", res.code)
	}
	r.must("delete", "--force", "ex")
}

func TestOCIBadBundles(t *testing.T) {
	r := newOCI(t)
	cases := []struct {
		name, want string
		change     func(bundle string)
	}{
		{"missing config", "has no config.json", func(b string) { os.Remove(filepath.Join(b, "config.json")) }},
		{"invalid JSON", "not a valid config", func(b string) { os.WriteFile(filepath.Join(b, "config.json"), []byte("{"), 0o644) }},
		{"unsupported version", "ociVersion", editConfig(func(c *specs.Spec) { c.Version = "2.0.0" })},
		{"missing rootfs", "root.path", editConfig(func(c *specs.Spec) { c.Root.Path = "nowhere" })},
		{"unknown namespace", "namespace type", editConfig(func(c *specs.Spec) {
			c.Linux.Namespaces = append(c.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		})},
		{"unknown mount type", "not a filesystem", editConfig(func(c *specs.Spec) {
			c.Mounts = append(c.Mounts, specs.Mount{Destination: "/x", Type: "nosuchfs", Source: "x"})
		})},
		{"missing command", "executable file not found", editConfig(func(c *specs.Spec) { c.Process.Args = []string{"/nonexistent"} })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := r.ociBundle(nil)
			c.change(bundle)
			r.on(t).fails(1, c.want, "create", "--bundle", bundle, "bad")
			if _, err := os.Stat(filepath.Join(r.root, "bad")); !os.IsNotExist(err) {
				t.Errorf("a failed create left its state directory")
			}
		})
	}
}

// on is r for a subtest.
func (r *ociRuntime) on(t *testing.T) *ociRuntime {
	sub := *r
	sub.t = t
	return &sub
}

// editConfig changes a bundle's config.json.
func editConfig(change func(*specs.Spec)) func(bundle string) {
	return func(bundle string) {
		path := filepath.Join(bundle, "config.json")
		var cfg specs.Spec
		data, _ := os.ReadFile(path)
		_ = json.Unmarshal(data, &cfg)
		change(&cfg)
		data, _ = json.Marshal(&cfg)
		_ = os.WriteFile(path, data, 0o644)
	}
}

// TestOCIAmbientNeedsInheritable runs the capability sets runc's own
// `spec` writes: ambient capabilities and no inheritable set. The kernel
// raises an ambient capability only when it is inheritable too, so none
// is raised, and the container still runs (create failed with EPERM).
func TestOCIAmbientNeedsInheritable(t *testing.T) {
	r := newOCI(t)
	caps := []string{"CAP_KILL"}
	bundle := r.ociBundle(func(c *specs.Spec) {
		c.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps}
	})
	r.must("create", "--bundle", bundle, "amb")
	r.must("start", "amb")
	pid := r.state("amb").Pid
	waitFor(t, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return strings.HasSuffix(exe, "/helper")
	})
	if got := pidStatus(t, pid, "CapAmb"); got != "0000000000000000" {
		t.Errorf("CapAmb: %s, want none (CAP_KILL is not inheritable)", got)
	}
	if got := pidStatus(t, pid, "CapEff"); got != "0000000000000020" {
		t.Errorf("CapEff: %s, want CAP_KILL alone", got)
	}
	r.must("delete", "--force", "amb")
}

// TestOCIGlobalsAndFeatures checks what callers ask before they run
// anything: --version, features, and a global flag that is refused.
func TestOCIGlobalsAndFeatures(t *testing.T) {
	r := newOCI(t)
	if out := r.must("--version"); !strings.Contains(out, "spec: "+specs.Version) {
		t.Errorf("--version: %q, want the runtime-spec version %s", out, specs.Version)
	}
	var f struct {
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(r.must("features")), &f); err != nil || f.OCIVersionMax != specs.Version ||
		!contains(f.Linux.Namespaces, "user") || !contains(f.Hooks, "createContainer") {
		t.Errorf("features: %+v (%v)", f, err)
	}
	r.fails(1, "--systemd-cgroup", "--systemd-cgroup", "list")
}

// TestOCIRootfsPropagation gives the container's root each propagation
// rootfsPropagation names, and checks it in the container's mountinfo.
// The bundle sits on a shared mount, as on a systemd host, whose / is
// shared: the container's copy of it starts in the same peer group, and
// the mounts made inside must still never reach the host (newOCI's check
// compares the host's mount table before and after). A root made shared
// before its mounts sent them all to the host, and pivot_root then failed.
func TestOCIRootfsPropagation(t *testing.T) {
	r := newOCI(t)
	for prop, want := range map[string]string{"shared": "shared:", "slave": "master:", "private": "", "unbindable": "unbindable"} {
		t.Run(prop, func(t *testing.T) {
			r := r.on(t)
			bundle := r.ociBundle(func(c *specs.Spec) { c.Linux.RootfsPropagation = prop })
			if err := unix.Mount(bundle, bundle, "", unix.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(bundle, unix.MNT_DETACH)
			if err := unix.Mount("", bundle, "", unix.MS_SHARED, ""); err != nil {
				t.Fatal(err)
			}
			r.must("create", "--bundle", bundle, "prop")
			defer r.must("delete", "--force", "prop")
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", r.state("prop").Pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) < 7 || f[4] != "/" {
					continue
				}
				optional := strings.Join(f[6:slices.Index(f, "-")], " ")
				if (want == "" && optional != "") || !strings.Contains(optional, want) {
					t.Errorf("the container's / has %q in its mountinfo, want %q", optional, want)
				}
			}
		})
	}
}

// TestOCIExecUserNamespace runs exec in a container with a user namespace
// of its config's: the command joins that namespace too, as its root's
// host id, never the host's root (checkExecJoined in userns_test.go).
func TestOCIExecUserNamespace(t *testing.T) {
	r := newOCI(t)
	const hostID = 300000
	eperm := uint(unix.EPERM)
	var caps *specs.LinuxCapabilities
	bundle := r.ociBundle(func(c *specs.Spec) {
		caps = c.Process.Capabilities
		c.Process.NoNewPrivileges = true
		c.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm},
		}}
		// cgroup2 cannot be mounted from a user namespace without a cgroup
		// namespace of its own (v2 VM): this test needs no cgroup mount.
		c.Mounts = slices.DeleteFunc(c.Mounts, func(m specs.Mount) bool { return m.Destination == "/sys/fs/cgroup" })
		c.Linux.Namespaces = append(c.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		c.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
		c.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
	})
	// The namespace's root must reach its root filesystem.
	for dir := filepath.Join(bundle, "rootfs"); dir != "/"; dir = filepath.Dir(dir) {
		if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, info.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.must("create", "--bundle", bundle, "ux")
	r.must("start", "ux")
	pid1 := r.state("ux").Pid
	waitHelper(t, pid1)
	process := specs.Process{Args: []string{"/helper", "hold"}, Cwd: "/", User: specs.User{UID: 0}, Capabilities: caps, NoNewPrivileges: true}
	processFile := filepath.Join(t.TempDir(), "process.json")
	writeJSON(t, processFile, &process)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.must("exec", "--detach", "--process", processFile, "--pid-file", pidFile, "ux")
	execInit, err := strconv.Atoi(strings.TrimSpace(mustRead(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	var cmd int
	waitFor(t, func() bool {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", execInit, execInit))
		cmd, err = strconv.Atoi(strings.TrimSpace(string(children)))
		return err == nil && strings.HasSuffix(readlinkOr(fmt.Sprintf("/proc/%d/exe", cmd)), "/helper")
	})
	checkExecJoined(t, pid1, cmd, hostID, hostID, true)
	if res := r.run("exec", "ux", "/helper", "errno-nonexistent"); res.code != 2 {
		t.Errorf("exec of a command that exits 2: status %d (%s), want 2", res.code, res.stderr)
	}
	// A terminal: the console socket is the host's, in a directory of
	// root's that the namespace's root cannot enter.
	socket := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() { got <- receiveFd(t, l) }()
	process = specs.Process{Args: []string{"/helper", "print", "in", "a", "pty"}, Cwd: "/", Terminal: true, Capabilities: caps}
	writeJSON(t, processFile, &process)
	r.must("exec", "--process", processFile, "--console-socket", socket, "ux")
	if master := <-got; master == nil {
		t.Error("no pty master came over the console socket")
	} else {
		master.Close()
	}
	r.must("delete", "--force", "ux")
}

// readlinkOr is the link's target, or "".
func readlinkOr(path string) string {
	target, _ := os.Readlink(path)
	return target
}
