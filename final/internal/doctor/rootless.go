//go:build linux

// Rootless: what an ordinary user's minidocker needs (internal/rootless).
// Run by a user other than root, doctor checks these instead of what
// only root can use (the bridge, the host's cgroups).

package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// minSubIDs is the size of subordinate range that holds every 16-bit
// id, so that any image's files can be owned inside.
const minSubIDs = 65536

// runRootless performs the checks for an ordinary user.
func (s system) runRootless(stateRoot string) []Check {
	checks := []Check{s.checkRootlessUser(), s.checkKernel(), s.checkUnprivilegedUserns()}
	checks = append(checks, s.checkMapHelper("newuidmap"), s.checkMapHelper("newgidmap"))
	checks = append(checks, s.checkSubIDs("/etc/subuid"), s.checkSubIDs("/etc/subgid"))
	checks = append(checks, s.checkRuntimeDir(), s.checkRootlessOverlay(), s.checkDelegation())
	checks = append(checks, s.checkUpperDir("state directory", stateRoot, "XDG_DATA_HOME"))
	return append(checks, s.checkSlirp(), s.checkNsenter())
}

// checkNsenter: exec joins a container's user namespace through nsenter
// (a Go program cannot: internal/container/userns.go).
func (s system) checkNsenter() Check {
	c := Check{Name: "nsenter"}
	path, err := s.lookPath("nsenter")
	if err != nil {
		c.Detail = "not on PATH: exec cannot join a container's user namespace"
		c.Fix = "sudo apt-get install util-linux (busybox's nsenter serves too)"
		return c
	}
	c.OK, c.Detail = true, path
	return c
}

// checkRootlessUser says which mode doctor checks.
func (s system) checkRootlessUser() Check {
	return Check{Name: "root", OK: true, Detail: fmt.Sprintf("running as uid %d: checking what rootless minidocker needs (the steps, the bridge and the rest need root: sudo minidocker doctor checks those)", s.euid())}
}

// checkMapHelper: newuidmap and newgidmap write a range into another
// process's map, which the kernel allows only a privileged writer: they
// must be setuid root or carry the CAP_SETUID/CAP_SETGID file capability.
func (s system) checkMapHelper(name string) Check {
	c := Check{Name: name}
	fix := "sudo apt-get install uidmap (it installs newuidmap and newgidmap setuid root)"
	path, err := s.lookPath(name)
	if err != nil {
		c.Detail = name + " is not on PATH"
		c.Fix = fix
		return c
	}
	var st unix.Stat_t
	if err := unix.Stat(s.path(path), &st); err != nil {
		c.Detail, c.Fix = fmt.Sprintf("stat %s: %v", path, err), fix
		return c
	}
	setuid := st.Mode&unix.S_ISUID != 0 && st.Uid == 0
	_, capErr := unix.Getxattr(s.path(path), "security.capability", make([]byte, 64))
	if !setuid && capErr != nil {
		c.Detail = fmt.Sprintf("%s is neither setuid root nor has file capabilities: it cannot write a range of ids", path)
		c.Fix = fmt.Sprintf("sudo chmod u+s %s, or sudo setcap cap_setuid,cap_setgid+ep %s", path, path)
		return c
	}
	c.OK = true
	c.Detail = path + map[bool]string{true: " (setuid root)", false: " (file capabilities)"}[setuid]
	return c
}

// checkSubIDs: the user needs a subordinate range of 65536 ids or more.
func (s system) checkSubIDs(file string) Check {
	c := Check{Name: file}
	uid := s.euid()
	name := s.username(uid)
	fix := fmt.Sprintf("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (choose a range no other entry uses)", name)
	data, err := os.ReadFile(s.path(file))
	if err != nil {
		c.Detail, c.Fix = fmt.Sprintf("cannot read %s: %v", file, err), fix
		return c
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(uid)) {
			continue
		}
		size, _ := strconv.ParseUint(f[2], 10, 32)
		if size < minSubIDs {
			c.Detail, c.Fix = fmt.Sprintf("%s has %d ids for %s, fewer than %d: images with higher ids cannot be unpacked", file, size, name, minSubIDs), fix
			return c
		}
		c.OK, c.Detail = true, fmt.Sprintf("%s: %s ids from %s", name, f[2], f[1])
		return c
	}
	c.Detail, c.Fix = fmt.Sprintf("no entry for %s (uid %d)", name, uid), fix
	return c
}

