//go:build linux

// The marker a volatile overlay mount leaves in its work dir
// (final/internal/overlay/volatile.go).

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// leaveVolatileMarker mounts a --rm container's writable layer volatile
// over a lower dir of the test's and detaches it lazily, as a killed
// container leaves it: the kernel's marker stays in the work dir. With
// write, a file is written through the mount first.
func leaveVolatileMarker(t *testing.T, dir string, write bool) {
	t.Helper()
	lower, merged := t.TempDir(), t.TempDir()
	opts := "lowerdir=" + lower + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work") + ",volatile"
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	var err error
	if write {
		err = os.WriteFile(filepath.Join(merged, "written"), []byte("x"), 0o644)
	}
	unix.Unmount(merged, unix.MNT_DETACH)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "work", "work", "incompat", "volatile")); err != nil {
		t.Fatalf("the volatile mount left no marker: %v", err)
	}
}

// TestFinalStartOverAVolatileMarker: a --rm container whose work dir
// holds a volatile marker starts when its writable layer is empty (there
// is nothing to lose); when the layer holds files written by a mount
// minidocker cannot place in this boot, start refuses and says why.
func TestFinalStartOverAVolatileMarker(t *testing.T) {
	m := newMD(t)
	empty := strings.TrimSpace(m.must("create", "--rm", "--network", "none", "--name", "empty", "base", "true"))
	leaveVolatileMarker(t, filepath.Join(m.root, "containers", empty), false)
	m.must("start", "-a", "empty")

	written := strings.TrimSpace(m.must("create", "--rm", "--network", "none", "--name", "written", "base", "true"))
	leaveVolatileMarker(t, filepath.Join(m.root, "containers", written), true)
	m.fails(125, "mounted volatile (--rm) and the machine may have restarted since", "start", "-a", "written")
	if left := m.must("ps", "-aq"); left != "" {
		t.Errorf("a --rm container that could not start was kept: %q", left)
	}
}
