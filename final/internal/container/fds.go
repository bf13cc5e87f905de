//go:build linux

// What must not reach a container from the host: open file descriptors,
// a working directory outside its root, and the caller's session keyring. Both are the lesson of runc's
// CVE-2024-21626 ("Leaky Vessels"): runc held a descriptor of a host
// directory, close-on-exec, so open until the execve; an image whose
// working directory was /proc/self/fd/N made chdir land there, on the
// host's filesystem, and the container's command started outside its root.
// A caller does the same to minidocker when it leaves a descriptor open
// (`exec 8</; minidocker run …`): Go closes at execve only the files it
// opened itself, and passes every inherited one on. So, as runc since then:
// every descriptor above stderr is marked close-on-exec first thing in main
// and again before the command starts, and the working directory is opened
// inside the root and checked to be there after chdir.

package container

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/rootfs"
)

// CloseExtraFilesOnExec marks every file descriptor above 2 close-on-exec,
// so that no execve from here on passes one on: only stdio, and the fds a
// child is given explicitly (exec.Cmd.ExtraFiles), survive. Go's own files
// are close-on-exec already, so nothing of this process breaks.
func CloseExtraFilesOnExec() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Before Linux 5.11 there is no CLOSE_RANGE_CLOEXEC: walk the list.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list the open files in /proc/self/fd: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// enterWorkdir makes dir the working directory, resolved as if the
// container's root (the caller's "/") were all there is: no "..", symlink
// or magic link (/proc/self/fd/N) leads out, and with rootfs.MakeDirs the
// missing directories are made, there, as Docker does for run (exec makes
// nothing). getcwd(2) then proves it:
// the kernel answers "(unreachable)…", which Getwd turns into ENOENT, for
// a directory outside the root.
func enterWorkdir(dir string, missing rootfs.Missing) error {
	if dir == "" {
		dir = "/"
	}
	f, err := rootfs.OpenInRoot("/", dir, missing)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Fchdir(int(f.Fd())); err != nil {
		return fmt.Errorf("chdir %s: %w", dir, err)
	}
	if _, err := unix.Getwd(); err != nil {
		return fmt.Errorf("working directory %s is outside the container's root (getcwd: %w)", dir, err)
	}
	return nil
}

// newSessionKeyring gives the calling process a new, empty session
// keyring. Keys are not namespaced: without this, a container's process
// shares the session keyring of whoever started it (runc does the same;
// Docker's seccomp profile blocks the keyring calls besides). An
// anonymous keyring (no name) cannot be joined by name from elsewhere.
func newSessionKeyring() error {
	_, _, errno := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if errno != 0 && errno != unix.ENOSYS {
		return fmt.Errorf("keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): %w", errno)
	}
	return nil
}
