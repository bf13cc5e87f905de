//go:build linux

// Step 08 — commit. Goal: keep each container's writable layer after it
// exits, and turn it into an image layer, stored by its digest, so that a
// new image is its parent's layers plus one. Try:
// sudo go run ./step08-commit --name demo -- sh -c 'mkdir /opt; touch /opt/x'; sudo go run ./step08-commit commit demo mine
//
// The program runs twice. First as the host side (this file, with flags.go,
// namespaces.go and exit.go): it parses the flags and checks the limits and
// volumes, takes an address for the container and writes its /etc files
// (network.go), finds the image in the store (store.go; "base" is made from
// the host's binaries on first use), records a new container with its
// writable layer (commit.go, overlay.go), makes its cgroup (cgroups.go),
// then re-executes itself through /proc/self/exe with the argument "init",
// asking clone(2) for new namespaces on the way, and wires its network
// (network.go). The copy that starts inside them is the container side
// (init.go): it waits until the host has put it into its cgroup and wired
// its network, makes its mounts private, mounts the union of the layers and
// the volumes, mounts /tmp, /proc, /sys and /dev, pivots into the union and
// replaces itself with the command. The host side waits, passes on the exit
// status, says whether the OOM killer struck, records how the container
// ended and removes its network and cgroup; the container and its writable
// layer stay until "rm" (or --rm).
//
// New since step 07: store.go (layers by digest, images, containers),
// layers.go (overlay whiteouts to and from tar), commit.go (the verbs
// commit, images, rm, rmi; run stays the default). --keep is gone: every
// container is kept until rm (or --rm).
// Changed from step07: stepName, about, options, main, parseFlags, run, prepareLayers, removeContainerDir.
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// stepName is how the program names itself in usage and error messages.
const stepName = "step08-commit"

// about is the two-line explanation that -h prints above the flags.
const about = `Runs COMMAND (default /bin/sh) in a container of an image (--image, default
base); the container is kept until rm, and "commit" makes its changes an image.
Verbs: run (the default), commit CONTAINER REPO[:TAG], images, rm CONTAINER, rmi IMAGE.`

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

// main dispatches: started under the name "load" (the copy in the rootfs,
// load.go) it generates load; "init" marks the re-executed copy inside the
// namespaces; commit, images, rm and rmi are the store's verbs (commit.go);
// "run", or no verb at all, is the host side.
func main() {
	// First of all, before the container side or anything else is started.
	if err := closeInheritedFiles(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", stepName, err)
		os.Exit(125)
	}
	if filepath.Base(os.Args[0]) == "load" {
		os.Exit(loadMain(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "init" {
		os.Exit(initMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && verbs[os.Args[1]] != nil {
		os.Exit(verbMain(os.Args[1], os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Exit(hostMain(os.Args[2:]))
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

	// Check every flag before anything is created.
	lim, err := checkFlags(opts)
	if err != nil {
		return 0, err
	}
	// The container's address is taken, and its /etc files written, before it starts.
	netw, err := prepareNetwork(opts.network, opts.hostname)
	if err != nil {
		return 0, err
	}
	undo.push(netw.release)
	st, err := openStore(opts.root)
	if err != nil {
		return 0, err
	}
	lower, ctr, err := containerLayers(st, opts)
	if err != nil {
		return 0, err
	}
	undo.push(func() error { return recordExit(st, ctr, status) })
	overlay, merged, removeLayers, err := prepareLayers(lower, st.containerDir(ctr.ID), append(opts.layers, netw.etcDir), !opts.rm, opts.userns)
	if err != nil {
		return 0, err
	}
	undo.push(removeLayers)
	cg, err := createCgroup(opts.limits.cgroupParent, cgroupName(), lim)
	if err != nil {
		return 0, err
	}
	undo.push(cg.remove)

	// The container side learns where to mount the union from its arguments.
	cmd := containerCommand(opts, append([]string{"init", "--merged", merged, "--overlay", overlay}, args...))
	before, err := mountIDs()
	if err != nil {
		return 0, err
	}
	host("/ on the host has %s propagation", rootPropagation())
	if err := startHeld(cmd, opts, cg.add, netw.attach); err != nil {
		return 0, err
	}
	go forwardSignals(signals, cmd.Process)

	status, err = waitContainer(cmd)
	cg.reportOOM(status)
	if leakErr := checkPropagation(before, opts.noPrivate); err == nil {
		err = leakErr
	}
	return status, err
}

// startHeld starts the container side held on a pipe, its fd 3, which it
// reads before anything else; runs the host's last steps on it (each is
// given its pid: into its cgroup, and from step 07 its network); and
// only then writes the byte that lets it go on. If a step fails, the
// container is killed and reaped before the error returns.
func startHeld(cmd *exec.Cmd, opts options, steps ...func(pid int) error) error {
	ready, release, err := os.Pipe()
	if err != nil {
		return err
	}
	defer release.Close()
	cmd.ExtraFiles = []*os.File{ready}
	err = startContainer(cmd, opts)
	ready.Close() // the container side has its own copy now
	if err != nil {
		return err
	}
	for _, step := range steps {
		if err := step(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
	}
	host("write to the pipe: the container may go on")
	if _, err := release.Write([]byte{0}); err != nil {
		return fmt.Errorf("release the container: %w", err)
	}
	return nil
}
