//go:build linux

package userns

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/tests/skip"
)

// TestShiftedCopy checks the fallback copy of a layer: owners shifted
// into the range, setuid mode, a hard link, a symlink, a whiteout, an
// opaque directory's attribute and times kept; a second call reuses the
// copy; an owner beyond the range is refused.
func TestShiftedCopy(t *testing.T) {
	skip.UnlessRoot(t)
	src := filepath.Join(t.TempDir(), "diff")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "d"), 0o750))
	must(os.WriteFile(filepath.Join(src, "a"), []byte("binary"), 0o755))
	must(unix.Chmod(filepath.Join(src, "a"), 0o4755)) // os.Chmod would drop 0o4000: Go spells it os.ModeSetuid
	must(os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	must(os.Symlink("a", filepath.Join(src, "l")))
	must(unix.Mknod(filepath.Join(src, "w"), unix.S_IFCHR, 0))
	must(os.Chown(filepath.Join(src, "d"), 1000, 1000))
	must(unix.Lsetxattr(filepath.Join(src, "d"), "trusted.overlay.opaque", []byte("y"), 0))
	r := Range{200000, Size}
	dst, err := ShiftedCopy(src, r, r)
	must(err)
	owner := func(name string) (st unix.Stat_t) {
		must(unix.Lstat(filepath.Join(dst, name), &st))
		return st
	}
	if a, b := owner("a"), owner("b"); a.Uid != 200000 || a.Mode&0o7777 != 0o4755 || a.Ino != b.Ino {
		t.Errorf("a: uid %d mode %o inode %d (b's %d); want 200000, 4755, one inode", a.Uid, a.Mode&0o7777, a.Ino, b.Ino)
	}
	if d := owner("d"); d.Uid != 201000 || d.Gid != 201000 || d.Mode&0o777 != 0o750 {
		t.Errorf("d: %d:%d mode %o; want 201000:201000 750", d.Uid, d.Gid, d.Mode&0o777)
	}
	if w := owner("w"); w.Mode&unix.S_IFMT != unix.S_IFCHR || w.Rdev != 0 {
		t.Errorf("the whiteout w is mode %o rdev %d", w.Mode, w.Rdev)
	}
	if l, err := os.Readlink(filepath.Join(dst, "l")); err != nil || l != "a" || owner("l").Uid != 200000 {
		t.Errorf("the symlink: %q, %v", l, err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "d"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("the opaque attribute: %q, %v", buf[:n], err)
	}
	if again, err := ShiftedCopy(src, r, r); err != nil || again != dst {
		t.Errorf("the second copy: %s, %v; want %s reused", again, err, dst)
	}
	must(os.Chown(filepath.Join(src, "a"), 70000, 0))
	if _, err := ShiftedCopy(src, Range{300000, Size}, Range{300000, Size}); err == nil {
		t.Error("a file owned by 70000 was copied into a range of 65536 ids")
	}
}
