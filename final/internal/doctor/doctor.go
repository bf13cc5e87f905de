//go:build linux

// Package doctor checks, before anything runs, that a machine can host
// containers: root, the kernel, namespaces, cgroups, overlayfs, the
// network pieces, and the sudo PATH trap that stops "sudo go run". Each
// check says what it found and, when it is not OK, the exact command or
// setting that fixes it. The package reads and probes; it prints nothing
// (cmd_doctor.go does) and changes nothing on the host: what it has to try
// for real (a bridge, a veth pair, an nftables rule) it tries in a network
// namespace of its own, thrown away afterwards.
package doctor

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Check is the outcome of one check.
type Check struct {
	Name   string // what was checked, e.g. "cgroup controllers"
	OK     bool
	Detail string // what was found
	Fix    string // when not OK: the command or setting that fixes it
}

// system is what the checks look at; tests replace its parts.
type system struct {
	root     string // prefix for /proc, /sys, /etc and /lib paths ("" on the real host)
	euid     func() int
	release  func() string // the kernel release, as uname -r
	fsType   func(path string) (int64, error)
	getenv   func(string) string
	lookPath func(string) (string, error)
	netProbe func() netResult
	username func(uid int) string // the login name of a uid, or the uid
}

// host is the machine this process runs on.
func host() system {
	return system{
		euid:     os.Geteuid,
		release:  kernelRelease,
		fsType:   statfsType,
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		netProbe: probeNetwork,
		username: loginName,
	}
}

// loginName is uid's name in the user database, or the uid.
func loginName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// Run performs every check; stateRoot is the runtime's state directory
// (it need not exist yet).
func Run(stateRoot string) []Check {
	return host().run(stateRoot)
}

// run performs every check against s.
func (s system) run(stateRoot string) []Check {
	if s.euid() != 0 {
		return s.runRootless(stateRoot)
	}
	checks := []Check{s.checkRoot(), s.checkKernel()}
	checks = append(checks, s.checkNamespaces()...)
	checks = append(checks, s.checkUnprivilegedUserns(), s.checkCgroups(), s.checkOverlay())
	checks = append(checks, s.checkUpperDir("state directory", stateRoot, "MINIDOCKER_ROOT"))
	checks = append(checks, s.checkUpperDir("temporary directory", tempDir(s.getenv), "TMPDIR"))
	checks = append(checks, s.checkForwarding())
	checks = append(checks, s.checkNetwork()...)
	return append(checks, s.checkSudoPath())
}

// path is p under the system's root.
func (s system) path(p string) string {
	return filepath.Join(s.root, p)
}

// read returns a file's content without surrounding space, or "" and the error.
func (s system) read(p string) (string, error) {
	data, err := os.ReadFile(s.path(p))
	return strings.TrimSpace(string(data)), err
}

// checkRoot: namespaces, mounts and cgroups need CAP_SYS_ADMIN.
func (s system) checkRoot() Check {
	c := Check{Name: "root", OK: s.euid() == 0}
	if c.OK {
		c.Detail = "running as root"
		return c
	}
	c.Detail = fmt.Sprintf("running as uid %d: namespaces, mounts and cgroups need root", s.euid())
	c.Fix = `run it with sudo: sudo minidocker doctor, or from the repository: sudo env "PATH=$PATH" go run ./final doctor`
	return c
}

// kernelFeatures are the kernel versions that the features minidocker and
// the steps use need; below minKernel the runtime cannot work at all.
var kernelFeatures = []struct {
	major, minor int
	what         string
}{
	{4, 5, "cgroup v2 (unified hierarchy)"},
	{4, 6, "cgroup namespaces"},
	{4, 15, "the cgroup v2 cpu controller"},
	{5, 6, "openat2(2) with RESOLVE_IN_ROOT (safe paths inside a rootfs) and time namespaces"},
	{5, 11, "overlayfs inside a user namespace (rootless containers)"},
}

// minKernel is the oldest kernel the checks accept.
var minKernel = [2]int{4, 15}

// checkKernel parses the release and names what an older kernel lacks.
func (s system) checkKernel() Check {
	release := s.release()
	c := Check{Name: "kernel version"}
	major, minor, ok := parseRelease(release)
	if !ok {
		c.Detail = fmt.Sprintf("cannot read the kernel version from %q", release)
		c.Fix = "check uname -r; minidocker needs Linux 4.15 or newer, 5.11 or newer for everything"
		return c
	}
	var missing []string
	for _, f := range kernelFeatures {
		if major < f.major || major == f.major && minor < f.minor {
			missing = append(missing, fmt.Sprintf("%s (%d.%d)", f.what, f.major, f.minor))
		}
	}
	c.OK = major > minKernel[0] || major == minKernel[0] && minor >= minKernel[1]
	c.Detail = "Linux " + release
	if len(missing) > 0 {
		c.Detail += "; lacks " + strings.Join(missing, ", ")
	}
	if !c.OK {
		c.Fix = "upgrade to a kernel of 4.15 or newer (the lab VM, Ubuntu 24.04, has 6.8): minidocker needs the cgroup v2 cpu controller and cgroup namespaces"
	}
	return c
}

// parseRelease reads "6.8.0-45-generic" as 6 and 8.
func parseRelease(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// checkSudoPath: Ubuntu's sudo replaces PATH with secure_path, which does
// not hold a Go installed in /usr/local/go/bin, so "sudo go run" fails.
func (s system) checkSudoPath() Check {
	c := Check{Name: "go on sudo's PATH", OK: true}
	user := s.getenv("SUDO_USER")
	if user == "" {
		c.Detail = "not started through sudo"
		return c
	}
	if p, err := s.lookPath("go"); err == nil {
		c.Detail = "sudo finds " + p
		return c
	}
	c.OK = false
	c.Detail = fmt.Sprintf("started by %s through sudo, and go is not on root's PATH (%s): sudo go run ./stepNN-... fails with \"sudo: go: command not found\"", user, s.getenv("PATH"))
	c.Fix = `pass your PATH through: sudo env "PATH=$PATH" go run ./step01-clone-ns; or once, for good: sudo ln -s "$(command -v go)" /usr/local/bin/go`
	return c
}
