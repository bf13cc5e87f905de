//go:build linux

// The child side of `run` and `start`. This code runs in the re-executed
// binary, already in the new namespaces clone(2) made, as PID 1 of its PID
// namespace. It is one straight line: wait for the host, build the inside,
// become the user, drop capabilities, execve the command. Anything that
// fails is reported on the error pipe with the status Docker would give.

package container

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/seccomp"
	"github.com/minidocker/minidocker/final/internal/state"
)

// File descriptors the host side passes to the child side.
const (
	specFd  = 3 // the Spec, written once the host is ready
	errorFd = 4 // close-on-exec: EOF when the command runs, a Failure when not
)

// InitMain is the entry of the child side; it returns only on failure.
func InitMain() int {
	unix.CloseOnExec(errorFd)
	var spec Spec
	err := readSpec(specFd, &spec)
	if err == nil {
		// The filter is compiled here, as runc's init does, not by the
		// monitor: the 0.4 MB the compiler allocates would stay in the
		// monitor's heap for the container's life (docs/benchmarks.md),
		// while this process's memory ends at the execve.
		spec.Seccomp, err = SeccompFilter(state.HostConfig{Privileged: spec.Privileged,
			SecurityOpt: spec.SecurityOpt, CapAdd: spec.CapAdd, CapDrop: spec.CapDrop})
	}
	if err == nil {
		err = setupContainer(&spec)
	}
	if err == nil {
		err = runCommand(&spec)
	}
	f := fail(err)
	reportFailure(errorFd, f)
	return f.Status
}

// setupContainer builds the container's inside and makes it the root.
func setupContainer(spec *Spec) error {
	// Other processes of the container must not reach this one's memory or
	// /proc/1/exe, which is the host's minidocker binary until the execve
	// (the lesson of runc's CVE-2019-5736).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	// Keys are not namespaced: leave the session keyring of whoever ran us.
	if err := newSessionKeyring(); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		return fmt.Errorf("sethostname %q: %w", spec.Hostname, err)
	}

	// Make every mount private before making any, or on a host whose / is
	// shared the mounts below propagate back to it (mount_namespaces(7)).
	if err := rootfs.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}

	// The union root. nodev: a device node made on it later cannot be
	// opened, so mknod of the host's disk leads nowhere (see rootfs/dev.go).
	var nodev uintptr = unix.MS_NODEV
	if spec.Privileged {
		nodev = 0
	}
	// With --rm the writable layer is deleted at the end: it need never be
	// synced to disk, and the sync at unmount is the slowest step of all.
	mountOverlay := overlay.Mount
	if spec.Discard {
		mountOverlay = overlay.MountVolatile
	}
	if spec.RootMounted {
		mountOverlay = func([]string, string, string, string, uintptr) error { return nil } // see userns.go
	}
	if err := mountOverlay(spec.Lower, spec.Upper, spec.Work, spec.Root, nodev); err != nil {
		return err
	}
	root := spec.Root

	// /proc, /sys and /dev while the host's are still in sight.
	if err := rootfs.MountProcSys(root, spec.OwnNetwork); err != nil {
		return err
	}
	if err := rootfs.MountDev(root, spec.Privileged); err != nil {
		return err
	}

	// The container's own hostname, hosts and resolv.conf over the image's.
	for inside, source := range spec.EtcFiles {
		if err := rootfs.BindInRoot(source, root, inside, rootfs.Bind{Extra: nodev}); err != nil {
			return err
		}
	}

	// Volumes go over the union, so their writes bypass it; after /dev and
	// /proc, so that no mount covers a volume below them.
	for _, v := range spec.Volumes {
		extra := nodev
		if v.ReadOnly {
			extra |= unix.MS_RDONLY
		}
		if err := rootfs.BindInRoot(v.Source, root, v.Destination, rootfs.Bind{Recursive: true, Extra: extra}); err != nil {
			return fmt.Errorf("volume %s:%s: %w", v.Source, v.Destination, err)
		}
	}

	// Hide the host's kernel files in /proc and /sys, unless privileged.
	if !spec.Privileged {
		if err := rootfs.MaskPaths(root); err != nil {
			return err
		}
		if err := rootfs.ReadonlyProcPaths(root); err != nil {
			return err
		}
	}

	// Swap roots for the whole mount namespace and drop the old one.
	if err := rootfs.PivotRoot(root); err != nil {
		return err
	}
	if spec.ReadOnly {
		if err := rootfs.Remount("/", unix.MS_RDONLY); err != nil {
			return err
		}
	}
	return enterWorkdir(spec.Cwd, rootfs.MakeDirs)
}

// runCommand becomes the user, drops capabilities and execs the command
// (or, with --init, starts it under a tiny init). It returns only on failure.
func runCommand(spec *Spec) error {
	// No descriptor but stdio may reach the command (see fds.go).
	if err := CloseExtraFilesOnExec(); err != nil {
		return err
	}
	path, id, err := prepareExec(spec.Args[0], spec.Env, spec.User)
	if err != nil {
		return err
	}
	if err := dropPrivileges(spec, id); err != nil {
		return err
	}
	if spec.Init {
		return runInit(path, spec)
	}
	if err := unix.Exec(path, spec.Args, spec.Env); err != nil {
		return &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec %s: %v", path, err)}
	}
	return nil
}

// prepareExec resolves the user and the command's path, with the
// container's PATH; HOME defaults to the user's home, as Docker sets it.
func prepareExec(command string, env []string, user string) (string, identity, error) {
	id, err := lookupUser(user)
	if err != nil {
		return "", id, err
	}
	path, err := lookPathIn(command, env)
	return path, id, err
}

// dropPrivileges drops the bounding set, becomes the user, keeps the
// container's capabilities and sets no_new_privs when asked for. The
// seccomp filter goes in as late as it can: after no_new_privs when it is
// set; else first, while the thread still has CAP_SYS_ADMIN, which the
// kernel asks of a filter's installer without no_new_privs (so the
// profile must allow the calls below and execve, as Docker's does).
func dropPrivileges(spec *Spec, id identity) error {
	caps, err := available(CapSet(spec.CapAdd, spec.CapDrop, spec.Privileged))
	if err != nil {
		return err
	}
	all := spec.Init // the tiny init lives on with its Go runtime threads
	if !spec.NoNewPrivs {
		if err := seccomp.Load(spec.Seccomp, all); err != nil {
			return err
		}
	}
	if err := dropBounding(caps, all); err != nil {
		return err
	}
	if err := become(id); err != nil {
		return err
	}
	if id.uid == 0 {
		if err := setCaps(caps, all); err != nil {
			return err
		}
	}
	if spec.NoNewPrivs {
		if err := errnoErr(threadCall(all, unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
		return seccomp.Load(spec.Seccomp, all)
	}
	return nil
}
