//go:build linux

// The child side of an OCI container ("oci-init"): init.go's straight line,
// driven by a bundle's config.json instead of minidocker's record. It runs
// in the new namespaces, waits for its spec, builds the root from the
// config's mounts, and then stops: it tells `create` it is ready (by
// closing the error pipe) and blocks opening exec.fifo for writing, which
// returns only when `start` opens the other end. Only then does it become
// the configured user and execve the process. Everything that can fail is
// done before the wait, so `create` reports it; after it, a failure can
// only be written to the container's stderr.

package container

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// OCIInitMain is the entry of the child side; it returns only on failure.
func OCIInitMain() int {
	unix.CloseOnExec(errorFd)
	var spec OCISpec
	err := readSpec(specFd, &spec)
	var held *heldProcess
	if err == nil {
		held, err = setupOCI(&spec)
	}
	if err != nil {
		f := fail(err)
		reportFailure(errorFd, f)
		return f.Status
	}
	unix.Close(errorFd) // create may return: the container is created
	if err = held.wait(&spec); err == nil {
		return 0 // no process to run (see oci.NoProcess)
	}
	fmt.Fprintf(os.Stderr, "minidocker-runc: %v\n", err)
	return fail(err).Status
}

// heldProcess is what the child keeps between its setup and start.
type heldProcess struct {
	path string // the command, resolved
	fifo int    // exec.fifo, opened O_PATH by the host side (fifoFd)
	proc int    // the host's /proc, to reopen the FIFO through
}

// setupOCI builds the container's inside, as init.go's setupContainer does,
// from the config.
func setupOCI(spec *OCISpec) (*heldProcess, error) {
	cfg := spec.Config
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	if !spec.NoNewKeyring {
		if err := newSessionKeyring(); err != nil {
			return nil, err
		}
	}
	if spec.JoinMount != "" {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return nil, fmt.Errorf("unshare(CLONE_FS): %w", err)
		}
		if err := setnsPath(spec.JoinMount, unix.CLONE_NEWNS); err != nil {
			return nil, err
		}
	}
	// The FIFO and the host's /proc are opened now, while the host's
	// files are in sight; start's wait reopens the FIFO through them.
	held, err := openHeld()
	if err != nil {
		return nil, err
	}
	var console *os.File
	if cfg.Process.Terminal {
		if console, err = dialConsole(spec.ConsoleSocket); err != nil {
			return nil, err
		}
		defer console.Close()
	}
	// Sysctls and oom_score_adj through the host's /proc, which shows this
	// process's own network and IPC namespaces.
	if err := writeSysctls(cfg.Linux.Sysctl); err != nil {
		return nil, err
	}
	if err := writeOOMScoreAdj(cfg.Process.OOMScoreAdj); err != nil {
		return nil, err
	}
	if hasNamespace(cfg, specs.UTSNamespace) && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return nil, fmt.Errorf("sethostname %q: %w", cfg.Hostname, err)
		}
	}
	if err := buildOCIRoot(spec); err != nil {
		return nil, err
	}
	if err := runHooks(cfg.Hooks.CreateContainer, spec.State, "createContainer"); err != nil {
		return nil, err
	}
	if err := enterOCIRoot(spec); err != nil {
		return nil, err
	}
	if console != nil {
		if err := attachConsole(console, cfg.Process.ConsoleSize); err != nil {
			return nil, err
		}
	}
	if err := setRlimits(cfg.Process.Rlimits); err != nil {
		return nil, err
	}
	if len(cfg.Process.Args) == 0 {
		return held, nil // no process: start refuses to run one
	}
	held.path, err = lookPathIn(cfg.Process.Args[0], cfg.Process.Env)
	return held, err
}

