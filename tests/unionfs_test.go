// Checks of step 06 and every step after it: the rootfs as a read-only
// image layer under a writable layer of each container's own, and volumes.

package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// keptLine is how a step narrates a writable layer kept with --keep.
var keptLine = regexp.MustCompile(`kept the writable layer: ls -la (\S+)/upper`)

// keepFlag is what keeps a run's writable layer: --keep in steps 06 and 07;
// from step 08 on every container is kept until rm, and the flag is gone.
func keepFlag(s step) []string {
	if s.number >= 8 {
		return nil
	}
	return []string{"--keep"}
}

// keptLayer returns the upper dir a --keep run left, and removes it when the test ends.
func keptLayer(t *testing.T, narration string) string {
	t.Helper()
	m := keptLine.FindStringSubmatch(narration)
	if m == nil {
		t.Fatalf("no kept writable layer narrated:\n%s", narration)
	}
	t.Cleanup(func() { os.RemoveAll(m[1]) })
	return filepath.Join(m[1], "upper")
}

func TestWritesLandInTheUpperLayer(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		image := minimalRootfs(t)
		r := mustRun(t, s, append(keepFlag(s), "--rootfs", image, "--", "sh", "-c", "echo written > /given-rootfs/x")...)
		upper := keptLayer(t, r.stderr)
		if data, err := os.ReadFile(filepath.Join(upper, "given-rootfs/x")); err != nil || string(data) != "written\n" {
			t.Errorf("the file written inside is not in the upper layer: %q, %v", data, err)
		}
		if _, err := os.Stat(filepath.Join(image, "given-rootfs/x")); err == nil {
			t.Errorf("the file written inside reached the image layer %s", image)
		}
	})
}

func TestDeletedFileBecomesAWhiteout(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, append(keepFlag(s), "--", "sh", "-c", "rm /bin/true; ls /bin/true 2>&1; exit 0")...)
		upper := keptLayer(t, r.stderr)
		if !strings.Contains(r.stdout, "No such file") {
			t.Errorf("after rm, /bin/true is still in the merged view: %q", r.stdout)
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(upper, "bin/true"), &st); err != nil {
			t.Fatalf("no whiteout in the upper layer: %v", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("upper/bin/true has mode %o rdev %d, want a character device 0/0", st.Mode, st.Rdev)
		}
	})
}

func TestRecreatedDirectoryIsOpaque(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		// A directory of a lower layer with a file in it, and nothing mounted inside.
		layer := t.TempDir()
		if err := os.MkdirAll(filepath.Join(layer, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(layer, "data", "from-below"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := mustRun(t, s, append(keepFlag(s), "--layer", layer, "--", "sh", "-c", "rm -r /data; mkdir /data; ls -A /data; echo listed")...)
		upper := keptLayer(t, r.stderr)
		if strings.TrimSpace(r.stdout) != "listed" {
			t.Errorf("the recreated /data shows the lower layer's files: %q", r.stdout)
		}
		value := make([]byte, 8)
		n, err := unix.Getxattr(filepath.Join(upper, "data"), "trusted.overlay.opaque", value)
		if err != nil {
			t.Fatalf("upper/data has no trusted.overlay.opaque: %v", err)
		}
		if string(value[:n]) != "y" {
			t.Errorf("upper/data: trusted.overlay.opaque = %q, want \"y\"", value[:n])
		}
	})
}

func TestLayersStackTopWins(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		var args []string
		for _, name := range []string{"A", "B", "C"} {
			dir := filepath.Join(t.TempDir(), name)
			files := map[string]string{"x": name + "\n", "only-" + name: name + "\n"}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for file, content := range files {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args = append(args, "--layer", dir)
		}
		r := mustRun(t, s, append(append([]string{"-q"}, args...), "--", "sh", "-c", "cat /x /only-A /only-B /only-C")...)
		if bad := run(t, s, "--layer", "/no/such/layer", "--", "true"); bad.code != 125 || strings.Contains(bad.stderr, "building") {
			t.Errorf("--layer /no/such/layer: exit %d, %q; want 125 before anything is built", bad.code, bad.stderr)
		}
		if got := strings.Join(lines(r.stdout), " "); got != "C A B C" {
			t.Errorf("layers A, B, C: /x and the only-* files read %q, want \"C A B C\" (one x, the top one)", got)
		}
	})
}

