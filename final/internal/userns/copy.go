//go:build linux

package userns

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ShiftedCopy returns a copy of the image layer dir whose owners are
// shifted into the ranges (host 0 becomes uids.Start, root inside): the
// fallback for a kernel or filesystem without id-mapped mounts (before
// Linux 6.3, tmpfs). The copy is made once per range, next to the layer
// (so it goes when the layer goes), built under a temporary name and
// renamed into place, so that racing containers share one complete copy.
func ShiftedCopy(dir string, uids, gids Range) (string, error) {
	dst := filepath.Join(filepath.Dir(dir), fmt.Sprintf("remapped-%d-%d", uids.Start, gids.Start))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".remapping-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := copyShifted(dir, filepath.Join(tmp, "diff"), uids, gids); err != nil {
		return "", fmt.Errorf("copy the layer %s for the range %d/%d: %w", dir, uids.Start, gids.Start, err)
	}
	if err := os.Rename(filepath.Join(tmp, "diff"), dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return "", err
	}
	return dst, nil
}

// copyShifted copies the tree src to dst (which must not exist): every
// kind of file overlay's layers hold (whiteouts are 0/0 character
// devices), hard links as hard links, extended attributes (opaque
// directories, file capabilities), modes and times, owners shifted.
func copyShifted(src, dst string, uids, gids Range) error {
	links := map[uint64]string{} // inode -> its first copy
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, strings.TrimPrefix(path, src))
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", path, err)
		}
		if first, ok := links[st.Ino]; ok && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return os.Link(first, target)
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			links[st.Ino] = target
		}
		if err := makeLike(path, target, &st); err != nil {
			return err
		}
		if err := finish(path, target, &st, uids, gids); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			dirs = append(dirs, target)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return dirTimes(src, dst, dirs)
}

// makeLike makes target as the same kind of file as path.
func makeLike(path, target string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return os.Mkdir(target, 0o700)
	case unix.S_IFREG:
		return copyFile(path, target)
	case unix.S_IFLNK:
		dest, err := os.Readlink(path)
		if err == nil {
			err = os.Symlink(dest, target)
		}
		return err
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		return unix.Mknod(target, st.Mode, int(st.Rdev))
	}
	return nil // a socket: nothing to copy
}

// copyFile copies a regular file's content.
func copyFile(path, target string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// finish gives target path's shifted owner, then its mode (chown clears
// setuid bits), extended attributes (after chown, which drops file
// capabilities) and, but for directories, its times.
func finish(path, target string, st *unix.Stat_t, uids, gids Range) error {
	if st.Uid >= uids.Size || st.Gid >= gids.Size {
		return fmt.Errorf("%s is owned by %d:%d, beyond the range's %d ids", path, st.Uid, st.Gid, uids.Size)
	}
	if err := unix.Lchown(target, int(uids.Start+st.Uid), int(gids.Start+st.Gid)); err != nil {
		return fmt.Errorf("lchown %s: %w", target, err)
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFLNK {
		if err := unix.Chmod(target, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", target, err)
		}
	}
	if err := copyXattrs(path, target); err != nil {
		return err
	}
	if kind == unix.S_IFDIR {
		return nil
	}
	return setTimes(target, st)
}

// copyXattrs copies every extended attribute of path to target.
func copyXattrs(path, target string) error {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("llistxattr %s: %w", path, err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		value := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(path, name, value)
		if err == nil {
			err = unix.Lsetxattr(target, name, value[:vn], 0)
		}
		if err != nil {
			return fmt.Errorf("copy the attribute %s of %s: %w", name, path, err)
		}
	}
	return nil
}

// setTimes gives target the access and modification times of st.
func setTimes(target string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimensat %s: %w", target, err)
	}
	return nil
}

// dirTimes sets the directories' times last, deepest first: making their
// entries changed them.
func dirTimes(src, dst string, dirs []string) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(src, strings.TrimPrefix(dirs[i], dst)), &st); err != nil {
			return err
		}
		if err := setTimes(dirs[i], &st); err != nil {
			return err
		}
	}
	return nil
}
