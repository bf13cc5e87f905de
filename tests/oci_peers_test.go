// minidocker-runc measured and driven by programs nobody here wrote: the
// runtime-spec's own validation suite (opencontainers/runtime-tools), podman
// with conmon, and containerd with its runc shim. Each needs its programs
// (podman, conmon, containerd: Debian packages that .ci/run installs; the
// suite is built from the Go module proxy) and skips without them.

package tests

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/minidocker/minidocker/tests/skip"
)

// runtimeToolsDir is the module that pins the validation suite.
var runtimeToolsDir = filepath.Join("testdata", "runtime-tools")

// vmRuntimeTools is where tests/vm/run-tests.sh packs the suite's
// programs for the VM, which has no Go (see unpackRuntimeTools).
const vmRuntimeTools = "/minidocker/runtime-tools.tar.zst"

// buildRuntimeTools builds the suite's validation programs and runtimetest
// into dir, and returns the suite's module directory (its rootfs tarball);
// in the VM it unpacks the programs run-tests.sh built.
func buildRuntimeTools(t *testing.T, dir string) string {
	t.Helper()
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		unpackRuntimeTools(t, dir)
		return dir
	}
	goTool := func(args ...string) ([]byte, error) {
		cmd := exec.Command("go", args...)
		cmd.Dir = runtimeToolsDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
		return cmd.CombinedOutput()
	}
	if _, err := exec.LookPath("go"); err != nil {
		skipUnlessStrict(t, "needs go, to build the runtime-tools suite from the Go module proxy")
	}
	for _, pkg := range []string{"github.com/opencontainers/runtime-tools/validation/...", "github.com/opencontainers/runtime-tools/cmd/runtimetest"} {
		if out, err := goTool("build", "-o", dir+"/", pkg); err != nil {
			skipUnlessStrict(t, fmt.Sprintf("cannot build the runtime-tools suite (needs the Go module proxy): %v\n%s", err, out))
		}
	}
	out, err := goTool("list", "-m", "-f", "{{.Dir}}", "github.com/opencontainers/runtime-tools")
	if err != nil {
		t.Fatalf("go list the suite's module: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// unpackRuntimeTools unpacks vmRuntimeTools (the groups of
// expected-pass-v2.txt, runtimetest and the rootfs tarball) into dir.
func unpackRuntimeTools(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open(vmRuntimeTools)
	if err != nil {
		t.Skipf("the VM has no %s (run-tests.sh packs it when it can build the suite): %v", vmRuntimeTools, err)
	}
	defer f.Close()
	z, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for r := tar.NewReader(z); ; {
		h, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("unpack %s: %v", vmRuntimeTools, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, filepath.Base(h.Name)), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
		if err == nil {
			_, err = io.Copy(out, r)
			err = errors.Join(err, out.Close())
		}
		if err != nil {
			t.Fatalf("unpack %s: %v", h.Name, err)
		}
	}
}

// expectedGroups are the groups that must pass: expected-pass.txt, or in
// the VM (cgroup v2) expected-pass-v2.txt.
func expectedGroups(t *testing.T) []string {
	name := "expected-pass.txt"
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		name = "expected-pass-v2.txt"
	}
	return readLines(t, filepath.Join(runtimeToolsDir, name))
}

// skipUnlessStrict skips (fails under MINIDOCKER_STRICT) with why; in
// the test VM, which has no Go, it always skips.
func skipUnlessStrict(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip(why)
	}
	skip.Because(t, why)
}

