// Checks of step 05 and every step after it: cgroup limits, enforced by
// the kernel, on whichever cgroup version this host runs (v1 here, v2 in
// the test VM: make test-v2).

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hostCgroupV2 reports whether this host runs the unified hierarchy.
func hostCgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

func TestMemoryLimitOOMKills(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		// No swap, so that 100M cannot hide in it (Docker's default allows as much swap as memory).
		limit := []string{"-q", "-m", "64m", "--memory-swap", "64m", "--"}
		small := mustRun(t, s, append(limit, "load", "mem", "32m")...)
		if !strings.Contains(small.stdout, "allocated and touched 32 MiB") {
			t.Errorf("32M under a 64m limit did not survive:\n%s%s", small.stdout, small.stderr)
		}
		big := run(t, s, append(limit, "load", "mem", "100m")...)
		if big.code != 137 || !strings.Contains(big.stderr, "OOM killed") {
			t.Errorf("100M under a 64m limit: exit %d, stderr %q; want 137 and \"OOM killed\"", big.code, big.stderr)
		}
		if strings.Contains(big.stdout, "allocated and touched") {
			t.Errorf("100M under a 64m limit was allocated:\n%s", big.stdout)
		}
	})
}

func TestCgroupFilesHoldTheLimits(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		sess := start(t, s, "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "-c", "512", "--cpuset-cpus", "0",
			"--", "sh", "-c", "cat /proc/self/cgroup; echo ready; read x; exit 0")
		var inside []string
		for line := sess.readLine(t); line != "ready"; line = sess.readLine(t) {
			inside = append(inside, line)
		}
		v2 := hostCgroupV2()
		if want := map[bool]string{true: "cgroup v2", false: "cgroup v1"}[v2]; !strings.Contains(sess.stderr.String(), want) {
			t.Errorf("the host runs %s, the step says otherwise:\n%s", want, sess.stderr)
		}
		want := map[string]string{
			"memory.limit_in_bytes": "67108864", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000",
			"pids.max": "50", "cpu.shares": "512", "cpuset.cpus": "0",
		}
		if v2 {
			want = map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000", "pids.max": "50", "cpu.weight": "20", "cpuset.cpus": "0"}
		}
		dirs := cgroupDirs(sess.stderr.String())
		if len(dirs) == 0 {
			t.Fatalf("no cgroup directory narrated:\n%s", sess.stderr)
		}
		for file, value := range want {
			got := readCgroupFile(dirs, file)
			if got != value {
				t.Errorf("%s = %q on the host while the container runs, want %q", file, got, value)
			}
		}
		if !strings.Contains(strings.Join(inside, "\n"), "/minidocker/step") {
			t.Errorf("the container's /proc/self/cgroup does not name its cgroup:\n%s", strings.Join(inside, "\n"))
		}
		if code := sess.finish(t); code != 0 {
			t.Errorf("exit %d", code)
		}
		for _, dir := range dirs {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s still exists after the container ended", dir)
			}
		}
	})
}

// mkdirLine finds the cgroup directories a step narrates making.
var mkdirLine = regexp.MustCompile(`mkdir (/sys/fs/cgroup/\S+)`)

// cgroupDirs lists the cgroup directories named in narration.
func cgroupDirs(narration string) []string {
	var dirs []string
	for _, m := range mkdirLine.FindAllStringSubmatch(narration, -1) {
		dirs = append(dirs, m[1])
	}
	return dirs
}

// readCgroupFile reads a file from whichever of dirs has it.
func readCgroupFile(dirs []string, file string) string {
	for _, dir := range dirs {
		if data, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
			return strings.TrimSpace(string(data))
		}
	}
	return "(missing)"
}

// cpuLine is what load cpu prints.
var cpuLine = regexp.MustCompile(`load cpu: \d+ busy thread\(s\), ([\d.]+)s: ([\d.]+)s of CPU time = (\d+)% of one CPU`)