// buildOCIRoot makes the mounts of the config inside the root, before
// pivot_root: the root's propagation, then each mount in order, then the
// devices.
func buildOCIRoot(spec *OCISpec) error {
	cfg := spec.Config
	if !hasNamespace(cfg, specs.MountNamespace) && spec.JoinMount == "" {
		return nil
	}
	// Every mount slave (private if asked) before any is made, so nothing
	// made below reaches the host (mount_namespaces(7)). A shared or
	// unbindable root is asked for after pivot_root, which refuses a
	// shared parent, as the bind below refuses an unbindable source.
	prop := uintptr(unix.MS_SLAVE)
	if rp := cfg.Linux.RootfsPropagation; rp == "private" || rp == "rprivate" {
		prop = unix.MS_PRIVATE
	}
	if err := rootfs.Mount("none", "/", "", unix.MS_REC|prop, ""); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point.
	if err := rootfs.Mount(spec.Rootfs, spec.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	for _, m := range cfg.Mounts {
		if err := rootfs.MountSpec(spec.Rootfs, m); err != nil {
			return err
		}
	}
	return rootfs.MakeDevices(spec.Rootfs, cfg.Linux.Devices, hasNamespace(cfg, specs.UserNamespace))
}

// enterOCIRoot makes the root the container's, hides the masked paths,
// and makes it read-only when the config says so.
func enterOCIRoot(spec *OCISpec) error {
	cfg := spec.Config
	if !hasNamespace(cfg, specs.MountNamespace) && spec.JoinMount == "" {
		// The host's mount namespace: no mount may be made, but the
		// process still sees only the bundle's root, through chroot(2).
		if err := unix.Chroot(spec.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", spec.Rootfs, err)
		}
		return enterWorkdir(cfg.Process.Cwd, rootfs.MakeNothing)
	}
	enter := rootfs.PivotRoot
	if spec.NoPivot {
		enter = rootfs.MoveRoot
	}
	if err := enter(spec.Rootfs); err != nil {
		return err
	}
	if p := rootfs.Propagation[cfg.Linux.RootfsPropagation]; p != 0 {
		if err := rootfs.Mount("none", "/", "", p, ""); err != nil {
			return err
		}
	}
	if err := rootfs.MaskList("/", cfg.Linux.MaskedPaths); err != nil {
		return err
	}
	if err := rootfs.ReadonlyList("/", cfg.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if cfg.Root.Readonly {
		if err := rootfs.Remount("/", unix.MS_RDONLY); err != nil {
			return err
		}
	}
	return enterWorkdir(cfg.Process.Cwd, rootfs.MakeDirs)
}

// hasNamespace reports whether the config puts the container in a namespace of type t.
func hasNamespace(cfg *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range cfg.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// openHeld opens the host's /proc, through which the FIFO is reopened
// once the host's /proc is out of sight.
func openHeld() (*heldProcess, error) {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /proc: %w", err)
	}
	return &heldProcess{fifo: fifoFd, proc: proc}, nil
}

// wait blocks until start opens the FIFO, then runs the startContainer
// hooks, becomes the user and execs the process.
func (h *heldProcess) wait(spec *OCISpec) error {
	// Opening a FIFO for writing blocks until a reader opens it: that is
	// the hold. The FIFO's path is outside the new root, so it is reopened
	// through the fd kept from before pivot_root.
	w, err := unix.Openat(h.proc, fmt.Sprintf("thread-self/fd/%d", h.fifo), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec.fifo: %w", err)
	}
	if _, err := unix.Write(w, []byte{0}); err != nil {
		return fmt.Errorf("write exec.fifo: %w", err)
	}
	unix.Close(w)
	unix.Close(h.fifo)
	unix.Close(h.proc)
	cfg := spec.Config
	if len(cfg.Process.Args) == 0 {
		return nil
	}
	if err := runHooks(cfg.Hooks.StartContainer, spec.State, "startContainer"); err != nil {
		return err
	}
	if err := CloseExtraFilesOnExec(); err != nil {
		return err
	}
	if err := dropOCIPrivileges(cfg.Process, spec.Seccomp); err != nil {
		return err
	}
	if err := unix.Exec(h.path, cfg.Process.Args, cfg.Process.Env); err != nil {
		return &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec %s: %v", h.path, err)}
	}
	return nil
}

// dropOCIPrivileges sets the process's user, its five capability sets and
// no_new_privs, and loads the seccomp filter, in dropPrivileges's order.
func dropOCIPrivileges(p *specs.Process, prog seccomp.Program) error {
	if !p.NoNewPrivileges {
		if err := seccomp.Load(prog, false); err != nil {
			return err
		}
	}
	sets := CapSetsOf(p.Capabilities)
	if p.Capabilities != nil { // none given: the process keeps what it has, as with runc
		if err := dropBounding(sets.Bounding, false); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	groups := make([]int, 0, len(p.User.AdditionalGids))
	for _, g := range p.User.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := become(identity{uid: int(p.User.UID), gid: int(p.User.GID), groups: groups}); err != nil {
		return err
	}
	if p.Capabilities != nil {
		if err := setCapSets(sets); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
		return seccomp.Load(prog, false)
	}
	return nil
}

// lookPathIn makes env the process's environment and resolves the
// command with its PATH, inside the root (after pivot_root), so that a
// missing command is reported before anything runs (Docker's 126/127).
func lookPathIn(command string, env []string) (string, error) {
	os.Clearenv()
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	path, err := exec.LookPath(command)
	if err != nil {
		return "", &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec: %q: %v", command, cleanLookErr(err))}
	}
	if !filepath.IsAbs(path) {
		path, _ = filepath.Abs(path)
	}
	return path, nil
}

// writeSysctls writes each sysctl under /proc/sys.
func writeSysctls(sysctls map[string]string) error {
	for key, value := range sysctls {
		path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}

// writeOOMScoreAdj sets the process's oom_score_adj, which its children inherit.
func writeOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(fmt.Sprint(*adj)), 0); err != nil {
		return fmt.Errorf("oom_score_adj %d: %w", *adj, err)
	}
	return nil
}

// rlimits maps the config's names to setrlimit(2)'s resources.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// CheckRlimit refuses an rlimit type setrlimit(2) does not know.
func CheckRlimit(name string) error {
	if _, ok := rlimits[name]; !ok {
		return fmt.Errorf("rlimit %q: not a resource of setrlimit(2)", name)
	}
	return nil
}

// setRlimits applies the process's rlimits to this process, which the command inherits.
func setRlimits(list []specs.POSIXRlimit) error {
	for _, r := range list {
		if err := CheckRlimit(r.Type); err != nil {
			return err
		}
		// syscall's Setrlimit, not a raw call: Go raises RLIMIT_NOFILE at
		// start and restores the old value at execve unless told of a change.
		lim := syscall.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := syscall.Setrlimit(rlimits[r.Type], &lim); err != nil {
			return fmt.Errorf("setrlimit %s (soft %d, hard %d): %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}
