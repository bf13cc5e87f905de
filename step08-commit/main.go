//go:build linux

// Step 08 — commit. Goal: keep each container's writable layer after it
// exits, and turn it into an image layer, stored by its digest, so that a
// new image is its parent's layers plus one. Try:
// sudo go run ./step08-commit --name demo -- sh -c 'mkdir /opt; touch /opt/x'; sudo go run ./step08-commit commit demo mine
//
// The program runs twice. First as the host side (this file): it parses the
// flags and checks the limits and volumes, takes an address for the
// container and writes its /etc files (network.go), finds the image in the
// store (store.go; "base" is made from the host's binaries on first use),
// records a new container with its writable layer (commit.go, overlay.go),
// makes its cgroup (cgroups.go), then re-executes itself through
// /proc/self/exe with the argument "init", asking clone(2) for new
// namespaces on the way, and wires its network (network.go). The copy that
// starts inside them is the container side (init.go): it waits until the
// host has put it into its cgroup and wired its network, makes its mounts
// private, mounts the union of the layers and the volumes, mounts /tmp,
// /proc, /sys and /dev, pivots into the union and replaces itself with the
// command. The host side waits, passes on the exit status, says whether the
// OOM killer struck, records how the container ended and removes its network
// and cgroup; the container and its writable layer stay until "rm" (or --rm).
//
// New since step 07: store.go (layers by digest, images, containers),
// layers.go (overlay whiteouts to and from tar), commit.go (the verbs
// commit, images, rm, rmi; run stays the default).
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
	"strings"
	"syscall"

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

// options are the parsed command line; both sides of the program build the same.
type options struct {
	hostname  string
	userns    bool
	noPrivate bool
	rootfs    string
	breakout  bool
	limits    limitFlags
	layers    []string
	volumes   []string
	keep      bool
	image     string
	name      string
	rm        bool
	root      string
	merged    string // set by the host side for the container side
	overlay   string // set by the host side for the container side
	network   networkFlags
	quiet     bool
	command   []string
}

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

// parseFlags reads the flags and the command; flags stop at the first
// non-flag word, so "ls -l" passes -l to ls.
func parseFlags(args []string) (options, error) {
	var o options
	fs := pflag.NewFlagSet(stepName, pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.StringVar(&o.hostname, "hostname", "box", "hostname inside the container")
	fs.BoolVar(&o.userns, "userns", false, fmt.Sprintf("add a user namespace: root inside is uid %d outside", userNamespaceBase))
	fs.BoolVar(&o.noPrivate, "no-private", false, "demonstration: skip MS_PRIVATE and watch mounts propagate to a shared host")
	fs.StringVar(&o.rootfs, "rootfs", "", "use the root filesystem in `DIR` instead of building one")
	fs.BoolVar(&o.breakout, "breakout", false, "demonstration: escape the chroot before running the command")
	addLimitFlags(fs, &o.limits)
	addNetworkFlags(fs, &o.network)
	fs.StringArrayVar(&o.layers, "layer", nil, "stack `DIR` as a read-only layer over the rootfs (repeatable; later is higher)")
	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount a volume: HOST:CONTAINER[:ro]")
	fs.BoolVar(&o.keep, "keep", false, "kept from step 06; from step 08 on every container is kept until rm (or --rm)")
	fs.StringVar(&o.image, "image", "base", "the image to run (\"base\" is made from the host on first use)")
	fs.StringVar(&o.name, "name", "", "a name for the container")
	fs.BoolVar(&o.rm, "rm", false, "remove the container and its writable layer when it exits")
	fs.StringVar(&o.root, "root", stateRoot(), "state directory: images, layers and containers")
	fs.StringVar(&o.merged, "merged", "", "")
	fs.StringVar(&o.overlay, "overlay", "", "")
	_ = fs.MarkHidden("merged")
	_ = fs.MarkHidden("overlay")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "do not narrate the kernel calls")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: sudo go run ./%s [flags] [--] [command [args...]]\n\n%s\n\nFlags:\n%s",
			stepName, about, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.command = fs.Args()
	if len(o.command) == 0 {
		o.command = []string{"/bin/sh"}
	}
	return o, nil
}

