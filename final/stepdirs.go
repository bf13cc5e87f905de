//go:build linux

// The steps' temporary directories, as cleanup finds them: a step makes
// its root filesystem, its container's layers and its /etc files in
// $TMPDIR/minidocker-{rootfs,container,etc}-*, and removes them when it
// ends; killed with SIGKILL, it cannot. The names carry no owner, so a
// directory counts as a live step's while a process uses it: as its root
// (step 03 chroots into it), or in a mount of a mount namespace other than
// cleanup's own (the later steps bind-mount or overlay it inside the
// container's namespace, which lives exactly as long as the container).
// mountinfo gives a bind mount's source as a path within its filesystem,
// not on the host (/tmp may be a filesystem of its own, as in the test
// VM), so it is found again through cleanup's own mounts of that device.
// Mounts in cleanup's own namespace prove nothing: a killed run can leave
// them there with nobody behind. A step that is still building its
// directory has no container yet; it is seen by its lock instead: every
// step holds an exclusive flock on each directory it makes for as long as
// it lives (lockedTempDir in the steps' rootfs.go), and cleanup removes a
// directory only once it holds that lock itself. The kernel drops a lock
// when its holder dies, so what a step killed with SIGKILL left is free.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// stepTempDirs are the directories the steps make in $TMPDIR that no
// running container uses and no running step holds; cleanup holds each
// one's lock from here until it exits, and says which it skipped.
func stepTempDirs() []string {
	used := pathsInUse()
	var out []string
	for _, pattern := range []string{"minidocker-rootfs-*", "minidocker-container-*", "minidocker-etc-*"} {
		found, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
		for _, dir := range found {
			if usedBelow(used, dir) {
				continue
			}
			if !lockStepDir(dir) {
				fmt.Fprintf(os.Stderr, "minidocker: skipped %s: a step that is still running holds it\n", dir)
				continue
			}
			out = append(out, dir)
		}
	}
	return out
}

// lockStepDir takes the step's lock on dir without waiting; false when a
// live step holds it. Once taken, the lock is kept until cleanup exits
// (the descriptor is left open). A directory that cannot be opened is
// not a step's anymore and is left to the removal that follows.
func lockStepDir(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		unix.Close(fd)
		return false
	}
	return true
}

// pathsInUse lists the root directories of every process, and what the
// mounts of the other mount namespaces hold: the directory or file each
// mounts (a bind mount's source) and the paths in its options (an
// overlay's layers), all as paths of cleanup's own namespace.
func pathsInUse() []string {
	self, _ := os.Readlink("/proc/self/ns/mnt")
	own := readMountinfo("/proc/self/mountinfo")
	seen := map[string]bool{self: true}
	var used []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		if root, err := os.Readlink(filepath.Join(proc, "root")); err == nil {
			used = append(used, root)
		}
		ns, err := os.Readlink(filepath.Join(proc, "ns", "mnt"))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		for _, m := range readMountinfo(filepath.Join(proc, "mountinfo")) {
			used = append(append(used, m.paths...), sourcesOf(m, own)...)
		}
	}
	return used
}

// mount is a mount of a mountinfo file, with every absolute path it
// names: its root, mount point and source, and the paths in its
// filesystem's options (an overlay's layers).
type mount struct {
	procfs.Mount
	paths []string
}

// readMountinfo reads a mountinfo file; nothing when it cannot.
func readMountinfo(path string) []mount {
	mounts, _ := procfs.Mountinfo(path)
	out := make([]mount, 0, len(mounts))
	for _, m := range mounts {
		// As the kernel writes them: an overlay's lowerdir=/a:/b, an NFS source's host:/path.
		words := strings.FieldsFunc(strings.Join([]string{m.Root, m.Point, m.Source, m.SuperOptions}, ","), func(r rune) bool {
			return r == ',' || r == '=' || r == ':'
		})
		var paths []string
		for _, w := range words {
			if strings.HasPrefix(w, "/") {
				paths = append(paths, w)
			}
		}
		out = append(out, mount{Mount: m, paths: paths})
	}
	return out
}

// sourcesOf is where m's root lies in cleanup's own namespace: below each
// of its own mounts of the same filesystem whose root contains it (a root
// is a path within the filesystem: /tmp may be a filesystem of its own).
func sourcesOf(m mount, own []mount) []string {
	var out []string
	for _, o := range own {
		if o.Dev != m.Dev {
			continue
		}
		if rest, ok := strings.CutPrefix(m.Root, strings.TrimSuffix(o.Root, "/")+"/"); ok || m.Root == o.Root {
			out = append(out, filepath.Join(o.Point, rest))
		}
	}
	return out
}

// usedBelow reports whether a path in used is dir or below it.
func usedBelow(used []string, dir string) bool {
	for _, p := range used {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}
