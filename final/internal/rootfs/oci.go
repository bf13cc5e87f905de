//go:build linux

// The mounts and devices of an OCI config. Docker's command line names a
// few kinds of mount; a config.json names each mount(2) call: a type, a
// source, a destination inside the root, and options as mount(8) spells
// them ("nosuid", "mode=755", "rbind", "rslave"). ParseOptions splits them
// into the flags argument, the propagation change (which mount(2) takes
// only in a call of its own) and the filesystem's data string.

package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountFlags are the options that are mount(2) flags: set or, for the
// "no" forms of a default, cleared.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"defaults": {false, 0}, "ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"suid": {true, unix.MS_NOSUID}, "nosuid": {false, unix.MS_NOSUID},
	"dev": {true, unix.MS_NODEV}, "nodev": {false, unix.MS_NODEV},
	"exec": {true, unix.MS_NOEXEC}, "noexec": {false, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime": {false, unix.MS_LAZYTIME}, "nolazytime": {true, unix.MS_LAZYTIME},
}

// Propagation are the propagation options, and rootfsPropagation's values.
var Propagation = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// ignoredOptions are runtime options of runc and crun that no mount(2)
// argument carries and minidocker does not implement; they are skipped
// rather than passed to the filesystem, which would refuse them.
var ignoredOptions = map[string]bool{"tmpcopyup": true, "notmpcopyup": true, "copy-symlink": true}

// Options are a mount's options, split for mount(2).
type Options struct {
	Flags       uintptr // MS_RDONLY, MS_BIND, ...
	Propagation uintptr // MS_SLAVE|MS_REC, ..., or 0
	Data        string  // what the filesystem reads: "mode=755,size=65536k"
}

// ParseOptions splits a config's mount options.
func ParseOptions(options []string) Options {
	var o Options
	var data []string
	for _, opt := range options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
			} else {
				o.Flags |= f.flag
			}
		} else if p, ok := Propagation[opt]; ok {
			o.Propagation = p
		} else if !ignoredOptions[opt] {
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}

// MountSpec makes one mount of a config inside root. A bind mount's
// source is a path on the host (the caller has made a relative one
// absolute); the destination is resolved inside root, as BindInRoot does.
func MountSpec(root string, m specs.Mount) error {
	o := ParseOptions(m.Options)
	var err error
	switch {
	case m.Type == "bind" || o.Flags&unix.MS_BIND != 0:
		err = BindInRoot(m.Source, root, m.Destination, Bind{Recursive: o.Flags&unix.MS_REC != 0, Extra: o.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)})
	case m.Type == "cgroup":
		err = mountCgroup(root, m.Destination, o)
	default:
		err = mountIn(root, m, o)
	}
	if err != nil || o.Propagation == 0 {
		return err
	}
	target, err := OpenInRoot(root, m.Destination, MakeNothing)
	if err != nil {
		return err
	}
	defer target.Close()
	return Mount("", fmt.Sprintf("/proc/self/fd/%d", target.Fd()), "", o.Propagation, "")
}

// mountIn mounts a filesystem (proc, tmpfs, sysfs, ...) on a destination
// inside root. sysfs cannot be mounted anew without a network namespace of
// one's own: then the host's is bound instead, read-only (MountProcSys's rule).
func mountIn(root string, m specs.Mount, o Options) error {
	target, err := OpenInRoot(root, m.Destination, MakeDirs)
	if err != nil {
		return err
	}
	defer target.Close()
	proc := fmt.Sprintf("/proc/self/fd/%d", target.Fd())
	err = Mount(m.Source, proc, m.Type, o.Flags, o.Data)
	if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) {
		return BindInRoot("/sys", root, m.Destination, Bind{Recursive: true, Extra: unix.MS_RDONLY})
	}
	if err != nil {
		return fmt.Errorf("%w (destination %s)", err, m.Destination)
	}
	return nil
}

// mountCgroup gives the container the cgroup filesystem: on v2 a cgroup2
// mount (in the container's cgroup namespace, when it has one, its own
// cgroup is its root); on v1 the host's hierarchies bound read-only, as a
// cgroup v1 mount of every controller together would collide with them.
func mountCgroup(root, dest string, o Options) error {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return mountIn(root, specs.Mount{Destination: dest, Type: "cgroup2", Source: "cgroup"}, o)
	}
	return BindInRoot("/sys/fs/cgroup", root, dest, Bind{Recursive: true, Extra: o.Flags | unix.MS_RDONLY})
}

// defaultDevices are the nodes every OCI container's /dev has (the
// runtime-spec's "Default Devices"), made when the config mounts /dev.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7}, {Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9}, {Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// MakeDevices makes the default devices and the config's inside root, and
// the usual links in /dev. Inside a user namespace mknod(2) is refused,
// so each node is bound from the host's node of the same path instead.
func MakeDevices(root string, devices []specs.LinuxDevice, userns bool) error {
	all := append(append([]specs.LinuxDevice{}, defaultDevices...), devices...)
	for _, d := range all {
		if err := makeDevice(root, d, userns); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if l[0] == "core" {
			if _, err := os.Stat("/proc/kcore"); err != nil {
				continue
			}
		}
		link := filepath.Join(root, "dev", l[0])
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(l[1], link); err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", link, l[1], err)
		}
	}
	return nil
}

// deviceTypes are mknod(2)'s file types for a device's type letter.
var deviceTypes = map[string]uint32{"c": unix.S_IFCHR, "u": unix.S_IFCHR, "b": unix.S_IFBLK, "p": unix.S_IFIFO}

// makeDevice makes one node, with its mode and owner, in its directory inside root.
func makeDevice(root string, d specs.LinuxDevice, userns bool) error {
	kind, ok := deviceTypes[d.Type]
	if !ok {
		return fmt.Errorf("device %s: type %q is not c, b, u or p", d.Path, d.Type)
	}
	if userns {
		return BindInRoot(d.Path, root, d.Path, Bind{})
	}
	dir, err := OpenInRoot(root, filepath.Dir(d.Path), MakeDirs)
	if err != nil {
		return err
	}
	defer dir.Close()
	// A node or file already there (an image's /dev/null) is replaced.
	name := filepath.Base(d.Path)
	_ = unix.Unlinkat(int(dir.Fd()), name, 0)
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	dirPath := fmt.Sprintf("/proc/self/fd/%d", dir.Fd())
	path := filepath.Join(dirPath, name)
	if err := unix.Mknod(path, kind|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod %s (%s %d:%d): %w", d.Path, d.Type, d.Major, d.Minor, err)
	}
	if err := unix.Chmod(path, mode); err != nil { // mknod's mode passes the umask
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}

// OptionNames are the mount options ParseOptions knows, sorted.
func OptionNames() []string {
	var out []string
	for name := range mountFlags {
		out = append(out, name)
	}
	for name := range Propagation {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
