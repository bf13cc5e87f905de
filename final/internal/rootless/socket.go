//go:build linux

// The rootless daemon's socket. The daemon runs inside the user's
// namespaces like every rootless command, but its clients (the docker
// CLI, an SDK) run outside, as the user: the socket must be where they
// can reach it.

package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SocketPath is the rootless daemon's default socket,
// $XDG_RUNTIME_DIR/minidocker.sock, where rootless Docker has its
// docker.sock; XDG_RUNTIME_DIR is checked as RuntimeDir checks it.
func SocketPath() (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(dir), "minidocker.sock"), nil
}

// outsideRootFd is the root directory of the user's process outside,
// in the daemon (EnterDaemon); envOutsideRoot says that it has it.
const (
	outsideRootFd  = 6
	envOutsideRoot = "MINIDOCKER_ROOTLESS_ROOT"
)

// outsideRoot is outsideRootFd in the daemon, nil elsewhere.
var outsideRoot *os.File

// openOutsideRoot opens this process's root directory, to pass to the
// daemon. The daemon cannot open /proc/PPID/root itself: reading another
// process's root needs CAP_SYS_PTRACE in that process's user namespace,
// the host's, where the daemon has none.
func openOutsideRoot() (*os.File, error) {
	f, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open / for the daemon: %w", err)
	}
	return f, nil
}

// keepOutsideRoot keeps outsideRootFd open across FinishEntry's execve.
func keepOutsideRoot() error {
	if os.Getenv(envOutsideRoot) == "" {
		return nil
	}
	if _, err := unix.FcntlInt(outsideRootFd, unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("keep the root directory outside: %w", err)
	}
	return nil
}

// takeOutsideRoot takes outsideRootFd in the re-executed daemon. It is
// closed on exec again at once: a directory of the host's mount
// namespace is the last thing a container may inherit.
func takeOutsideRoot() error {
	if os.Getenv(envOutsideRoot) == "" {
		return nil
	}
	os.Unsetenv(envOutsideRoot) // not for the processes this command starts
	if _, err := unix.FcntlInt(outsideRootFd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return fmt.Errorf("close the root directory outside on exec: %w", err)
	}
	outsideRoot = os.NewFile(outsideRootFd, "outside-root")
	return nil
}

// CheckReachable checks that the socket at path is the one the user's
// process outside finds there: the same inode, looked up from that
// process's root directory, through the mounts of its own mount
// namespace. A socket made on a mount that only the rootless mount
// namespace has would be out of every client's reach. That namespace
// makes no mount of its own today; this keeps the daemon right whatever
// comes later. Without the root outside (a daemon not started by
// EnterDaemon) there is nothing to compare with.
func CheckReachable(path string) error {
	if outsideRoot == nil {
		return nil
	}
	var inside, outside unix.Stat_t
	if err := unix.Lstat(path, &inside); err != nil {
		return fmt.Errorf("stat the socket %s: %w", path, err)
	}
	err := unix.Fstatat(int(outsideRoot.Fd()), strings.TrimPrefix(path, "/"), &outside, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && (inside.Dev != outside.Dev || inside.Ino != outside.Ino) {
		err = fmt.Errorf("another file is there")
	}
	if err != nil {
		return fmt.Errorf("the socket %s cannot be reached from outside the rootless namespace, where it is on a mount of the namespace's own (%v): choose a --host on a directory of yours, e.g. under $XDG_RUNTIME_DIR", path, err)
	}
	return nil
}