// TestOCIRuntimeToolsSuite runs every validation program of runtime-tools
// against minidocker-runc. A group passes cleanly when it exits 0 with a
// TAP plan and no "not ok". Every group of expected-pass.txt must pass;
// the others are explained in docs/11-oci-runtime.md.
func TestOCIRuntimeToolsSuite(t *testing.T) {
	r := newOCI(t)
	bin := t.TempDir()
	module := buildRuntimeTools(t, bin)
	work := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{filepath.Join(module, "rootfs-amd64.tar.gz"), filepath.Join(work, "rootfs-amd64.tar.gz")},
		{filepath.Join(bin, "runtimetest"), filepath.Join(work, "runtimetest")},
	} {
		data, err := os.ReadFile(f.from)
		if err == nil {
			err = os.WriteFile(f.to, data, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	bundles := suiteTmpdir(t)
	expected := expectedGroups(t)
	groups, _ := filepath.Glob(filepath.Join(bin, "*"))
	var passed []string
	ran := 0
	for _, g := range groups {
		name := filepath.Base(g)
		if name == "runtimetest" || strings.HasSuffix(name, ".tar.gz") {
			continue
		}
		ran++
		if runValidation(t, r, g, work, bundles, contains(expected, name)) {
			passed = append(passed, name)
		}
	}
	t.Logf("%d of %d groups pass cleanly: %s", len(passed), ran, strings.Join(passed, " "))
	for _, name := range expected {
		if !contains(passed, name) {
			t.Errorf("validation group %s no longer passes (its TAP is in the log above)", name)
		}
	}
}

// runValidation runs one validation program with RUNTIME=minidocker-runc;
// whether it passed cleanly. A failing expected one's output goes to the log.
func runValidation(t *testing.T, r *ociRuntime, program, work, bundles string, expected bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "RUNTIME="+r.bin, "MINIDOCKER_RUNC_ROOT="+r.root, "TMPDIR="+bundles)
	out, err := cmd.CombinedOutput()
	tap := string(out)
	ok := err == nil && strings.Contains(tap, "\n1..") && !strings.Contains(tap, "\nnot ok") && !strings.HasPrefix(tap, "not ok")
	if !ok && expected {
		t.Logf("%s: %v\n%s", filepath.Base(program), err, tap)
	}
	return ok
}

// suiteTmpdir is the TMPDIR of the suite's programs, which leave some of
// their bundles behind. Unlike t.TempDir()'s, it can be searched by the
// container's root of a user namespace (the bundle must be reachable for
// it), and it is removed at the end unless a mount was left inside.
func suiteTmpdir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "oci-suite-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), " "+dir+"/") {
			t.Errorf("mounts were left under %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// readLines reads a file's non-empty lines.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// ociImageTar writes a root filesystem holding the static helper as a tar.
func ociImageTar(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, "root", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(helperBinary)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "root", "helper"), data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	tar := filepath.Join(dir, "root.tar")
	if out, err := exec.Command("tar", "-C", filepath.Join(dir, "root"), "-cf", tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return tar
}

// ociPodman is one test's podman: storage and state of its own (vfs, so no
// mount outlives it), cgroupfs under minidocker's parent, no network, and
// ulimits this host grants (podman's default of 1048576 open files needs
// CAP_SYS_RESOURCE, which this machine's bounding set lacks, for runc too).
// The runtime keeps its records in its default root: podman passes
// --runtime-flag to its own calls, but not to the "podman container
// cleanup" that conmon runs when a container ends, and it clears the
// environment, so that cleanup would look elsewhere.
type ociPodman struct {
	t         *testing.T
	base, run []string
}

// newPodman makes a test's podman with minidocker-runc as its runtime.
func newPodman(t *testing.T, runtime string) *ociPodman {
	needProgram(t, "podman", "podman")
	needProgram(t, "conmon", "conmon")
	dir := t.TempDir()
	p := &ociPodman{t: t, base: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--network-config-dir", filepath.Join(dir, "networks"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--runtime", runtime}}
	p.run = []string{"--network", "none", "--cgroup-parent", "/minidocker", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	// podman makes /run/containers/networks whatever its flags say.
	if _, err := os.Stat("/run/containers"); os.IsNotExist(err) {
		t.Cleanup(func() {
			_ = os.Remove("/run/containers/networks")
			_ = os.Remove("/run/containers")
		})
	}
	t.Cleanup(func() {
		p.cmd("rm", "--all", "--force").Run()
		removeEmptyCgroups("/minidocker/conmon") // where conmon puts itself, under our parent
	})
	return p
}

// cmd is podman with the test's global flags.
func (p *ociPodman) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("podman", append(append([]string{}, p.base...), args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// must runs podman, failing the test unless it exits 0; its stdout.
func (p *ociPodman) must(args ...string) string {
	p.t.Helper()
	cmd := p.cmd(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if stderr.Len() > 0 {
		p.t.Logf("podman %s: %s", strings.Join(args, " "), stderr.String())
	}
	return string(out)
}

// removeEmptyCgroups removes the cgroup dir in every v1 hierarchy (or on
// v2), if it is empty; what a caller of the runtime made there.
func removeEmptyCgroups(dir string) {
	roots := []string{"/sys/fs/cgroup"}
	if !hostCgroupV2() {
		roots, _ = filepath.Glob("/sys/fs/cgroup/*")
	}
	for _, root := range roots {
		_ = syscall.Rmdir(filepath.Join(root, dir))
		_ = syscall.Rmdir(filepath.Join(root, filepath.Dir(dir)))
	}
}

func TestOCIPodman(t *testing.T) {
	r := newOCI(t)
	traced, calls := tracedRuntime(t)
	p := newPodman(t, traced)
	p.must("import", ociImageTar(t), "localhost/minidocker-oci:test")
	run := append(append([]string{"run"}, p.run...), "--rm", "localhost/minidocker-oci:test", "/helper", "print", "hi")
	if out := p.must(run...); out != "hi\n" {
		t.Errorf("podman run --rm: %q, want hi", out)
	}
	calls() // the --rm run's
	detached := append(append([]string{"run", "-d"}, p.run...), "localhost/minidocker-oci:test", "/helper", "hold")
	id := strings.TrimSpace(p.must(detached...))
	defaultRoot := &ociRuntime{t: t, bin: r.bin, root: "/run/minidocker-runc", log: r.log}
	if st := defaultRoot.state(id); st.Status != "running" {
		t.Errorf("podman's container in minidocker-runc's state: %s, want running", st.Status)
	}
	if out := p.must("exec", id, "/helper", "print", "in", "exec"); out != "in exec\n" {
		t.Errorf("podman exec: %q", out)
	}
	p.must("pause", id)
	if st := defaultRoot.state(id); st.Status != "paused" {
		t.Errorf("after podman pause, minidocker-runc's state: %s, want paused", st.Status)
	}
	p.must("unpause", id)
	p.must("stop", "-t", "1", id)
	p.must("rm", id)
	// conmon's "podman container cleanup" may still be deleting it.
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(defaultRoot.root, id)); return os.IsNotExist(err) })
	checkChapterCalls(t, "podman", calls())
	podmanTerminal(t, p)
}

// podmanTerminal runs podman run -it at a terminal: the runtime receives
// --console-socket, and the container's stdin is a pty.
func podmanTerminal(t *testing.T, p *ociPodman) {
	master, slave := openTestPty(t, 24, 80)
	defer master.Close()
	args := append(append([]string{"run", "-it", "--rm"}, p.run...), "localhost/minidocker-oci:test", "/helper", "tty")
	cmd := p.cmd(args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty = true, true
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	screen := &lockedBuffer{}
	go func() { _, _ = io.Copy(screen, master) }()
	if err := cmd.Wait(); err != nil {
		t.Errorf("podman run -it: %v\n%s", err, screen.String())
	}
	waitFor(t, func() bool { return strings.Contains(screen.String(), "stdin is /dev/pts/") })
}

func TestOCIContainerd(t *testing.T) {
	r := newOCI(t)
	needProgram(t, "containerd", "containerd")
	needProgram(t, "containerd-shim-runc-v2", "containerd")
	ctr := needProgram(t, "ctr", "containerd")
	sock := startContainerd(t)
	traced, calls := tracedRuntime(t)
	// The namespace names the cgroup (/NAMESPACE/ID) and runc's root
	// (/run/containerd/runc/NAMESPACE): minidocker's parent, cleaned up.
	c := func(args ...string) *exec.Cmd {
		return exec.Command(ctr, append([]string{"-a", sock, "-n", "minidocker"}, args...)...)
	}
	// What ctr and the shim make under /run/containerd, when it was not there.
	if _, err := os.Stat("/run/containerd"); os.IsNotExist(err) {
		t.Cleanup(func() {
			for _, d := range []string{"runc/minidocker", "runc", "fifo", "s", ""} {
				_ = os.Remove(filepath.Join("/run/containerd", d))
			}
		})
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := c(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	image := minidockerSave(t)
	must("images", "import", "--base-name", "docker.io/library/minidocker-oci", image)
	ref := "docker.io/library/minidocker-oci:test"
	if out := must("run", "--rm", "--runc-binary", r.bin, ref, "ctr1", "/helper", "print", "hi"); out != "hi\n" {
		t.Errorf("ctr run --rm: %q, want hi", out)
	}
	calls() // the --rm run's
	must("run", "-d", "--runc-binary", traced, ref, "ctr2", "/helper", "hold")
	if out := must("task", "exec", "--exec-id", "e1", "ctr2", "/helper", "print", "in", "exec"); out != "in exec\n" {
		t.Errorf("ctr task exec: %q", out)
	}
	must("task", "kill", "-s", "SIGKILL", "ctr2")
	waitFor(t, func() bool { return strings.Contains(must("task", "ls"), "STOPPED") })
	must("task", "delete", "ctr2")
	must("container", "delete", "ctr2")
	checkChapterCalls(t, "containerd", calls())
}

// startContainerd starts a containerd of the test's own (state, root and
// socket in a temporary directory, without the CRI plugin) and returns
// its socket; it is killed, by pid, at the end.
func startContainerd(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
	})
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	return sock
}

// minidockerSave makes an image of the helper with minidocker itself
// (import, then save: one tar in both Docker's and the OCI layout), for
// containerd to import: one state, many doors.
func minidockerSave(t *testing.T) string {
	t.Helper()
	root, out := t.TempDir(), filepath.Join(t.TempDir(), "image.tar")
	for _, args := range [][]string{
		{"--root", root, "import", ociImageTar(t), "minidocker-oci:test"},
		{"--root", root, "save", "-o", out, "minidocker-oci:test"},
	} {
		if b, err := exec.Command(finalBinary, args...).CombinedOutput(); err != nil {
			t.Fatalf("minidocker %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	return out
}

// tracedRuntime is minidocker-runc behind a shell wrapper that logs each
// command line it is given; calls reads the log, and empties it.
func tracedRuntime(t *testing.T) (bin string, calls func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	// The wrapper runs the binary through a link whose name ends in runc,
	// so /bin/sh is enough (no "exec -a"; the VM's shell is busybox's).
	real := filepath.Join(dir, "real", "minidocker-runc")
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(finalBinary, real); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "minidocker-runc")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", log, real)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, func() []string {
		data, _ := os.ReadFile(log)
		_ = os.Remove(log)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
}

// callShape is a runtime command line without its values: the verb and
// the flags, in order ("--root --log --log-format create --bundle
// --pid-file"), which is what the chapter's captured lines must match.
func callShape(line string) string {
	words := strings.Fields(strings.TrimPrefix(line, "minidocker-runc "))
	var shape []string
	verbSeen := false
	for i, w := range words {
		switch {
		case strings.HasPrefix(w, "--"):
			name, _, _ := strings.Cut(w, "=")
			shape = append(shape, name)
		case !verbSeen && (i == 0 || !strings.HasPrefix(words[i-1], "--") || strings.Contains(words[i-1], "=")):
			if w != "..." {
				shape = append(shape, w)
				verbSeen = true
			}
		}
	}
	return strings.Join(shape, " ")
}

// checkChapterCalls compares the command lines a caller sent with the
// block <!-- oci-calls NAME --> of docs/11-oci-runtime.md, by shape; the
// chapter's "..." stands for the global flags of the line above it.
func checkChapterCalls(t *testing.T, name string, calls []string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "11-oci-runtime.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "<!-- oci-calls "+name+" -->")
	block, _, _ = strings.Cut(block, "<!-- end -->")
	if !ok {
		t.Fatalf("docs/11-oci-runtime.md has no <!-- oci-calls %s --> block", name)
	}
	var want []string
	globals := ""
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "minidocker-runc ") {
			continue
		}
		shape := callShape(line)
		if strings.Contains(line, " ... ") {
			shape = strings.TrimSpace(globals + " " + shape)
		} else if i := strings.Index(shape, " create"); i > 0 {
			globals = shape[:i]
		}
		want = append(want, shape)
	}
	var got []string
	for _, c := range calls {
		got = append(got, callShape(c))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s called minidocker-runc otherwise than docs/11-oci-runtime.md shows:\n%s\nthe chapter shows:\n%s", name, strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}