// run starts the container side in new namespaces, waits for it and
// returns its exit status the way a shell reports it (128+signal if killed).
func run(opts options, args []string) (status int, err error) {
	// Catch Ctrl-C before anything is set up, so we always live to clean up.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(signals)

	// Check every limit before anything is created.
	lim, err := parseLimits(opts.limits)
	if err != nil {
		return 0, err
	}
	if err := checkLayers(opts.layers); err != nil {
		return 0, err
	}
	if err := prepareVolumes(opts.volumes); err != nil {
		return 0, err
	}
	// The container's address is taken, and its /etc files written, before it starts.
	netw, err := prepareNetwork(opts.network, opts.hostname)
	if err != nil {
		return 0, err
	}
	defer func() {
		if releaseErr := netw.release(); err == nil {
			err = releaseErr
		}
	}()
	st, err := openStore(opts.root)
	if err != nil {
		return 0, err
	}
	lower, ctr, err := containerLayers(st, opts)
	if err != nil {
		return 0, err
	}
	defer func() {
		if recordErr := recordExit(st, ctr, status); err == nil {
			err = recordErr
		}
	}()
	overlay, merged, removeLayers, err := prepareLayers(lower, st.containerDir(ctr.ID), append(opts.layers, netw.etcDir), !opts.rm, opts.userns)
	if err != nil {
		return 0, err
	}
	defer func() {
		if removeErr := removeLayers(); err == nil {
			err = removeErr
		}
	}()
	cg, err := createCgroup(opts.limits.cgroupParent, fmt.Sprintf("step08-%d", os.Getpid()), lim)
	if err != nil {
		return 0, err
	}
	defer func() {
		if removeErr := cg.remove(); err == nil {
			err = removeErr
		}
	}()

	// The container side waits on this pipe (its fd 3) until it is in its
	// cgroup and its network is wired.
	ready, release, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer release.Close()

	// The container side learns where to mount the union from its arguments.
	childArgs := append([]string{"init", "--merged", merged, "--overlay", overlay}, args...)
	cmd := exec.Command("/proc/self/exe", childArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{ready}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: cloneFlags(opts),
		Pdeathsig:  syscall.SIGKILL, // if the host side dies, the container dies with it
	}
	if opts.userns {
		mapRootToUnprivileged(cmd.SysProcAttr)
	}

	before, err := mountIDs()
	if err != nil {
		return 0, err
	}
	host("/ on the host has %s propagation", rootPropagation())

	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("clone(%s): %w: the kernel refused the namespaces (is CONFIG_*_NS set, or a user.max_*_namespaces sysctl 0?)", cloneFlagNames(opts), err)
	}
	ready.Close()
	host("clone(%s) -> pid %d", cloneFlagNames(opts), cmd.Process.Pid)
	showNamespaces(cmd.Process.Pid, opts)
	if err := cg.add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	if err := netw.attach(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	host("write to the pipe: the container may go on")
	if _, err := release.Write([]byte{0}); err != nil {
		return 0, fmt.Errorf("release the container: %w", err)
	}
	go forwardSignals(signals, cmd.Process)

	status, err = exitStatus(cmd.Wait())
	if err == nil {
		host("wait4(%d) -> the container %s", cmd.Process.Pid, describeStatus(status))
	}
	if cg.oomKilled() && status == 128+int(unix.SIGKILL) {
		fmt.Fprintf(os.Stderr, "%s: the container was OOM killed: it used more memory than its limit (exit status %d)\n", stepName, status)
	} else if cg.oomKilled() {
		fmt.Fprintf(os.Stderr, "%s: the OOM killer killed a process in the container (memory limit reached)\n", stepName)
	}
	if leakErr := checkPropagation(before, opts.noPrivate); err == nil {
		err = leakErr
	}
	return status, err
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

// forwardSignals passes the first Ctrl-C or SIGTERM on to the container;
// a second one kills it, since a PID 1 without a handler ignores signals.
func forwardSignals(signals <-chan os.Signal, p *os.Process) {
	for n := 0; ; n++ {
		sig, ok := <-signals
		if !ok {
			return
		}
		if n == 0 {
			host("%v: passed on to the container's PID 1 (send it again to kill)", sig)
			_ = p.Signal(sig)
			continue
		}
		host("%v again: SIGKILL to the container", sig)
		_ = p.Kill()
	}
}

// describeStatus says how a container ended, from its shell-style status.
func describeStatus(status int) string {
	if status > 128 {
		return fmt.Sprintf("was killed by %s (status %d)", unix.SignalName(unix.Signal(status-128)), status)
	}
	return fmt.Sprintf("exited with status %d", status)
}

// exitStatus turns the result of Wait into a shell-style exit status.
func exitStatus(err error) (int, error) {
	var exitErr *exec.ExitError
	if err == nil {
		return 0, nil
	}
	if !errors.As(err, &exitErr) {
		return 0, err
	}
	ws := exitErr.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
