//go:build linux

// The container side. This code runs in the re-executed copy of the program,
// already inside the new namespaces that clone(2) made. It is one straight
// line: set the container up from the inside, then execve the command, which
// takes over this process — and so its PID, 1.

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// initMain is the entry of the container side; it returns only on failure.
func initMain(args []string) int {
	setupColor()
	opts, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: init: %v\n", stepName, err)
		return 125
	}
	quiet = opts.quiet
	err = containerInit(opts)
	fmt.Fprintf(os.Stderr, "%s: %v\n", stepName, err)
	return execFailureStatus(err)
}

// containerInit prepares the inside of the container and runs the command.
func containerInit(opts options) error {
	// Wait until the host has put this process into its cgroup, so that
	// everything from here on, the command above all, counts against it,
	// and has wired its network, so that the command finds eth0 ready.
	if err := waitForHost(); err != nil {
		return err
	}

	container("getpid() = %d: the first process of a new PID namespace", os.Getpid())

	// The UTS namespace is this container's alone: the host keeps its name.
	container("sethostname(%q)", opts.hostname)
	if err := unix.Sethostname([]byte(opts.hostname)); err != nil {
		return fmt.Errorf("sethostname %q: %w", opts.hostname, err)
	}

	// Make every mount private before making any, or on a host whose / is
	// shared (every systemd host) the mounts below propagate back to the
	// host: see mount_namespaces(7).
	// lab:cut step02 make every mount private (MS_REC|MS_PRIVATE on /), unless --no-private
	if opts.noPrivate {
		container("skipping MS_PRIVATE (--no-private): our mounts may reach the host")
	} else if err := mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	// lab:end

	// The root is a union: the image's read-only layers below, this
	// container's writable layer on top. It is a mount point, as
	// pivot_root wants, and the mounts below go on top of it.
	root := opts.merged
	if err := mount("overlay", root, "overlay", 0, opts.overlay); err != nil {
		return err
	}

	// Mount /tmp, /proc, /sys and /dev inside the rootfs while the host's
	// /proc is still visible: in a user namespace the kernel lets us mount
	// a new proc only where a full one is already in sight.
	// lab:cut step02 mount a tmpfs on /tmp, then a fresh proc on /proc (only once / is private!)
	if err := mount("tmpfs", root+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}

	// A fresh /proc shows the new PID namespace, so ps lists only our
	// processes. Without private propagation it would appear on the host
	// too (in step 02 it covered the host's own /proc, the bug that broke
	// hosts of earlier tutorials), so the demonstration leaves /proc alone.
	if opts.noPrivate {
		container("not mounting /proc (--no-private): it would propagate to the host")
	} else if err := mount("proc", root+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	// lab:end
	if err := mount("sysfs", root+"/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := mountDev(root); err != nil {
		return err
	}

	// Volumes are bound over the union, so their writes bypass it; last,
	// so that no mount above covers a volume on /tmp or /dev/shm.
	if err := mountVolumes(root, opts.volumes); err != nil {
		return err
	}

	// Swap roots for the whole mount namespace and drop the old one, so
	// there is no way back up (compare --breakout with step 03).
	if err := pivotRoot(root); err != nil {
		return err
	}
	if opts.breakout {
		if err := breakOut(); err != nil {
			return err
		}
	}

	return execCommand(opts.command)
}

// execCommand replaces this process with the command; it returns only on failure.
func execCommand(command []string) error {
	path, err := exec.LookPath(command[0])
	if err != nil {
		return &commandError{notRunnable(err), fmt.Errorf("command %q: %w", command[0], err)}
	}
	container("execve(%q, %q): the command takes over PID %d", path, command, os.Getpid())
	if err := unix.Exec(path, command, os.Environ()); err != nil {
		return &commandError{notRunnable(err), fmt.Errorf("execve %s: %w", path, err)}
	}
	return nil
}

// commandError is a failure to run the command itself, as opposed to a
// failure to set the container up.
type commandError struct {
	status int
	err    error
}

// Error says what went wrong.
func (e *commandError) Error() string { return e.err.Error() }

// Unwrap gives the underlying error.
func (e *commandError) Unwrap() error { return e.err }

// notRunnable is the status a shell gives a command it cannot run: 126
// when it is there but cannot be executed, 127 when it is not found.
func notRunnable(err error) int {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.ENOEXEC) {
		return 126
	}
	return 127
}

// execFailureStatus is the exit status of a container side that failed:
// the shell's 126 or 127 for the command, 125 for the setup (as Docker).
func execFailureStatus(err error) int {
	var cmdErr *commandError
	if errors.As(err, &cmdErr) {
		return cmdErr.status
	}
	return 125
}

// waitForHost blocks until the host side writes to the pipe on fd 3.
func waitForHost() error {
	pipe := os.NewFile(3, "sync pipe")
	defer pipe.Close()
	container("read(3): waiting for the host to set up the cgroup and the network")
	if _, err := pipe.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("the host side gave up before the container could start: %w", err)
	}
	return nil
}