// checkRuntimeDir: XDG_RUNTIME_DIR must be set and the user's own.
func (s system) checkRuntimeDir() Check {
	c := Check{Name: "XDG_RUNTIME_DIR"}
	dir := s.getenv("XDG_RUNTIME_DIR")
	fix := "log in through a session that sets it (systemd-logind makes /run/user/$(id -u)), or make a directory of yours, mode 0700, and export XDG_RUNTIME_DIR=it"
	if !filepath.IsAbs(dir) {
		c.Detail, c.Fix = "not set", fix
		return c
	}
	info, err := os.Stat(s.path(dir))
	if err != nil {
		c.Detail, c.Fix = err.Error(), fix
		return c
	}
	st, _ := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || st == nil || int(st.Uid) != s.euid() || info.Mode().Perm()&0o022 != 0 {
		c.Detail, c.Fix = fmt.Sprintf("%s is not a directory of yours that only you can write (mode %v)", dir, info.Mode().Perm()), fix
		return c
	}
	c.OK, c.Detail = true, dir
	return c
}

// checkRootlessOverlay: overlay may be mounted in a user namespace from
// Linux 5.11 on.
func (s system) checkRootlessOverlay() Check {
	c := Check{Name: "overlay in a user namespace"}
	major, minor, ok := parseRelease(s.release())
	if ok && (major > 5 || major == 5 && minor >= 11) {
		c.OK, c.Detail = true, "Linux "+s.release()+" mounts overlay in a user namespace (5.11+)"
		return c
	}
	c.Detail = "Linux " + s.release() + ": overlay can be mounted in a user namespace only from 5.11"
	c.Fix = "upgrade the kernel to 5.11 or newer"
	return c
}

// checkDelegation: limits need a cgroup v2 subtree of the user's; the
// one minidocker uses is the parent of the cgroup it runs in.
func (s system) checkDelegation() Check {
	c := Check{Name: "delegated cgroup"}
	fix := "limits (--memory, --pids-limit, ...) need one; without, containers run unlimited. On systemd: systemd-run --user --scope -p Delegate=yes minidocker ..., with cgroup v2"
	if t, err := s.fsType(s.path("/sys/fs/cgroup")); err != nil || t != unix.CGROUP2_SUPER_MAGIC {
		c.Detail, c.Fix = "cgroup v1: it cannot be delegated to a user", fix+" (boot with systemd.unified_cgroup_hierarchy=1)"
		return c
	}
	own, _ := s.read("/proc/self/cgroup")
	path, _ := strings.CutPrefix(own, "0::")
	parent := filepath.Dir(path)
	dir := filepath.Join("/sys/fs/cgroup", parent)
	var st unix.Stat_t
	if parent == "/" || unix.Stat(s.path(filepath.Join(dir, "cgroup.procs")), &st) != nil || int(st.Uid) != s.euid() {
		c.Detail, c.Fix = fmt.Sprintf("%s (the parent of this process's cgroup) is not yours", dir), fix
		return c
	}
	controllers, _ := s.read(filepath.Join(dir, "cgroup.controllers"))
	c.OK, c.Detail = true, fmt.Sprintf("%s, controllers: %s", dir, controllers)
	return c
}

// checkSlirp: the user-mode network of rootless containers.
func (s system) checkSlirp() Check {
	c := Check{Name: "slirp4netns"}
	path, err := s.lookPath("slirp4netns")
	if err != nil {
		c.Detail = "not on PATH: a rootless container's network is none or host only"
		c.Fix = "sudo apt-get install slirp4netns"
		return c
	}
	if err := unix.Access(s.path("/dev/net/tun"), unix.R_OK|unix.W_OK); err != nil {
		c.Detail = fmt.Sprintf("%s is there, but /dev/net/tun is not yours to open (%v): it cannot make the container's tap device", path, err)
		c.Fix = `sudo chmod 0666 /dev/net/tun, as udev's default rule does (KERNEL=="tun", MODE="0666"); opening it gives nothing without CAP_NET_ADMIN in a network namespace`
		return c
	}
	c.OK, c.Detail = true, path
	return c
}
