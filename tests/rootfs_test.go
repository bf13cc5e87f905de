// Checks of steps 03 and 04: a root filesystem of the container's own,
// chroot and its breakout, pivot_root, /dev and /sys.

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// rootfsEntries may appear in / of a rootfs built from the host.
var rootfsEntries = map[string]bool{
	"bin": true, "dev": true, "etc": true, "lib": true, "lib32": true, "lib64": true,
	"proc": true, "root": true, "sys": true, "tmp": true, "usr": true,
}

func TestRootIsTheRootfsNotTheHost(t *testing.T) {
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--", "ls", "/")
		inside := strings.Fields(r.stdout)
		for _, name := range inside {
			if !rootfsEntries[name] {
				t.Errorf("/ inside holds %q, which the rootfs does not have", name)
			}
		}
		if len(inside) < 5 {
			t.Errorf("/ inside holds only %v", inside)
		}
	})
}

func TestHostFileIsUnreachable(t *testing.T) {
	// The shell inside says it got that far, then cat fails for the one
	// right reason: the host's path does not exist in the rootfs. A step
	// that died before cat ran, or a cat that failed otherwise, fails this.
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		containerTest(t)
		marker := hostMarker(t)
		r := run(t, s, "-q", "--", "sh", "-c", "echo inside; cat "+marker+"; echo cat exited $?")
		if strings.Contains(r.stdout, "host secret") {
			t.Fatalf("cat %s inside printed the host's file", marker)
		}
		if r.stdout != "inside\ncat exited 1\n" || !strings.Contains(r.stderr, marker) || !strings.Contains(r.stderr, "No such file or directory") {
			t.Errorf("cat %s inside did not fail for want of the file: exit %d\nstdout:\n%s\nstderr:\n%s", marker, r.code, r.stdout, r.stderr)
		}
	})
}

func TestChrootBreakoutReachesTheHost(t *testing.T) {
	// The weakness of chroot, demonstrated: root inside climbs out.
	forSteps(t, stepsBetween(3, 3), func(t *testing.T, s step) {
		containerTest(t)
		marker := hostMarker(t)
		r := mustRun(t, s, "-q", "--breakout", "--", "cat", marker)
		if r.stdout != "host secret\n" {
			t.Errorf("after the breakout, cat %s printed %q, want the host's file", marker, r.stdout)
		}
	})
}

func TestBreakoutFailsAfterPivotRoot(t *testing.T) {
	forSteps(t, stepsFrom(4), func(t *testing.T, s step) {
		containerTest(t)
		marker := hostMarker(t)
		r := run(t, s, "--breakout", "--", "cat", marker)
		if !strings.Contains(r.stderr, "breakout: chdir(\"..\")") {
			t.Fatalf("the breakout was not attempted:\n%s", r.stderr)
		}
		if r.code == 0 || strings.Contains(r.stdout, "host secret") {
			t.Errorf("after pivot_root the breakout still reaches the host: exit %d, %q", r.code, r.stdout)
		}
	})
}

// hostMarker writes a file on the host that no container may reach.
func hostMarker(t *testing.T) string {
	t.Helper()
	marker := filepath.Join(sharedDir(t), "marker")
	if err := os.WriteFile(marker, []byte("host secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return marker
}

func TestEveryRootfsBinaryRuns(t *testing.T) {
	// A missing library makes the loader print this and exit 127.
	const script = `for b in /bin/*; do
	[ -L "$b" ] && continue
	out=$("$b" --help 2>&1)
	echo "RAN $b $?"
	case "$out" in *"error while loading shared libraries"*) echo "MISSING $b: $out";; esac
done`
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--", "sh", "-c", script)
		ran := 0
		for _, l := range lines(r.stdout) {
			switch {
			case strings.HasPrefix(l, "MISSING"):
				t.Error(l)
			case strings.HasPrefix(l, "RAN") && strings.HasSuffix(l, " 127"):
				t.Errorf("%s: exit 127", l)
			case strings.HasPrefix(l, "RAN"):
				ran++
			}
		}
		if ran == 0 {
			t.Errorf("no binary ran:\n%s\n%s", r.stdout, r.stderr)
		}
	})
}

