//go:build linux

// The host side of an OCI container (the runc-compatible command line,
// final/runc.go). It is the same start as `minidocker run`'s: clone(2) the
// child side into new namespaces and hold it on the spec pipe while the
// host puts it into its cgroup; then send it its spec. Three things
// differ, because the caller of an OCI runtime (containerd's shim, podman's
// conmon) owns the container, not minidocker:
//
//   - the child does not die with the thread that cloned it (no
//     PR_SET_PDEATHSIG): `create` exits while the container lives on,
//     reparented to the caller, which is a child subreaper;
//   - the container's stdio is create's own stdio, which the caller chose;
//   - the child stops after its setup and waits on a FIFO (exec.fifo)
//     until `start` opens the other end: the created state of the spec.
//
// Namespaces given by path are joined here, on the main thread, before the
// clone, so the child is born in them: setns(2) of a PID namespace changes
// only the namespace of the caller's future children, which is exactly the
// child. The mount namespace cannot be joined by a multi-threaded process;
// the child joins it (ociinit.go), as exec-init does.

package container

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// OCISpec is what the child side of an OCI container needs: the bundle's
// config and where the runtime keeps its pieces.
type OCISpec struct {
	Config        *specs.Spec
	Rootfs        string      // the bundle's root.path, absolute
	ConsoleSocket string      // with process.terminal: where the pty master goes
	State         specs.State // what the container's hooks read on stdin
	JoinMount     string      // a mount namespace to join, "" for a new one
	NoPivot       bool        // --no-pivot: MS_MOVE and chroot instead of pivot_root
	NoNewKeyring  bool        // --no-new-keyring: keep the caller's session keyring
	Seccomp       seccomp.Program
}

// NamespaceFlags are the clone flags for a config's namespaces.
var NamespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// fifoFd is the child's exec.fifo, opened O_PATH by the host side: the
// child reopens it for writing through /proc, which checks the FIFO's own
// owner and mode, not the directories above it (which a container in a
// user namespace, not the host's root, could not search).
const fifoFd = 5

// StartOCI clones the child side ("oci-init") into the config's new
// namespaces, after joining those given by path, and hands it the FIFO.
// It returns with the child blocked on its spec pipe.
func StartOCI(cfg *specs.Spec, stdio Stdio, fifo string) (*Process, error) {
	flags, err := joinOCINamespaces(cfg)
	if err != nil {
		return nil, err
	}
	fifoFile, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", fifo, err)
	}
	defer fifoFile.Close()
	cmd := exec.Command("/proc/self/exe", "oci-init")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Setsid: true}
	if flags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = idMaps(cfg.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(cfg.Linux.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Born in the new user namespace the child is still the host's
		// root, which that namespace does not map: it becomes the
		// namespace's root (setuid after the maps are written), or the
		// execve of oci-init would give it no capability there.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	return startChild(cmd, fifoFile) // the FIFO is fd 5
}

// SendOCISpec sends the child its spec and waits until it is set up and
// held on its FIFO (nil), or has failed (a *Failure).
func (p *Process) SendOCISpec(spec *OCISpec) error {
	return p.send(spec)
}

// Release lets the held child go on without this process: it is not
// waited for here, its caller (a subreaper) reaps it.
func (p *Process) Release() {
	_ = p.cmd.Process.Release()
}

// joinOCINamespaces joins, on the calling (main) thread, every namespace
// the config gives by path except the mount namespace, and returns the
// clone flags of the ones to make new.
func joinOCINamespaces(cfg *specs.Spec) (uintptr, error) {
	var flags uintptr
	for _, ns := range cfg.Linux.Namespaces {
		flag, ok := NamespaceFlags[ns.Type]
		if !ok {
			return 0, fmt.Errorf("namespace type %q: not one of pid, network, mount, ipc, uts, user, cgroup, time", ns.Type)
		}
		switch {
		case ns.Path == "":
			flags |= flag
		case ns.Type == specs.MountNamespace:
			// joined by the child (see the file comment)
		case ns.Type == specs.UserNamespace:
			return 0, fmt.Errorf("joining the user namespace %s: setns(2) needs a single-threaded process, and minidocker is Go: give no path, to make a new one", ns.Path)
		default:
			if err := setnsPath(ns.Path, int(flag)); err != nil {
				return 0, err
			}
		}
	}
	return flags, nil
}

// setnsPath joins the namespace at path, checking that it is of the kind flag names.
func setnsPath(path string, flag int) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, flag); err != nil {
		return fmt.Errorf("setns(%s): %w (is it a namespace of that type?)", path, err)
	}
	return nil
}

// idMaps converts the config's id mappings to Go's.
func idMaps(in []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range in {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}