// cpuPercent runs load cpu in a step with flags and returns the % of one CPU it got.
func cpuPercent(t *testing.T, s step, flags []string, threads int) float64 {
	t.Helper()
	args := append(append([]string{"-q"}, flags...), "--", "load", "cpu", strconv.Itoa(threads), "4")
	r := mustRun(t, s, args...)
	m := cpuLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("load cpu printed %q", r.stdout)
	}
	wall, _ := strconv.ParseFloat(m[1], 64)
	used, _ := strconv.ParseFloat(m[2], 64)
	return 100 * used / wall
}

func TestCPUQuota(t *testing.T) {
	cases := []struct {
		cpus    string
		threads int
		quota   float64 // % of one CPU
	}{
		{"1.5", 3, 150},
		{"0.5", 1, 50},
	}
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		for _, c := range cases {
			// Side by side with a run without a limit, so that a busy
			// machine is not mistaken for a quota.
			freeBefore := cpuPercent(t, s, nil, c.threads)
			got := cpuPercent(t, s, []string{"--cpus", c.cpus}, c.threads)
			freeAfter := cpuPercent(t, s, nil, c.threads)
			want := min(freeBefore, freeAfter, c.quota)
			t.Logf("%d busy threads: %.0f%% and %.0f%% of one CPU free, %.0f%% with --cpus %s",
				c.threads, freeBefore, freeAfter, got, c.cpus)
			if got > c.quota*1.15 || got < want*0.8 {
				t.Errorf("--cpus %s with %d busy threads got %.0f%% of one CPU, want about %.0f%%", c.cpus, c.threads, got, want)
			}
		}
	})
}

func TestCPUSharesSplitOneCPU(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		// Two containers on CPU 0, started first and then made busy at the
		// same moment, so that neither runs alone while the other starts.
		sessions := map[string]*session{}
		for _, shares := range []string{"1024", "512"} {
			sessions[shares] = start(t, s, "-q", "--cpuset-cpus", "0", "-c", shares, "--",
				"sh", "-c", "echo ready; read go; exec load cpu 1 6")
		}
		for _, sess := range sessions {
			sess.readLine(t)
		}
		for _, sess := range sessions {
			sess.stdin.Write([]byte("go\n"))
		}
		used := map[string]float64{}
		for shares, sess := range sessions {
			line := sess.readLine(t)
			m := cpuLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("-c %s: load cpu printed %q", shares, line)
			}
			used[shares], _ = strconv.ParseFloat(m[2], 64)
			sess.finish(t)
		}
		ratio := used["1024"] / used["512"]
		t.Logf("CPU time: shares 1024 %.2fs, shares 512 %.2fs, ratio %.2f", used["1024"], used["512"], ratio)
		if ratio < 1.5 || ratio > 2.8 {
			t.Errorf("shares 1024 vs 512 on one CPU gave a CPU time ratio of %.2f, want about 2", ratio)
		}
	})
}

func TestPidsLimitStopsAForkLoop(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--pids-limit", "20", "--", "sh", "-c", "load fork; echo survived")
		var started int
		if _, err := fmt.Sscanf(r.stdout, "load fork: started %d processes", &started); err != nil {
			t.Fatalf("load fork printed %q: %v", r.stdout, err)
		}
		if started >= 20 || !strings.Contains(r.stdout, "resource temporarily unavailable") {
			t.Errorf("--pids-limit 20: %d processes started, output %q", started, r.stdout)
		}
		if !strings.Contains(r.stdout, "survived") {
			t.Errorf("the container did not survive its fork loop:\n%s", r.stdout)
		}
	})
}

