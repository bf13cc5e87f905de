//go:build linux

// Paths inside the root of an unpack. Every directory ApplyLayer writes
// into is opened here, with openat2(2) and RESOLVE_IN_ROOT, so that the
// kernel, not string handling, keeps symlinks and ".." below the root;
// RESOLVE_NO_MAGICLINKS also refuses /proc-style links that could jump
// anywhere. Whiteouts and opaque dirs are carried out here too, since
// they are the entries that remove things.

package overlay

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// openDir opens a directory below the root, resolving rel as if the root were "/".
func (a *applier) openDir(rel string) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   unix.O_DIRECTORY | unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(a.root, rel, &how)
		// EAGAIN: a rename raced with the lookup, and the kernel asks us to retry.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("openat2 %s in %s (RESOLVE_IN_ROOT): %w", rel, a.dir, err)
		}
		return fd, nil
	}
}

// openParent returns an fd for an entry's parent, creating missing
// directories; it keeps the last one open for the next entry. The cache
// cannot go stale: any entry that replaces an ancestor of the cached dir
// has a different parent and so replaces the cache first.
func (a *applier) openParent(rel string) (int, error) {
	if a.parentFd >= 0 && a.parent == rel {
		return a.parentFd, nil
	}
	a.closeParent()
	fd, err := a.openDir(rel)
	if errors.Is(err, unix.ENOENT) {
		if err = a.mkdirAll(rel); err == nil {
			fd, err = a.openDir(rel)
		}
	}
	if err != nil {
		return -1, err
	}
	a.parentFd, a.parent = fd, rel
	return fd, nil
}

// closeParent forgets the cached parent fd.
func (a *applier) closeParent() {
	if a.parentFd >= 0 {
		unix.Close(a.parentFd)
	}
	a.parentFd, a.parent = -1, ""
}

// mkdirAll creates the missing directories of rel (mode 0755), one
// component at a time, each inside the root. A component that exists but
// leads nowhere, such as a dangling symlink, is refused.
func (a *applier) mkdirAll(rel string) error {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := a.openDir(prefix)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		pfd, err := a.openDir(path.Dir(prefix))
		if err != nil {
			return err
		}
		err = unix.Mkdirat(pfd, parts[i], 0o755)
		unix.Close(pfd)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s exists but is not a directory inside %s (a dangling symlink?)", prefix, a.dir)
		}
		if err != nil {
			return fmt.Errorf("mkdirat %s in %s: %w", prefix, a.dir, err)
		}
	}
	return nil
}

// whiteout records the deletion of name in the dir parent: a 0/0 char
// device in overlay mode, a removal in flatten mode.
func (a *applier) whiteout(hdr *tar.Header, parent, name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout of %q", name)
	}
	target := path.Join(parent, name)
	if a.seen[target] {
		return nil // a whiteout hides only what lower layers made
	}
	if a.mode == ModeFlatten {
		fd, err := a.openDir(parent)
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return removeAllAt(fd, name)
	}
	pfd, err := a.openParent(parent)
	if err != nil {
		return err
	}
	if err := removeAllAt(pfd, name); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("mknodat whiteout %s: %w", target, err)
	}
	if err := unix.Fchmodat(pfd, name, uint32(hdr.Mode&0o777), 0); err != nil {
		return fmt.Errorf("fchmodat %s: %w", target, err)
	}
	return a.finishAt(&tar.Header{Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime}, pfd, name)
}

// opaque marks dir as hiding everything below it in lower layers: the
// trusted.overlay.opaque xattr in overlay mode; in flatten mode, removal
// of what this layer did not make.
func (a *applier) opaque(dir string) error {
	fd, err := a.openParent(dir)
	if err != nil {
		return err
	}
	if a.mode == ModeOverlay {
		name := trustedOpaque
		if UserXattr {
			name = userOpaque
		}
		if err := unix.Fsetxattr(fd, name, []byte("y"), 0); err != nil {
			return fmt.Errorf("fsetxattr %s %s: %w", dir, name, err)
		}
		return nil
	}
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, name := range names {
		if !a.seen[path.Join(dir, name)] {
			if err := removeAllAt(fd, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// readNames lists a directory given by fd, leaving fd's offset alone.
func readNames(dirFd int) ([]string, error) {
	fd, err := unix.Openat(dirFd, ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// removeAllAt removes name in the dir dirFd and, if it is a directory,
// everything below it, never following a symlink.
func removeAllAt(dirFd int, name string) error {
	err := unix.Unlinkat(dirFd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("unlinkat %s: %w", name, err)
	}
	fd, err := unix.Openat(dirFd, name, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("openat %s: %w", name, err)
	}
	names, err := readNames(fd)
	if err == nil {
		for _, child := range names {
			if err = removeAllAt(fd, child); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirFd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("rmdir %s: %w", name, err)
	}
	return nil
}
