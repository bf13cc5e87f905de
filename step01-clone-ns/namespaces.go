//go:build linux

// The namespaces: the command that clone(2) starts in new ones (this
// program again, as "init"), the flags that ask for them, and the table
// that shows them from both sides.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// containerCommand is the container side: this program again, through
// /proc/self/exe, with childArgs ("init" first), started by clone(2) in
// new namespaces.
func containerCommand(opts options, childArgs []string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", childArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: cloneFlags(opts),
		Pdeathsig:  syscall.SIGKILL, // if the host side dies, the container dies with it
	}
	if opts.userns {
		mapRootToUnprivileged(cmd.SysProcAttr)
	}
	return cmd
}

// startContainer clones the container side into its namespaces and shows
// them next to the host's.
func startContainer(cmd *exec.Cmd, opts options) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clone(%s): %w: the kernel refused the namespaces (is CONFIG_*_NS set, or a user.max_*_namespaces sysctl 0?)", cloneFlagNames(opts), err)
	}
	host("clone(%s) -> pid %d", cloneFlagNames(opts), cmd.Process.Pid)
	showNamespaces(cmd.Process.Pid, opts)
	return nil
}

// cloneFlags are the namespaces this step creates.
func cloneFlags(opts options) uintptr {
	// lab:cut step01 ask clone(2) for new PID, mount, IPC and network namespaces too (UTS is given, so sethostname cannot rename the host)
	flags := unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET
	// lab:end flags := unix.CLONE_NEWUTS
	if opts.userns {
		flags |= unix.CLONE_NEWUSER
	}
	return uintptr(flags)
}

// cloneFlagNames spells cloneFlags the way clone(2) does.
func cloneFlagNames(opts options) string {
	names := []string{"CLONE_NEWUTS", "CLONE_NEWPID", "CLONE_NEWNS", "CLONE_NEWIPC", "CLONE_NEWNET"}
	if opts.userns {
		names = append(names, "CLONE_NEWUSER")
	}
	return strings.Join(names, "|")
}

// mapRootToUnprivileged makes uid and gid 0..65535 inside the user namespace
// stand for userNamespaceBase.. outside, see user_namespaces(7).
func mapRootToUnprivileged(attr *syscall.SysProcAttr) {
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: userNamespaceBase, Size: 65536}}
	attr.UidMappings, attr.GidMappings = ids, ids
	attr.GidMappingsEnableSetgroups = true
	// Become uid 0 of the new namespace before execve, or the command
	// starts as an unmapped user and loses every capability.
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	host("uid_map and gid_map of the child: \"0 %d 65536\"", userNamespaceBase)
}

// showNamespaces prints each namespace's inode on the host and in the
// container: different numbers mean different namespaces.
func showNamespaces(pid int, opts options) {
	names := []string{"uts", "pid", "mnt", "ipc", "net"}
	if opts.userns {
		names = append(names, "user")
	}
	host("%-9s %-16s %s", "namespace", "host", "container")
	for _, ns := range names {
		outside, _ := os.Readlink("/proc/self/ns/" + ns)
		inside, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			inside = "(already exited)"
		}
		host("%-9s %-16s %s", ns, outside, inside)
	}
}
