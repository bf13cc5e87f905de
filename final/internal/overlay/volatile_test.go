//go:build linux

package overlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// volatileDirs makes lower (with one file), upper, work and merged dirs.
func volatileDirs(t *testing.T) (lower, upper, work, merged string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting an overlay needs root")
	}
	dir := t.TempDir()
	lower, upper, work, merged = filepath.Join(dir, "l"), filepath.Join(dir, "u"), filepath.Join(dir, "w"), filepath.Join(dir, "m")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "image"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return lower, upper, work, merged
}

// mountWrite mounts volatile, writes a file in the union and detaches it
// lazily, which leaves the kernel's marker as a killed container does.
func mountWrite(t *testing.T, lower, upper, work, merged string) {
	t.Helper()
	if err := MountVolatile([]string{lower}, upper, work, merged, 0); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(merged, "written"), []byte("x"), 0o644)
	unix.Unmount(merged, unix.MNT_DETACH)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(work, "work", "incompat", "volatile")); err != nil {
		t.Fatalf("no volatile marker after a volatile mount: %v", err)
	}
}

// TestMountVolatileAgainInThisBoot: a --rm container started again in the
// same boot (its monitor was killed) mounts its own work dir a second
// time, over the marker of the first mount, and keeps what it wrote.
func TestMountVolatileAgainInThisBoot(t *testing.T) {
	lower, upper, work, merged := volatileDirs(t)
	mountWrite(t, lower, upper, work, merged)
	if err := MountVolatile([]string{lower}, upper, work, merged, 0); err != nil {
		t.Fatalf("second volatile mount of the same work dir: %v", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	if _, err := os.Stat(filepath.Join(merged, "written")); err != nil {
		t.Errorf("the first mount's file is gone: %v", err)
	}
}

// TestMountVolatileAfterAnotherBoot: a marker from a mount the machine
// may have crashed after is refused when the upper dir holds something,
// and cleared when it holds nothing.
func TestMountVolatileAfterAnotherBoot(t *testing.T) {
	lower, upper, work, merged := volatileDirs(t)
	mountWrite(t, lower, upper, work, merged)
	if err := os.WriteFile(filepath.Join(work, bootFile), []byte("an-earlier-boot"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Mount([]string{lower}, upper, work, merged, 0)
	if err == nil {
		unix.Unmount(merged, unix.MNT_DETACH)
		t.Fatal("mounted a writable layer that may have lost writes")
	}
	if !strings.Contains(err.Error(), "volatile") || !strings.Contains(err.Error(), "remove the container") {
		t.Errorf("the refusal does not say why and what to do: %v", err)
	}
	if err := os.Remove(filepath.Join(upper, "written")); err != nil {
		t.Fatal(err)
	}
	if err := MountVolatile([]string{lower}, upper, work, merged, 0); err != nil {
		t.Fatalf("an empty upper dir with a marker: %v", err)
	}
	unix.Unmount(merged, unix.MNT_DETACH)
}

// TestMountVolatileReportsBothErrors: when the volatile attempt fails
// (here after the kernel made its marker: the upper dir is also a lower
// dir) and the plain mount fails too, the error holds both, and the
// plain mount fails for the same reason, not on the marker (EINVAL).
func TestMountVolatileReportsBothErrors(t *testing.T) {
	_, upper, work, merged := volatileDirs(t)
	err := MountVolatile([]string{upper}, upper, work, merged, 0)
	if err == nil {
		unix.Unmount(merged, unix.MNT_DETACH)
		t.Fatal("an overlay whose upper dir is its lower dir was mounted")
	}
	if n := strings.Count(err.Error(), unix.ELOOP.Error()); n != 2 || !strings.Contains(err.Error(), "with volatile") {
		t.Errorf("want both mounts' errors, got %v", err)
	}
}
