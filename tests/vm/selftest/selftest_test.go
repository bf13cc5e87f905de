//go:build linux

// Package selftest proves that the test VM (vm/run-tests.sh) is the machine
// the real suite expects: cgroup v2 with its controllers delegated, the
// kernel modules loaded, and a root from which pivot_root works.
//
// Every test skips outside the VM (MINIDOCKER_IN_VM unset), so `go test ./...`
// on a host runs nothing here. Run it with
//
//	MINIDOCKER_VM_PKG=./tests/vm/selftest bash tests/vm/run-tests.sh
//
// and prove that a failure inside the VM fails the host's command too with
//
//	MINIDOCKER_VM_PKG=./tests/vm/selftest bash tests/vm/run-tests.sh -selftest.fail
//
// and that a hang ends with the process list and status 124 with
//
//	MINIDOCKER_VM_PKG=./tests/vm/selftest MINIDOCKER_VM_TIMEOUT=150 bash tests/vm/run-tests.sh -selftest.hang
//
// The pivot_root test re-executes this test binary in a new mount namespace
// (see TestMain), the way a container runtime re-executes itself.
package selftest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// failOnPurpose makes TestFailOnPurpose fail, to check exit code propagation.
var failOnPurpose = flag.Bool("selftest.fail", false, "make TestFailOnPurpose fail")

// hangOnPurpose makes TestHangOnPurpose block, to check the watchdogs.
var hangOnPurpose = flag.Bool("selftest.hang", false, "make TestHangOnPurpose block for an hour")

// pivotChildEnv marks the re-executed child that tries pivot_root.
const pivotChildEnv = "MINIDOCKER_SELFTEST_PIVOT_CHILD"

// cgroupRoot is the cgroup2 mount of the VM.
const cgroupRoot = "/sys/fs/cgroup"

// controllers are the ones the steps use, and so the VM must delegate.
var controllers = []string{"cpu", "memory", "io", "pids", "cpuset"}

// directWriteEnv names the device the re-executed writer child writes to.
const directWriteEnv = "MINIDOCKER_SELFTEST_DIRECT_WRITE"

// directWriteBytes is how much the writer child writes: 2 MiB.
const directWriteBytes = 2 << 20