func TestTwoContainersOfOneImageDoNotSeeEachOther(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		image := minimalRootfs(t)
		script := `echo mine > /given-rootfs/$0; echo ready; read x; echo /given-rootfs/*`
		one := start(t, s, "-q", "--rootfs", image, "--", "sh", "-c", script, "one")
		two := start(t, s, "-q", "--rootfs", image, "--", "sh", "-c", script, "two")
		one.readLine(t)
		two.readLine(t) // both have written; neither has looked yet
		for name, sess := range map[string]*session{"one": one, "two": two} {
			sess.stdin.Write([]byte("go\n"))
			seen := sess.readLine(t)
			if seen != "/given-rootfs/"+name {
				t.Errorf("container %s sees %q in /given-rootfs, want only its own file", name, seen)
			}
			sess.finish(t)
		}
		if entries, _ := os.ReadDir(filepath.Join(image, "given-rootfs")); len(entries) != 0 {
			t.Errorf("the image layer was written to: %v", entries)
		}
	})
}

func TestVolumes(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		dir := filepath.Join(t.TempDir(), "volume")
		mustRun(t, s, "-q", "-v", dir+":/data", "--", "sh", "-c", "echo kept > /data/file")
		if data, err := os.ReadFile(filepath.Join(dir, "file")); err != nil || string(data) != "kept\n" {
			t.Errorf("the volume's data did not outlive the container: %q, %v", data, err)
		}
		r := run(t, s, "-q", "-v", dir+":/data:ro", "--", "sh", "-c", "echo more > /data/file")
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("writing to a read-only volume: exit %d, %q", r.code, r.stderr)
		}
		if r := run(t, s, "-v", "relative:/data", "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "must be absolute") {
			t.Errorf("-v relative:/data: exit %d, %q", r.code, r.stderr)
		}
		// A volume on a path the container mounts itself (/tmp) is not covered by that mount.
		mustRun(t, s, "-q", "-v", dir+":/tmp", "--", "sh", "-c", "echo on-tmp > /tmp/file2")
		if data, err := os.ReadFile(filepath.Join(dir, "file2")); err != nil || string(data) != "on-tmp\n" {
			t.Errorf("a volume on /tmp did not receive the write: %q, %v", data, err)
		}
	})
}

func TestUpperOnOverlayIsRefusedWithAFix(t *testing.T) {
	forSteps(t, stepsFrom(6), func(t *testing.T, s step) {
		containerTest(t)
		base := t.TempDir()
		for _, d := range []string{"lower", "upper", "work", "merged"} {
			if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		merged := filepath.Join(base, "merged")
		data := "lowerdir=" + base + "/lower,upperdir=" + base + "/upper,workdir=" + base + "/work"
		if err := unix.Mount("overlay", merged, "overlay", 0, data); err != nil {
			t.Fatalf("mount an overlay to test with: %v", err)
		}
		defer unix.Unmount(merged, 0)
		r := runWithEnv(t, s, []string{"TMPDIR=" + merged, "MINIDOCKER_ROOT=" + merged + "/state"}, "--rootfs", minimalRootfs(t), "--", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "which is on overlay") || !strings.Contains(r.stderr, "set TMPDIR") {
			t.Errorf("a writable layer on overlay: exit %d, %q; want 125 and a fix", r.code, r.stderr)
		}
		// Only the store itself (step 08 on) may exist: no container in it.
		entries, _ := os.ReadDir(merged)
		containers, _ := os.ReadDir(filepath.Join(merged, "state", "containers"))
		if len(containers) != 0 || len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != "state") {
			t.Errorf("the refused run left %v (containers %v) behind", entries, containers)
		}
	})
}
