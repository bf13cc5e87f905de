// The reference solutions of the labs' extension exercises
// (lab/solutions/NN-name.patch, docs/labs/answers/) are real: each patch
// applies to a copy of its step, the copy builds, and the patched program
// does what the exercise asks, checked the way the lab page says to
// check it. A patch without a check here fails the test.

package tests

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/minidocker/minidocker/tests/skip"
)

// solutionChecks run a patched step (bin) and say what is wrong, if anything.
var solutionChecks = map[string]func(t *testing.T, bin string){
	"01-cgroup-namespace.patch":   checkCgroupNamespace,
	"02-ro-bind.patch":            checkReadOnlyBind,
	"03-rootfs-tar.patch":         checkRootfsTar,
	"04-masked-paths.patch":       checkMaskedPaths,
	"05-memory-reservation.patch": checkMemoryReservation,
	"05-usage.patch":              checkUsage,
	"06-read-only.patch":          checkReadOnly,
	"07-network-host.patch":       checkNetworkHost,
	"08-diff.patch":               checkDiff,
	"08-verify-layers.patch":      checkVerifyLayers,
}

func TestLabsSolutionsApplyBuildAndWork(t *testing.T) {
	if os.Getenv("MINIDOCKER_STEP_BINS") != "" {
		t.Skip("the solutions are built from the sources here, not taken from MINIDOCKER_STEP_BINS (the test VM has no Go)")
	}
	stepSources(t)
	patches, _ := filepath.Glob(filepath.Join(repoRoot, "lab", "solutions", "*.patch"))
	if len(patches) == 0 {
		t.Fatal("no patch in lab/solutions")
	}
	for _, patch := range patches {
		name := filepath.Base(patch)
		t.Run(strings.TrimSuffix(name, ".patch"), func(t *testing.T) {
			check, ok := solutionChecks[name]
			if !ok {
				t.Fatalf("lab/solutions/%s has no check in solutionChecks", name)
			}
			bin := buildPatchedStep(t, patch)
			skip.UnlessRoot(t)
			containerTest(t)
			check(t, bin)
		})
	}
}

// buildPatchedStep copies the step a patch is for (lab/solutions/04-... is
// for step04-...) into a module of its own, applies the patch, and builds it.
func buildPatchedStep(t *testing.T, patch string) string {
	t.Helper()
	steps, _ := filepath.Glob(filepath.Join(repoRoot, "step"+filepath.Base(patch)[:2]+"-*"))
	if len(steps) != 1 {
		t.Fatalf("%s: no single step directory for it: %v", patch, steps)
	}
	step := filepath.Base(steps[0])
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(dir, f))
	}
	vendor, _ := filepath.Abs(filepath.Join(repoRoot, "vendor"))
	if err := os.Symlink(vendor, filepath.Join(dir, "vendor")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, steps[0], filepath.Join(dir, step))
	abs, _ := filepath.Abs(patch)
	for _, args := range [][]string{{"git", "apply", "--verbose", abs}, {"go", "build", "-o", filepath.Join(dir, "bin", step), "./" + step}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return filepath.Join(dir, "bin", step)
}