// TestMain runs the pivot_root or writer child when re-executed as one.
func TestMain(m *testing.M) {
	if dev := os.Getenv(directWriteEnv); dev != "" {
		if err := writeDirect(dev, directWriteBytes); err != nil {
			fmt.Fprintln(os.Stderr, "writer child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(pivotChildEnv) == "1" {
		if err := pivotIntoOverlay(); err != nil {
			fmt.Fprintln(os.Stderr, "pivot child:", err)
			os.Exit(1)
		}
		fmt.Println("pivot-root-ok")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// requireVM skips the test outside the VM.
func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("MINIDOCKER_IN_VM") == "" {
		t.Skip("runs only inside the test VM: MINIDOCKER_VM_PKG=./tests/vm/selftest bash tests/vm/run-tests.sh")
	}
}

// readWords returns the whitespace-separated words of a file.
func readWords(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// contains reports whether words holds w.
func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// TestCgroup2IsMounted checks the file system type of /sys/fs/cgroup.
func TestCgroup2IsMounted(t *testing.T) {
	requireVM(t)
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s has f_type %#x, want CGROUP2_SUPER_MAGIC %#x", cgroupRoot, st.Type, unix.CGROUP2_SUPER_MAGIC)
	}
}

// TestControllersDelegated checks each controller is offered and enabled.
func TestControllersDelegated(t *testing.T) {
	requireVM(t)
	offered := readWords(t, filepath.Join(cgroupRoot, "cgroup.controllers"))
	enabled := readWords(t, filepath.Join(cgroupRoot, "cgroup.subtree_control"))
	for _, c := range controllers {
		t.Run(c, func(t *testing.T) {
			if !contains(offered, c) {
				t.Errorf("cgroup.controllers = %v, lacks %s", offered, c)
			}
			if !contains(enabled, c) {
				t.Errorf("cgroup.subtree_control = %v, lacks %s", enabled, c)
			}
		})
	}
}

// TestChildCgroupLimits creates a child cgroup, sets one limit per
// controller, reads each back, and removes the cgroup.
func TestChildCgroupLimits(t *testing.T) {
	requireVM(t)
	dir := filepath.Join(cgroupRoot, "minidocker-selftest")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	}()
	var ram unix.Stat_t
	if err := unix.Stat("/dev/ram0", &ram); err != nil {
		t.Fatalf("/dev/ram0 (from brd) is needed for io.max: %v", err)
	}
	limits := []struct{ file, value, want string }{
		{"memory.max", "67108864", "67108864"},
		{"cpu.max", "150000 100000", "150000 100000"},
		{"cpu.weight", "50", "50"},
		{"pids.max", "20", "20"},
		{"cpuset.cpus", "0", "0"},
		{"io.max", fmt.Sprintf("%d:%d wbps=1048576", unix.Major(ram.Rdev), unix.Minor(ram.Rdev)),
			fmt.Sprintf("%d:%d rbps=max wbps=1048576 riops=max wiops=max", unix.Major(ram.Rdev), unix.Minor(ram.Rdev))},
	}
	for _, l := range limits {
		t.Run(l.file, func(t *testing.T) {
			path := filepath.Join(dir, l.file)
			if err := os.WriteFile(path, []byte(l.value), 0); err != nil {
				t.Fatalf("write %q to %s: %v", l.value, path, err)
			}
			if got := strings.TrimSpace(string(mustRead(t, path))); got != l.want {
				t.Errorf("%s = %q, want %q", path, got, l.want)
			}
		})
	}
}

// TestProcessMovesIntoChildCgroup moves a process into a child cgroup and
// back, then removes the cgroup.
func TestProcessMovesIntoChildCgroup(t *testing.T) {
	requireVM(t)
	dir := filepath.Join(cgroupRoot, "minidocker-selftest-procs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	}()
	sleep := exec.Command("/bin/sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Wait()
	defer sleep.Process.Kill()
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(fmt.Sprint(sleep.Process.Pid)), 0); err != nil {
		t.Fatalf("move pid %d into %s: %v", sleep.Process.Pid, dir, err)
	}
	if got := strings.TrimSpace(string(mustRead(t, procs))); got != fmt.Sprint(sleep.Process.Pid) {
		t.Errorf("%s = %q, want pid %d", procs, got, sleep.Process.Pid)
	}
	if err := os.WriteFile(filepath.Join(cgroupRoot, "cgroup.procs"), []byte(fmt.Sprint(sleep.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
}

// TestIOMaxThrottlesDirectWrites writes 2 MiB with O_DIRECT to /dev/ram0
// from a child started inside a cgroup whose io.max allows 1 MiB/s: it must
// take about two seconds (unthrottled, it takes milliseconds).
func TestIOMaxThrottlesDirectWrites(t *testing.T) {
	requireVM(t)
	var ram unix.Stat_t
	if err := unix.Stat("/dev/ram0", &ram); err != nil {
		t.Fatalf("/dev/ram0 (from brd): %v", err)
	}
	dir := filepath.Join(cgroupRoot, "minidocker-selftest-io")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	limit := fmt.Sprintf("%d:%d wbps=%d", unix.Major(ram.Rdev), unix.Minor(ram.Rdev), 1<<20)
	if err := os.WriteFile(filepath.Join(dir, "io.max"), []byte(limit), 0); err != nil {
		t.Fatalf("write %q to io.max: %v", limit, err)
	}
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), directWriteEnv+"=/dev/ram0")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writer child: %v\n%s", err, out)
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("2 MiB at io.max wbps=1MiB/s took %v, want about 2s: the limit does not hold", took)
	}
}

// writeDirect writes n zero bytes to dev with O_DIRECT, in 64 KiB blocks
// from a page-aligned buffer (O_DIRECT requires the alignment).
func writeDirect(dev string, n int) error {
	fd, err := unix.Open(dev, unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s O_DIRECT: %w", dev, err)
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 64<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(buf)
	for done := 0; done < n; done += len(buf) {
		if _, err := unix.Write(fd, buf); err != nil {
			return fmt.Errorf("write %s at %d: %w", dev, done, err)
		}
	}
	return nil
}

// mustRead returns a file's bytes or stops the test.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestModulesLoaded checks for what the overlay, veth, bridge, brd and loop
// modules provide.
func TestModulesLoaded(t *testing.T) {
	requireVM(t)
	if fs := readWords(t, "/proc/filesystems"); !contains(fs, "overlay") {
		t.Errorf("/proc/filesystems lacks overlay")
	}
	for _, m := range []string{"veth", "bridge", "brd", "loop", "nf_tables", "nf_nat"} {
		if _, err := os.Stat("/sys/module/" + m); err != nil {
			t.Errorf("module %s not loaded: %v", m, err)
		}
	}
	for _, dev := range []string{"/dev/ram0", "/dev/loop-control"} {
		if _, err := os.Stat(dev); err != nil {
			t.Errorf("%s missing: %v", dev, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/ram0", &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFBLK {
		t.Errorf("/dev/ram0 mode %#o is not a block device", st.Mode)
	}
}

// TestRootIsNotRootfs checks / is a tmpfs with a parent, not the initramfs.
func TestRootIsNotRootfs(t *testing.T) {
	requireVM(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		t.Errorf("/ has f_type %#x, want TMPFS_MAGIC %#x", st.Type, unix.TMPFS_MAGIC)
	}
}

// TestPivotRootWorks re-executes this binary in a new mount namespace,
// where it mounts an overlay and pivot_roots into it.
func TestPivotRootWorks(t *testing.T) {
	requireVM(t)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), pivotChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pivot-root-ok") {
		t.Fatalf("pivot_root child: %v\n%s", err, out)
	}
}

// pivotIntoOverlay runs in the child: overlay on /tmp, pivot_root into it.
func pivotIntoOverlay() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	base, err := os.MkdirTemp("/tmp", "pivot")
	if err != nil {
		return err
	}
	lower, upper, work, merged := base+"/lower", base+"/upper", base+"/work", base+"/merged"
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(lower+"/hello", []byte("from lower"), 0o644); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s (%s): %w", merged, opts, err)
	}
	if err := os.Mkdir(merged+"/old", 0o755); err != nil {
		return err
	}
	if err := unix.PivotRoot(merged, merged+"/old"); err != nil {
		return fmt.Errorf("pivot_root(%s, %s/old): %w", merged, merged, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/old", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount2(/old, MNT_DETACH): %w", err)
	}
	if b, err := os.ReadFile("/hello"); err != nil || string(b) != "from lower" {
		return fmt.Errorf("after pivot_root, /hello = %q, %v", b, err)
	}
	if _, err := os.Stat("/minidocker"); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("after pivot_root the old root is still visible: stat /minidocker: %v", err)
	}
	return nil
}

// TestFailOnPurpose fails only with -selftest.fail, to prove that a failure
// inside the VM becomes a nonzero exit of vm/run-tests.sh.
func TestFailOnPurpose(t *testing.T) {
	requireVM(t)
	if *failOnPurpose {
		t.Fatal("failing on purpose (-selftest.fail)")
	}
}

// TestHangOnPurpose blocks in a child process only with -selftest.hang, to
// prove that a hung suite ends in a process list and exit status 124.
func TestHangOnPurpose(t *testing.T) {
	requireVM(t)
	if *hangOnPurpose {
		t.Log("hanging on purpose (-selftest.hang): sleep 3600")
		if err := exec.Command("/bin/sleep", "3600").Run(); err != nil {
			t.Fatal(err)
		}
	}
}
