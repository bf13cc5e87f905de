//go:build linux

// exec in a rootless container. Every rootless command has a user
// namespace of its own, and a container's namespaces are owned by the
// one of the command that started it: a sibling namespace's root holds
// no capability there, so an exec made like the other verbs could not
// join them. The user's own process outside can: the owner of a user
// namespace, in its parent, holds every capability in it. So exec runs
// twice:
//
//  1. as every command, in a namespace of its own, where it only finds
//     the container (names, state, "is it running?") and writes the pid
//     of its first process on targetFd;
//  2. then the user's process joins that pid's user namespace with
//     nsenter (a Go program cannot: setns(CLONE_NEWUSER) wants a
//     single-threaded caller) and executes this binary again with the
//     same arguments: the command now runs as root in the container's
//     own user namespace, and exec's usual path joins the container's
//     other namespaces (internal/container/userns.go).
package rootless

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// targetFd is the pipe on which an exec's first run writes its
// container's pid; envTarget says that the command has it.
const (
	targetFd  = 5
	envTarget = "MINIDOCKER_ROOTLESS_TARGET"
)

// target is targetFd in an exec's first run, nil elsewhere.
var target *os.File

// EnterContainer runs an exec command line (args) in the user namespace
// of its container (see above) and returns its exit status.
func EnterContainer(args []string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	status, err := enter(args, w, false)
	w.Close()
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(r)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil || pid <= 0 {
		return status, nil // the first run failed and said why
	}
	return execInNamespaceOf(pid, args)
}

// execInNamespaceOf runs this binary with args in the user namespace of
// pid, through nsenter, and returns its exit status. The user's ids are
// kept: the user is root there already.
func execInNamespaceOf(pid int, args []string) (int, error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return 0, fmt.Errorf("exec needs nsenter to join the container's user namespace, and it is not on PATH (Debian: apt-get install util-linux; busybox has it too)")
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return 0, fmt.Errorf("open the user namespace of the container's first process (pid %d): %w: the container has stopped", pid, errors.Unwrap(err))
	}
	defer ns.Close()
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer exe.Close()
	cmd := exec.Command(nsenter, append([]string{"--user=/proc/self/fd/3", "--preserve-credentials", "-F", "--", "/proc/self/fd/4"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{ns, exe}
	cmd.Env = append(os.Environ(), envMarker+"=1")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", nsenter, err)
	}
	ns.Close()
	exe.Close()
	stop := forwardSignals(cmd.Process, false)
	defer stop()
	return wait(cmd), nil
}

// keepTarget keeps targetFd open across FinishEntry's execve.
func keepTarget() error {
	if os.Getenv(envTarget) == "" {
		return nil
	}
	if _, err := unix.FcntlInt(targetFd, unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("keep the target pipe: %w", err)
	}
	return nil
}

// takeTarget takes targetFd in the re-executed command, if it has it.
func takeTarget() {
	if os.Getenv(envTarget) == "" {
		return
	}
	unix.CloseOnExec(targetFd)
	target = os.NewFile(targetFd, "rootless-target")
	os.Unsetenv(envTarget) // not for the processes this command starts
}

// Targeting reports whether this command is an exec's first run, which
// only names its container's process (WriteTarget).
func Targeting() bool {
	return target != nil
}

// WriteTarget gives the user's process outside the pid whose user
// namespace the exec must run in.
func WriteTarget(pid int) error {
	_, err := fmt.Fprintf(target, "%d\n", pid)
	target.Close()
	if err != nil {
		return fmt.Errorf("name the container's process to the user's process outside: %w", err)
	}
	return nil
}