// runPatched runs bin with args and returns its exit status, stdout and stderr.
func runPatched(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if exit, ok := err.(*exec.ExitError); ok {
		status = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return status, stdout.String(), stderr.String()
}

// checkCgroupNamespace: inside, every line of /proc/self/cgroup names the root.
func checkCgroupNamespace(t *testing.T, bin string) {
	status, out, errs := runPatched(t, bin, nil, "-q", "--", "cat", "/proc/self/cgroup")
	if status != 0 || len(lines(out)) == 0 {
		t.Fatalf("cat /proc/self/cgroup: status %d\n%s%s", status, out, errs)
	}
	for _, line := range lines(out) {
		if !strings.HasSuffix(line, ":/") {
			t.Errorf("/proc/self/cgroup inside has %q: want every cgroup to be the namespace's root, /", line)
		}
	}
}

// checkReadOnlyBind: a directory bound with --ro-bind reads, refuses a
// write, and the host's copy is unchanged. The directory is in /var/tmp:
// step 02 covers /tmp with a tmpfs, and the repository itself may be
// under /tmp (a CI clone).
func checkReadOnlyBind(t *testing.T, bin string) {
	dir, err := os.MkdirTemp("/var/tmp", "minidocker-ro-bind-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dir, _ = filepath.Abs(dir)
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, out, errs := runPatched(t, bin, nil, "-q", "--ro-bind", dir+":"+dir, "--", "sh", "-c", "cat "+dir+"/marker; touch "+dir+"/new")
	if status == 0 || out != "from the host\n" || !strings.Contains(errs, "Read-only file system") {
		t.Errorf("--ro-bind: status %d, stdout %q, stderr %q; want the marker read, and touch refused with Read-only file system", status, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("the write through the read-only bind reached the host's directory")
	}
}

// checkRootfsTar: a tar holding only the static helper (and the mount
// points) runs it as the container's root; a tar that writes through a
// symlink it made is refused, and the symlink's target is untouched.
func checkRootfsTar(t *testing.T, bin string) {
	if helperBinary == "" {
		t.Fatal("tests/helper was not built")
	}
	helper, err := os.ReadFile(helperBinary)
	if err != nil {
		t.Fatal(err)
	}
	good := writeTar(t, []tar.Header{
		{Name: "proc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "helper", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(helper))},
	}, map[string][]byte{"helper": helper})
	status, out, errs := runPatched(t, bin, nil, "-q", "--rootfs-tar", good, "--", "/helper", "print", "from the tar")
	if status != 0 || out != "from the tar\n" {
		t.Errorf("--rootfs-tar: status %d, stdout %q, stderr %q; want the tar's /helper to print", status, out, errs)
	}
	victim := t.TempDir()
	evil := writeTar(t, []tar.Header{
		{Name: "a", Typeflag: tar.TypeSymlink, Linkname: victim},
		{Name: "a/evil", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
	}, map[string][]byte{"a/evil": []byte("x")})
	status, _, errs = runPatched(t, bin, nil, "-q", "--rootfs-tar", evil, "--", "true")
	if left, _ := os.ReadDir(victim); status != 125 || !strings.Contains(errs, "refusing to write through it") || len(left) != 0 {
		t.Errorf("a tar writing through its own symlink: status %d, %q, %d file(s) in the target; want 125, the refusal, none", status, errs, len(left))
	}
}

// writeTar writes a tar of headers (with the contents of regular files)
// and returns its path.
func writeTar(t *testing.T, headers []tar.Header, contents map[string][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rootfs.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for i := range headers {
		if err := tw.WriteHeader(&headers[i]); err != nil {
			t.Fatal(err)
		}
		if data, ok := contents[headers[i].Name]; ok {
			if _, err := tw.Write(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkMaskedPaths: every masked /proc file that this kernel has reads empty.
func checkMaskedPaths(t *testing.T, bin string) {
	script := `for f in kcore keys timer_list sched_debug; do [ -e /proc/$f ] && echo "$f $(wc -c < /proc/$f)"; done; true`
	status, out, errs := runPatched(t, bin, nil, "-q", "--", "sh", "-c", script)
	if status != 0 || len(lines(out)) == 0 {
		t.Fatalf("status %d, no masked file listed:\n%s%s", status, out, errs)
	}
	for _, line := range lines(out) {
		if !strings.HasSuffix(line, " 0") {
			t.Errorf("inside, /proc/%s bytes: want 0 (masked with /dev/null)", line)
		}
	}
}

// checkMemoryReservation: the soft limit reaches its cgroup file, and a
// reservation above -m is refused with Docker's message.
func checkMemoryReservation(t *testing.T, bin string) {
	status, _, errs := runPatched(t, bin, nil, "-m", "64m", "--memory-reservation", "32m", "--", "true")
	if status != 0 || !(strings.Contains(errs, "memory.low = 33554432") || strings.Contains(errs, "memory.soft_limit_in_bytes = 33554432")) {
		t.Errorf("--memory-reservation 32m: status %d, want memory.low or memory.soft_limit_in_bytes = 33554432 in:\n%s", status, errs)
	}
	status, _, errs = runPatched(t, bin, nil, "-q", "-m", "64m", "--memory-reservation", "128m", "--", "true")
	if want := "Minimum memory limit can not be less than memory reservation limit"; status != 125 || !strings.Contains(errs, want) {
		t.Errorf("reservation above -m: status %d, %q; want 125 and %q", status, errs, want)
	}
}

// checkUsage: a container that touched 32 MiB reports a peak of at least
// that, and some CPU time.
func checkUsage(t *testing.T, bin string) {
	status, _, errs := runPatched(t, bin, nil, "-m", "64m", "--", "load", "mem", "32m")
	m := regexp.MustCompile(`peak memory (\d+) bytes`).FindStringSubmatch(errs)
	if status != 0 || m == nil || !strings.Contains(errs, "CPU time ") {
		t.Fatalf("load mem 32m: status %d, want the peak memory and CPU time in the narration:\n%s", status, errs)
	}
	if peak, _ := strconv.ParseInt(m[1], 10, 64); peak < 32<<20 {
		t.Errorf("peak memory %d bytes after touching 32 MiB", peak)
	}
}

// checkReadOnly: / refuses writes, /tmp takes them.
func checkReadOnly(t *testing.T, bin string) {
	status, _, errs := runPatched(t, bin, nil, "-q", "--read-only", "--", "touch", "/x")
	if status == 0 || !strings.Contains(errs, "Read-only file system") {
		t.Errorf("--read-only, touch /x: status %d, %q; want a failure with Read-only file system", status, errs)
	}
	if status, _, errs = runPatched(t, bin, nil, "-q", "--read-only", "--", "touch", "/tmp/x"); status != 0 {
		t.Errorf("--read-only, touch /tmp/x: status %d, %s; want 0", status, errs)
	}
}

// checkNetworkHost: with --network host the container lists the links of
// the namespace it was started in, and -p is refused. Namespaces belong to
// threads: the step is started from this locked thread, and the links are
// read from this thread's namespace (/proc/net is the main thread's, which
// another test may have moved into a namespace of its own).
func checkNetworkHost(t *testing.T, bin string) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	status, out, errs := runPatched(t, bin, nil, "-q", "--network", "host", "--", "cat", "/proc/net/dev")
	host, err := os.ReadFile("/proc/thread-self/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := linkNames(out), linkNames(string(host)); status != 0 || got != want {
		t.Errorf("--network host: status %d, links %q, want the host's %q\n%s", status, got, want, errs)
	}
	status, _, errs = runPatched(t, bin, nil, "-q", "--network", "host", "-p", "8080:80", "--", "true")
	if status != 125 || !strings.Contains(errs, "needs --network bridge") {
		t.Errorf("--network host -p 8080:80: status %d, %q; want 125 and the -p refusal", status, errs)
	}
}

// linkNames lists the interfaces of a /proc/net/dev, sorted, space-separated.
func linkNames(dev string) string {
	var names []string
	for _, line := range lines(dev) {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// checkDiff: diff lists the changes of TestCommitMakesAnImageOfTheChanges.
func checkDiff(t *testing.T, bin string) {
	env := []string{"MINIDOCKER_ROOT=" + t.TempDir()}
	if status, _, errs := runPatched(t, bin, env, "-q", "--name", "demo", "--network", "none", "--", "sh", "-c", "mkdir -p /opt; touch /opt/x; rm /bin/true"); status != 0 {
		t.Fatalf("the run: status %d\n%s", status, errs)
	}
	defer runPatched(t, bin, env, "rm", "demo")
	status, out, errs := runPatched(t, bin, env, "diff", "demo")
	for _, want := range []string{"C /bin", "D /bin/true", "A /opt/x"} {
		if status != 0 || !strings.Contains("\n"+out, "\n"+want+"\n") {
			t.Errorf("diff demo: status %d, want a line %q in:\n%s%s", status, want, out, errs)
		}
	}
}

// checkVerifyLayers: a run on an image whose layer no longer hashes to its
// name is refused with 125, and no container is recorded.
func checkVerifyLayers(t *testing.T, bin string) {
	root := t.TempDir()
	env := []string{"MINIDOCKER_ROOT=" + root}
	if status, _, errs := runPatched(t, bin, env, "-q", "--rm", "--network", "none", "--", "true"); status != 0 {
		t.Fatalf("the first run (it makes base): status %d\n%s", status, errs)
	}
	layers, _ := filepath.Glob(filepath.Join(root, "layers", "*", "layer.tar"))
	if len(layers) == 0 {
		t.Fatalf("no layer in %s after the first run", root)
	}
	f, err := os.OpenFile(layers[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte("tampered"), 600)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	status, _, errs := runPatched(t, bin, env, "-q", "--rm", "--network", "none", "--", "true")
	if status != 125 || !strings.Contains(errs, "does not hash to its name") {
		t.Errorf("a run on a tampered layer: status %d, %q; want 125 and \"does not hash to its name\"", status, errs)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "containers")); len(left) != 0 {
		t.Errorf("the refused run left %d container record(s)", len(left))
	}
}