func TestDeviceWriteBpsHoldsTheRate(t *testing.T) {
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t)
		device, mountpoint := loopFilesystem(t)
		// The step builds its rootfs under TMPDIR, and from step 08 on keeps
		// its containers in MINIDOCKER_ROOT: both on the loop device.
		env := []string{"TMPDIR=" + mountpoint, "MINIDOCKER_ROOT=" + filepath.Join(mountpoint, "state")}
		rate := func(flags ...string) float64 {
			args := append(append([]string{"-q"}, flags...), "--", "load", "write", "/written", "6m")
			r := runWithEnv(t, s, env, args...)
			var mib int
			var seconds, mibps float64
			if _, err := fmt.Sscanf(r.stdout, "load write: %d MiB in %fs = %f MiB/s", &mib, &seconds, &mibps); err != nil {
				t.Fatalf("load write printed %q, %q: %v", r.stdout, r.stderr, err)
			}
			return mibps
		}
		free := rate()
		limited := rate("--device-write-bps", device+":2mb")
		t.Logf("direct writes to %s: %.1f MiB/s free, %.2f MiB/s limited to 2mb", device, free, limited)
		if limited > 2.5 {
			t.Errorf("--device-write-bps %s:2mb let through %.2f MiB/s", device, limited)
		}
		if free < 2*limited {
			t.Errorf("without a limit the device gives only %.2f MiB/s: the test proves nothing", free)
		}
	})
}

// loopFilesystem makes an ext2 filesystem on a loop device and mounts it;
// all of it is undone when the test ends.
func loopFilesystem(t *testing.T) (device, mountpoint string) {
	t.Helper()
	image := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(image, 256<<20); err != nil {
		t.Fatal(err)
	}
	device = attachLoop(t, image)
	if out, err := exec.Command("mke2fs", "-F", device).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs %s: %v\n%s", device, err, out)
	}
	mountpoint = t.TempDir()
	if err := unix.Mount(device, mountpoint, "ext2", 0, ""); err != nil {
		t.Fatalf("mount %s: %v", device, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mountpoint, 0) })
	return device, mountpoint
}

// attachLoop binds a free loop device to image, see loop(4).
func attachLoop(t *testing.T, image string) string {
	t.Helper()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no loop devices: %v", err)
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		t.Fatal(err)
	}
	device := fmt.Sprintf("/dev/loop%d", n)
	loop, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	backing, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()
	if err := unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_FD, int(backing.Fd())); err != nil {
		t.Fatalf("LOOP_SET_FD %s: %v", device, err)
	}
	t.Cleanup(func() {
		_ = unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0)
		loop.Close()
	})
	return device
}

func TestBadLimitsAreRefusedBeforeAnythingIsMade(t *testing.T) {
	cases := []struct {
		flags []string
		want  string
	}{
		{[]string{"--cpus", "99"}, fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", nproc(), nproc())},
		{[]string{"-m", "1m"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"-m", "64x"}, "invalid size: '64x'"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "Minimum memoryswap limit should be larger than memory limit"},
		{[]string{"--memory-swap", "64m"}, "You should always set the Memory limit when using Memoryswap limit"},
		{[]string{"--device-write-bps", "/dev/null:1mb"}, "/dev/null is not a block device"},
		{[]string{"--device-read-iops", "/dev/null"}, "want DEVICE:RATE"},
		{[]string{"--cpuset-cpus", "999"}, "Requested CPUs are not available"},
		{[]string{"-c", "1"}, "shares range from 2 to 262144"},
		// A flag that does not parse is a usage error (status 2), said as Docker says it.
		{[]string{"--cpus", "abc"}, `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`},
	}
	forSteps(t, stepsFrom(5), func(t *testing.T, s step) {
		containerTest(t) // and so: nothing may be created
		for _, c := range cases {
			r := run(t, s, append(c.flags, "--", "true")...)
			code := 125
			if strings.HasPrefix(c.want, "invalid argument") {
				code = 2
			}
			if r.code != code || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.flags, r.code, r.stderr, code, c.want)
			}
			if strings.Contains(r.stderr, "clone(") || strings.Contains(r.stderr, "building a root filesystem") {
				t.Errorf("%v: the step started working before refusing:\n%s", c.flags, r.stderr)
			}
		}
	})
}

// nproc is the number of CPUs this process may use.
func nproc() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return 1
	}
	return set.Count()
}
