//go:build linux

// Step 03 — chroot. Goal: give the container a root filesystem of its own,
// built from the host's binaries, and see that chroot alone can be escaped.
// Try: sudo go run ./step03-chroot -- ls /
//
// The program runs twice. First as the host side (this file, with flags.go,
// namespaces.go and exit.go): it parses the flags, builds a root filesystem
// in a temporary directory (rootfs.go), then re-executes itself through
// /proc/self/exe with the argument "init", asking clone(2) for new
// namespaces on the way. The copy that starts inside them is the container
// side (init.go): it makes its mounts private, mounts /tmp and /proc inside
// the rootfs, chroots into it and replaces itself with the command. The host
// side waits, passes on the exit status and removes the rootfs it built.
//
// New since step 02: rootfs.go builds the rootfs, init.go chroots into it,
// and --breakout (breakout.go) shows how a root process climbs out; run
// keeps the undo of each setup on one stack (undo.go).
// Changed from step02: stepName, about, options, parseFlags, run, containerInit.
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// stepName is how the program names itself in usage and error messages.
const stepName = "step03-chroot"

// about is the two-line explanation that -h prints above the flags.
const about = `Runs COMMAND (default /bin/sh) chrooted into a root filesystem built from
the host's binaries (or --rootfs DIR); --breakout shows why chroot is not enough.`

// userNamespaceBase is the host uid (and gid) that root inside a user namespace becomes.
const userNamespaceBase = 100000

// init pins the main goroutine to the main thread before main runs, on
// both sides. The kernel keeps the parent-death signal (PR_SET_PDEATHSIG)
// per thread: the container side must call execve from the thread that
// clone(2) made, since a thread the Go runtime starts later has none, and
// the command would outlive a killed host side; and the host side must
// clone from a thread that lives as long as it does, since the signal
// goes out when the cloning thread ends (go.dev/issue/27505).
func init() {
	runtime.LockOSThread()
}

// main dispatches: "init" marks the re-executed copy inside the namespaces.
func main() {
	// First of all, before the container side or anything else is started.
	if err := closeInheritedFiles(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stepName, err)
		os.Exit(125)
	}
	if len(os.Args) > 1 && os.Args[1] == "init" {
		os.Exit(initMain(os.Args[2:]))
	}
	os.Exit(hostMain(os.Args[1:]))
}

// closeInheritedFiles marks every file descriptor above stderr that this
// program inherited close-on-exec. Go closes at execve only the files it
// opened itself: a descriptor the caller's shell left open (exec 8</)
// would reach the container's command, and /proc/self/fd/8 would be the
// host's / in there, whatever the root (the shape of runc's CVE-2024-21626).
func closeInheritedFiles() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Linux before 5.11 has no CLOSE_RANGE_CLOEXEC: walk the list instead.
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

// hostMain is the host side: parse, check, run the container, return its status.
func hostMain(args []string) int {
	setupColor()
	opts, err := parseFlags(args)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\nRun '%s -h' for usage.\n", stepName, err, stepName)
		return 2
	}
	quiet = opts.quiet
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "%s: must run as root: creating namespaces needs CAP_SYS_ADMIN (try: sudo go run ./%s)\n", stepName, stepName)
		return 125
	}
	status, err := run(opts, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stepName, err)
		return 125
	}
	return status
}

// run starts the container side in new namespaces, waits for it and
// returns its exit status the way a shell reports it (128+signal if killed).
func run(opts options, args []string) (status int, err error) {
	// Catch Ctrl-C before anything is set up, so we always live to clean up.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(signals)

	// Every setup returns its undo; they all run, the last first, on return.
	var undo undos
	defer func() { err = undo.after(err) }()

	rootfs, removeRootfs, err := prepareRootfs(opts.rootfs)
	if err != nil {
		return 0, err
	}
	undo.push(removeRootfs)

	// The container side learns where the rootfs is from its arguments.
	cmd := containerCommand(opts, append([]string{"init", "--rootfs", rootfs}, args...))
	before, err := mountIDs()
	if err != nil {
		return 0, err
	}
	host("/ on the host has %s propagation", rootPropagation())
	if err := startContainer(cmd, opts); err != nil {
		return 0, err
	}
	go forwardSignals(signals, cmd.Process)

	status, err = waitContainer(cmd)
	if leakErr := checkPropagation(before, opts.noPrivate); err == nil {
		err = leakErr
	}
	return status, err
}