func TestGivenRootfsIsUsedAndKept(t *testing.T) {
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		containerTest(t)
		dir := minimalRootfs(t)
		r := mustRun(t, s, "-q", "--rootfs", dir, "--", "sh", "-c", "echo /*")
		if !strings.Contains(r.stdout, "/given-rootfs") {
			t.Errorf("--rootfs %s: / inside is %q, want the given tree", dir, r.stdout)
		}
		if _, err := os.Stat(filepath.Join(dir, "given-rootfs")); err != nil {
			t.Errorf("the given rootfs was removed or damaged: %v", err)
		}
		if r := run(t, s, "--rootfs", "/no/such/dir"); r.code != 125 || !strings.Contains(r.stderr, "not a directory") {
			t.Errorf("--rootfs /no/such/dir: exit %d, %q", r.code, r.stderr)
		}
		// A rootfs the container cannot be set up in is minidocker's
		// failure (125), not "command not found" (127).
		if err := os.Remove(filepath.Join(dir, "tmp")); err != nil {
			t.Fatal(err)
		}
		if r := run(t, s, "--rootfs", dir, "--", "sh"); r.code != 125 || !strings.Contains(r.stderr, "/tmp") {
			t.Errorf("--rootfs without /tmp: exit %d, %q; want 125 naming /tmp", r.code, r.stderr)
		}
	})
}

// minimalRootfs makes a tree with only a shell in it: busybox when the host
// has a static one, else the host's sh with the libraries ldd names.
func minimalRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "given-rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{sh}
	if out, err := exec.Command("ldd", sh).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files = append(files, f)
			}
		}
	}
	for i, f := range files {
		dst := filepath.Join(dir, f)
		if i == 0 {
			dst = filepath.Join(dir, "bin/sh")
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMountinfoShowsNoHostMount(t *testing.T) {
	want := []string{"/", "/dev", "/dev/pts", "/dev/shm", "/proc", "/sys", "/tmp"}
	forSteps(t, stepsFrom(4), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--", "cat", "/proc/self/mountinfo")
		var got []string
		for _, l := range lines(r.stdout) {
			got = append(got, strings.Fields(l)[4])
		}
		sort.Strings(got)
		// From step 07 on, the container's own /etc files are a layer of
		// the overlay (etcfiles.go), not mounts.
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("mount points inside: %v, want %v", got, want)
		}
	})
}

func TestDevHoldsOnlyTheMinimalNodes(t *testing.T) {
	want := "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero"
	forSteps(t, stepsFrom(4), func(t *testing.T, s step) {
		containerTest(t)
		for _, userns := range []bool{false, true} {
			args := []string{"-q", "--", "sh", "-c", "ls /dev; echo written > /dev/null && echo null-ok"}
			if userns {
				args = append([]string{"--userns"}, args...)
			}
			r := mustRun(t, s, args...)
			got := lines(r.stdout)
			if len(got) == 0 || got[len(got)-1] != "null-ok" {
				t.Errorf("userns=%v: writing to /dev/null failed: %q %s", userns, r.stdout, r.stderr)
				continue
			}
			if nodes := strings.Join(got[:len(got)-1], " "); nodes != want {
				t.Errorf("userns=%v: /dev holds %q, want %q", userns, nodes, want)
			}
		}
	})
}

func TestSysIsReadOnly(t *testing.T) {
	forSteps(t, stepsFrom(4), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "-q", "--", "sh", "-c", `grep " /sys " /proc/self/mountinfo; mkdir /sys/kernel/x 2>&1 && echo WRITABLE; exit 0`)
		if !strings.Contains(r.stdout, " ro,") || strings.Contains(r.stdout, "WRITABLE") {
			t.Errorf("/sys inside is not read-only:\n%s", r.stdout)
		}
	})
}
