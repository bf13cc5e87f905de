//go:build linux

// --userns-remap: the container gets a user namespace of its own, in
// which its root is an unprivileged id of the host (the first of
// minidocker's range in /etc/subuid and /etc/subgid).
//
// The image's layers belong to the host's root, who is nobody inside. They
// are made usable without copying: each layer is bind-mounted id-mapped
// (mount_setattr(MOUNT_ATTR_IDMAP), Linux 5.12; as overlay's lower layers,
// 5.19), so that the host's 0 reads as the range's first id, root inside.
// The host side, not the child, mounts the union: an id-mapped mount
// needs CAP_SYS_ADMIN in the host's user namespace, and overlay mounted by
// the host's root keeps reading the layers' trusted.overlay.* attributes
// (whiteouts, opaque directories), which a mount made inside the user
// namespace could not. Where a filesystem cannot be id-mapped (tmpfs
// before 6.3) each layer is copied once per range with shifted owners
// (userns.ShiftedCopy). The host mounts from a thread that has joined the
// child's mount namespace, so none of these mounts ever exists on the
// host, and none can leak there. Files the container writes land in the
// upper dir with the range's ids.

package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/userns"
)

// remapped adds a user namespace with m's maps to a clone's attributes
// (none when m is nil). The child then becomes root inside (until then
// it is the host's root, whom the maps leave out: nobody, without a
// capability in its own namespace). It may call setgroups: --user sets
// supplementary groups.
func remapped(attr *syscall.SysProcAttr, m *state.IDMap) {
	if m == nil {
		return
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	attr.UidMappings = sysIDMaps(m.UIDMappings)
	attr.GidMappings = sysIDMaps(m.GIDMappings)
	attr.GidMappingsEnableSetgroups = true
}

// Exec into a container with a user namespace of its own (remapped, an
// OCI config's user namespace, or a rootless container when exec runs
// outside its namespace). The
// command must be in that user namespace too: joining the others alone
// would leave it the host's root inside them. But setns(CLONE_NEWUSER)
// needs a single-threaded caller, and a Go program has threads from its
// first instruction. Three ways were weighed:
//
//   - runc and crun run C before the Go runtime (runc's nsexec, a cgo
//     constructor) or are C altogether; minidocker builds with
//     CGO_ENABLED=0 and has no C;
//   - the monitor, or a process kept in the user namespace for the
//     purpose, could spawn the command on request over a socket: a
//     second exec protocol (stdio and terminal descriptors, signals,
//     status) and a resident process per container, for what one execve
//     does;
//   - a single-threaded program joins the user namespace and then
//     executes minidocker's exec-init, which is born there, root of the
//     namespace with every capability in it; everything after is the
//     usual path (exec.go), since the container's other namespaces are
//     owned by that user namespace. That program is nsenter (util-linux,
//     Essential in Debian; busybox has the applet too): --user and -F
//     only, no fork.
//
// minidocker takes the third. The namespace is passed to nsenter as a
// descriptor opened (and checked against the container's first process)
// beforehand, and exec-init as a descriptor of this very binary, so that
// nothing is looked up by name once the namespace is joined. Credentials:
// without --preserve-credentials nsenter sets uid and gid 0 of the joined
// namespace, i.e. the range's first id on the host, never the host's root
// (whom the maps leave out).
//
// Why the container cannot take over exec-init (CVE-2019-5736, where a
// container's root rewrote runc through /proc/PID/exe): exec-init is in
// the host's PID namespace, out of the container's sight, and makes
// itself non-dumpable first thing, as runc does, so that only
// CAP_SYS_PTRACE in the container's user namespace (not in Docker's
// default set) could open its /proc/PID/exe or ptrace it; its command's
// fork inherits that until its execve replaces minidocker's image. And
// with remapping, the container's root is an unprivileged host id to
// which minidocker's binary (the host root's) is read-only whatever it
// does: the binary's owner is not mapped in the namespace, so no
// capability there overrides its mode. Rootless, the container's root
// is the user on the host: whatever it could write, the user already can.

// containerUserNamespace opens the user namespace of c's first process
// when it is not this process's own (processUserNamespace).
func containerUserNamespace(c *state.Container) (*os.File, error) {
	return processUserNamespace(c.Name, c.State.Pid, c.Minidocker.PidStartTime)
}

// processUserNamespace opens the user namespace of pid, the first
// process of the container called name, which started at start (clock
// ticks after boot), when it is not this process's own; nil when it is.
// The process is checked again once the descriptor is open, so that a
// pid reused since is never joined.
func processUserNamespace(name string, pid int, start uint64) (*os.File, error) {
	path := fmt.Sprintf("/proc/%d/ns/user", pid)
	f, err := os.Open(path)
	if err == nil && !procfs.Alive(pid, start) {
		f.Close()
		err = os.ErrNotExist
	}
	if err != nil {
		return nil, &Failure{Status: 125, Message: fmt.Sprintf("exec in container %s: open the user namespace of its first process (%s): %v: the container has stopped; start it again, or run a new one", name, path, err)}
	}
	same, err := sameFile(f, "/proc/self/ns/user")
	if err != nil || same {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sameFile reports whether f and path are the same inode (namespaces are
// inodes of the nsfs filesystem).
func sameFile(f *os.File, path string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false, fmt.Errorf("fstat %s: %w", f.Name(), err)
	}
	if err := unix.Stat(path, &b); err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// joiningUserNamespace is the command that starts exec-init inside
// userns with files as its descriptors from 3 on: nsenter joins the
// namespace and executes this binary, both given as the descriptors
// after files. closeExe closes this process's copy of the binary's
// descriptor once started.
func joiningUserNamespace(files []*os.File, userns *os.File) (cmd *exec.Cmd, closeExe func(), err error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, nil, &Failure{Status: 125, Message: "exec in a container with a user namespace of its own needs nsenter to join it, and it is not on PATH (Debian: apt-get install util-linux; busybox has it too)"}
	}
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	exeFd := 3 + len(files)
	cmd = exec.Command(nsenter, fmt.Sprintf("--user=/proc/self/fd/%d", exeFd+1), "-F", "--", fmt.Sprintf("/proc/self/fd/%d", exeFd), "exec-init")
	cmd.ExtraFiles = append(append([]*os.File{}, files...), exe, userns)
	return cmd, func() { exe.Close() }, nil
}

// sysIDMaps converts mappings to the syscall package's.
func sysIDMaps(ms []state.IDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(ms))
	for i, m := range ms {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

// remapRoot mounts a remapped container's union root from the host side
// (see above) and tells the child it is there; for other containers it
// does nothing. Root inside owns the top of its writable layer and its
// /etc files, as with Docker, and may pass through the directories above
// them, and only it (searchable).
func (rt *Runtime) remapRoot(c *state.Container, pid int, spec *Spec) error {
	m := c.Minidocker.IDMap
	if m == nil {
		return nil
	}
	uid, gid := int(m.UIDMappings[0].HostID), int(m.GIDMappings[0].HostID)
	dir := rt.State.Dir(c.ID)
	for _, d := range []string{rt.State.Root, filepath.Dir(dir), dir} {
		if err := searchable(d, gid); err != nil {
			return err
		}
	}
	owned := []string{spec.Upper}
	for _, file := range spec.EtcFiles {
		owned = append(owned, file)
	}
	for _, path := range owned {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("give %s to the container's root (%d:%d): %w", path, uid, gid, err)
		}
	}
	targets := make([]string, len(spec.Lower))
	for i := range spec.Lower {
		targets[i] = filepath.Join(dir, "idmapped", strconv.Itoa(i))
		if err := os.MkdirAll(targets[i], 0o700); err != nil {
			return err
		}
	}
	err := inMountNamespace(pid, func(userns int) error {
		return mountIDMappedUnion(spec, targets, userns)
	})
	if errors.Is(err, errNoIDMap) {
		err = mountShiftedUnion(pid, spec, m)
	}
	spec.RootMounted = err == nil
	return err
}

// mountShiftedUnion is the fallback where the layers' filesystem cannot
// be id-mapped (tmpfs before Linux 6.3, as in the test VM's Debian
// kernel): the union of copies of the layers with shifted owners, made
// once per range and kept with each layer.
func mountShiftedUnion(pid int, spec *Spec, m *state.IDMap) error {
	uids := userns.Range{Start: m.UIDMappings[0].HostID, Size: m.UIDMappings[0].Size}
	gids := userns.Range{Start: m.GIDMappings[0].HostID, Size: m.GIDMappings[0].Size}
	lower := make([]string, len(spec.Lower))
	for i, layer := range spec.Lower {
		var err error
		if lower[i], err = userns.ShiftedCopy(layer, uids, gids); err != nil {
			return err
		}
	}
	return inMountNamespace(pid, func(int) error { return mountUnion(spec, lower) })
}

// searchable lets the container's root, whose host group is gid, pass
// through dir, and nobody else: dir becomes group gid with mode 0710, as
// Docker makes its remapped state root. Others must not reach the state
// root's layers, which hold setuid files made by root in containers.
func searchable(dir string, gid int) error {
	err := os.Chown(dir, 0, gid)
	if err == nil {
		err = os.Chmod(dir, 0o710)
	}
	if err != nil {
		return fmt.Errorf("let the container's root (group %d) pass through %s: %w", gid, dir, err)
	}
	return nil
}

// mountIDMappedUnion mounts the union at spec.Root with each lower layer
// id-mapped through userns at targets[i]. Overlay keeps its own private
// clones of its layers, so the id-mapped mounts are detached once it is up.
func mountIDMappedUnion(spec *Spec, targets []string, userns int) error {
	for i, layer := range spec.Lower {
		if err := idmapLayer(layer, targets[i], userns); err != nil {
			return err
		}
		defer unix.Unmount(targets[i], unix.MNT_DETACH)
	}
	return mountUnion(spec, targets)
}

// mountUnion mounts the union of lower and spec's writable layer at spec.Root.
func mountUnion(spec *Spec, lower []string) error {
	mount := overlay.Mount
	if spec.Discard {
		mount = overlay.MountVolatile
	}
	return mount(lower, spec.Upper, spec.Work, spec.Root, unix.MS_NODEV)
}

// errNoIDMap is a kernel or filesystem without id-mapped mounts.
var errNoIDMap = errors.New("id-mapped mounts are not supported here")

// idmapLayer attaches at target a copy of the mount of layer whose ids
// are read through userns's maps.
func idmapLayer(layer, target string, userns int) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, layer, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", layer, err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns)}
	err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("id-map the image layer %s (mount_setattr MOUNT_ATTR_IDMAP): %w: %w", layer, errNoIDMap, err)
	}
	if err != nil {
		return fmt.Errorf("id-map the image layer %s (mount_setattr MOUNT_ATTR_IDMAP): %w", layer, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount the id-mapped %s to %s: %w", layer, target, err)
	}
	return nil
}

// inMountNamespace runs fn on a thread of its own that has joined pid's
// mount namespace, with a descriptor of pid's user namespace. The thread
// stays locked and so ends with its goroutine: no other goroutine ever
// runs in that namespace.
func inMountNamespace(pid int, fn func(userns int) error) error {
	userns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the user namespace of pid %d: %w", pid, err)
	}
	defer unix.Close(userns)
	mnt, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the mount namespace of pid %d: %w", pid, err)
	}
	defer unix.Close(mnt)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread leaves with the goroutine
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Setns(mnt, unix.CLONE_NEWNS); err != nil {
			done <- fmt.Errorf("setns(mnt of pid %d): %w", pid, err)
			return
		}
		done <- fn(userns)
	}()
	return <-done
}
