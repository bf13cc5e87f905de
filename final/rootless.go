//go:build linux

// Rootless minidocker: run by an ordinary user, each command re-executes
// itself in a user namespace of its own, where the user is root
// (internal/rootless; docs/12-user-namespaces.md). What root on the host
// does for a container and the user cannot is refused here, before
// anything is made, each with what to do instead.

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
)

// outsideVerbs run as the user, in the host's namespaces: they need no
// state, or (doctor) look at the host as the user sees it.
var outsideVerbs = map[string]bool{"version": true, "doctor": true, "login": true, "logout": true, "seccomp": true}

// enterRootless runs the whole command line again inside a rootless
// user namespace when an ordinary user runs a verb that needs one, and
// returns its exit status; ok is false when this process goes on itself.
func enterRootless(c *command, args []string) (status int, ok bool) {
	if os.Geteuid() == 0 || outsideVerbs[c.name] || rootless.Inside() {
		return 0, false
	}
	enter := rootless.Enter
	switch c.name {
	case "exec":
		enter = rootless.EnterContainer // in the container's own user namespace
	case "daemon":
		enter = rootless.EnterDaemon // stopped by kill -INT too
	}
	status, err := enter(args)
	if err != nil {
		return exitStatus(c, fmt.Errorf("rootless: %w", err)), true
	}
	return status, true
}

// rootlessDefaults points a rootless session at the user's XDG state
// root (unless --root or MINIDOCKER_ROOT name one) and at the cgroup
// subtree delegated to the user, if any.
func (s *session) rootlessDefaults() error {
	if !rootless.Inside() {
		return nil
	}
	s.rootless = true
	if s.defaultRoot {
		dir, err := rootless.DataDir()
		if err != nil {
			return err
		}
		s.root = dir
	}
	if s.cgroupParent == cgroups.DefaultParent {
		s.cgroupParent = cgroups.OwnParent()
	}
	return nil
}

// checkRootless refuses, before anything is made, the options a
// rootless container cannot have.
func checkRootless(s *session, o *runOptions) error {
	if !s.rootless {
		return nil
	}
	switch {
	case o.network == "bridge" && !haveSlirp():
		return fmt.Errorf("rootless: the bridge network needs root (a bridge, veths and NAT in the host's network namespace), or slirp4netns for a user-mode network, which is missing (Debian: apt-get install slirp4netns); or use --network none or --network host")
	case o.privileged:
		return usagef("rootless: --privileged is refused: it gives the host's devices, which are not yours to give")
	case o.usernsRemap != "" && o.userns != "host":
		return usagef("rootless: --userns-remap is refused: the container is already in your user namespace, mapped to your subordinate ids")
	}
	return nil
}

// checkRootlessLimits refuses limit flags where the user has no cgroup
// subtree of their own; without limits a rootless container needs none.
func checkRootlessLimits(s *session, c *state.Container) error {
	if !s.rootless || c.HostConfig.Resources.IsZero() {
		return nil
	}
	if err := cgroups.CheckDelegated(c.Minidocker.CgroupParent); err != nil {
		return fmt.Errorf("rootless: limits need a cgroup of yours: %w; or run without limit flags", err)
	}
	return nil
}

// foreignUserNamespace reports whether c, in a rootless daemon, is in
// a user namespace other than the daemon's: one that another command
// (or an earlier daemon) made, a sibling in which the daemon holds no
// capability, so it could neither join it (setns) nor the container's
// other namespaces. The user's process outside can, as their owner:
// the daemon has it run the exec (execOutside). Containers the daemon
// started are in its own user namespace, and it owns their namespaces.
func foreignUserNamespace(s *session, c *state.Container) bool {
	if !s.rootless {
		return false
	}
	// A process of another user namespace may not even be looked at:
	// that needs CAP_SYS_PTRACE in its namespace (EACCES).
	var theirs, ours unix.Stat_t
	err := unix.Stat(fmt.Sprintf("/proc/%d/ns/user", c.State.Pid), &theirs)
	if err == nil {
		err = unix.Stat("/proc/self/ns/user", &ours)
	}
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return true
	case err != nil:
		return false // exec itself says what is wrong (it has stopped)
	}
	return theirs.Dev != ours.Dev || theirs.Ino != ours.Ino
}

// haveSlirp reports whether slirp4netns is on PATH.
func haveSlirp() bool {
	_, err := exec.LookPath("slirp4netns")
	return err == nil
}
