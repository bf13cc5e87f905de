//go:build linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// asUser is "helper asuser UID GID TUN PROG ARG...": run by root, it
// makes a mount namespace of its own in which the device node TUN (a
// tun device the test made, mode 0666) is bound over /dev/net/tun, then
// becomes UID:GID without supplementary groups and executes PROG. A
// rootless test uses it where the host's /dev/net/tun is root's alone
// (no udev rule made it 0666): the test's namespace gets one an
// unprivileged user may open, and the host's stays as it is.
func asUser() {
	if len(os.Args) < 6 {
		usage()
	}
	uid, err1 := strconv.Atoi(os.Args[2])
	gid, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil {
		usage()
	}
	runtime.LockOSThread() // the mount namespace is this thread's, which execs
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "helper asuser: %s: %v\n", what, err)
		os.Exit(125)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		fail("unshare(CLONE_NEWNS)", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("make / private", err)
	}
	if err := unix.Mount(os.Args[4], "/dev/net/tun", "", unix.MS_BIND, ""); err != nil {
		fail("bind "+os.Args[4]+" on /dev/net/tun", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		fail("setgroups", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		fail("setresgid", err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		fail("setresuid", err)
	}
	fail("execve "+os.Args[5], syscall.Exec(os.Args[5], os.Args[5:], os.Environ()))
}
