//go:build linux

// The root a copy (cp, the archive endpoints) goes through: the
// container's "/" as the kernel shows it to the container. For a running
// container that is /proc/PID/root, which is its root directory in its
// own mount namespace: its volumes and tmpfs mounts are there, as `docker
// cp` sees them. A container that does not run has no mount namespace:
// its layers are mounted, as at its start, in a mount namespace of one
// locked thread, so that the mount vanishes with the thread and nothing
// else sees it; its lock is held meanwhile, so that no start uses the
// upper dir at the same time. Every path is then resolved inside that
// root (overlay.OpenIn: openat2 with RESOLVE_IN_ROOT).

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// withRoot runs fn with an fd of container c's root; write says fn
// writes into it.
func withRoot(s *session, c *state.Container, write bool, fn func(rootFd int) error) error {
	if write && c.HostConfig.ReadonlyRootfs {
		return conflictf("container rootfs is marked read-only")
	}
	if fd, ok := runningRoot(c); ok {
		defer unix.Close(fd)
		return fn(fd)
	}
	c, unlock, err := s.rt.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if fd, ok := runningRoot(c); ok { // started while we waited for the lock
		defer unix.Close(fd)
		return fn(fd)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, and its mount namespace, end with this goroutine
		done <- mountedRoot(s, c, write, fn)
	}()
	return <-done
}

// runningRoot opens /proc/PID/root of a running container: only while
// PID is still the container's process (a pid can be reused).
func runningRoot(c *state.Container) (int, bool) {
	if !container.Running(c) {
		return -1, false
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", c.State.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false
	}
	if !procfs.Alive(c.State.Pid, c.Minidocker.PidStartTime) {
		unix.Close(fd)
		return -1, false
	}
	return fd, true
}

// mountedRoot mounts a stopped container's layers in a mount namespace
// of this (locked) thread and runs fn on the result: read-only, with the
// upper dir as one more lower dir, to read; with its upper and work dirs,
// as the container itself mounts them, to write.
func mountedRoot(s *session, c *state.Container, write bool, fn func(rootFd int) error) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := rootfs.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	p := container.PathsIn(s.rt.State.Dir(c.ID))
	var err error
	switch {
	case !write:
		err = overlay.Mount(append([]string{p.Upper}, c.Minidocker.Layers...), "", "", p.Rootfs, unix.MS_RDONLY)
	case c.HostConfig.AutoRemove: // as init.go mounts it
		err = overlay.MountVolatile(c.Minidocker.Layers, p.Upper, p.Work, p.Rootfs, 0)
	default:
		err = overlay.Mount(c.Minidocker.Layers, p.Upper, p.Work, p.Rootfs, 0)
	}
	if err != nil {
		return err
	}
	defer unix.Unmount(p.Rootfs, unix.MNT_DETACH)
	fd, err := unix.Open(p.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p.Rootfs, err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

// rootOwner is who a file copied into c without -a belongs to: the
// container's root, which is a host id of its range with --userns-remap.
func rootOwner(c *state.Container) *overlay.Owner {
	if m := c.Minidocker.IDMap; m != nil && len(m.UIDMappings) > 0 && len(m.GIDMappings) > 0 {
		return &overlay.Owner{UID: int(m.UIDMappings[0].HostID), GID: int(m.GIDMappings[0].HostID)}
	}
	return &overlay.Owner{}
}

// noFileError is a path that is not in the container: the API's 404.
type noFileError struct{ msg string }

// Error says which path, in Docker's words.
func (e *noFileError) Error() string { return e.msg }

// Is makes the error a state.ErrNotFound, for the API's status.
func (e *noFileError) Is(target error) bool { return target == state.ErrNotFound }

// errNoFile is the error for path p missing in the container the user called ref.
func errNoFile(ref, p string) error {
	return &noFileError{fmt.Sprintf("Could not find the file %s in container %s", p, ref)}
}

// statIn is overlay.StatIn with Docker's error for a missing path.
func statIn(ref string, rootFd int, p string) (overlay.PathStat, error) {
	st, err := overlay.StatIn(rootFd, p)
	if errors.Is(err, os.ErrNotExist) {
		return st, errNoFile(ref, p)
	}
	return st, err
}

// openDirIn opens the directory p inside the root (following a final
// symlink, inside the root) to copy into.
func openDirIn(ref string, rootFd int, p string) (int, error) {
	fd, err := overlay.OpenIn(rootFd, p, true)
	if errors.Is(err, os.ErrNotExist) {
		return -1, errNoFile(ref, p)
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, invalidf("extraction point is not a directory: %s", p)
	}
	return fd, nil
}
