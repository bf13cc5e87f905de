//go:build linux

// kernel.go — the kernel-side setup a host's init would do: cgroup v2
// controllers, kernel modules, the loopback interface.
//
// The root cgroup offers its controllers in cgroup.controllers; a child
// cgroup gets one only once "+name" is written to the root's
// cgroup.subtree_control. Each controller is enabled on its own, so one the
// kernel lacks does not stop the others (a write of several is all or
// nothing). Modules are loaded with finit_module(2) in the order the host
// computed from their dependencies (vm/mkinitramfs/kmod.go); a module that is
// already there (EEXIST) is fine, any other failure is printed and the tests
// that need it will say what is missing.

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where mountSystem mounted the cgroup2 hierarchy.
const cgroupRoot = "/sys/fs/cgroup"

// wantedControllers are enabled for the children of the root cgroup.
var wantedControllers = []string{"cpu", "memory", "io", "pids", "cpuset"}

// setupCgroup2 enables wantedControllers and prints what the kernel offers.
func setupCgroup2() {
	offered, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if err != nil {
		logf("cgroup2: %v", err)
		return
	}
	logf("cgroup2 controllers offered: %s", strings.TrimSpace(string(offered)))
	control := filepath.Join(cgroupRoot, "cgroup.subtree_control")
	for _, c := range wantedControllers {
		if err := os.WriteFile(control, []byte("+"+c), 0); err != nil {
			logf("cgroup2: enable %s in %s: %v", c, control, err)
		}
	}
	enabled, _ := os.ReadFile(control)
	logf("cgroup2 controllers enabled: %s", strings.TrimSpace(string(enabled)))
}

// loadModules loads every module listed, one path a line, in list.
func loadModules(list string) {
	b, err := os.ReadFile(list)
	if err != nil {
		logf("modules: %v", err)
		return
	}
	var loaded []string
	for _, path := range strings.Fields(string(b)) {
		if err := loadModule(path); err != nil {
			logf("modules: %v", err)
			continue
		}
		loaded = append(loaded, strings.TrimSuffix(filepath.Base(path), ".ko"))
	}
	logf("modules loaded: %s", strings.Join(loaded, " "))
}

// loadModule loads one module file with default parameters.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "finit_module", Path: path, Err: err}
	}
	return nil
}

// loopbackUp sets the IFF_UP flag on lo with the SIOCSIFFLAGS ioctl.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return &os.SyscallError{Syscall: "ioctl SIOCGIFFLAGS lo", Err: err}
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return &os.SyscallError{Syscall: "ioctl SIOCSIFFLAGS lo", Err: err}
	}
	return nil
}
