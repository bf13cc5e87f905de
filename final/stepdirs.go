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
// directory, before its container starts, is not seen: it has no
// container yet, and its build takes a moment.

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// stepTempDirs are the directories the steps make in $TMPDIR that no
// running container uses.
func stepTempDirs() []string {
	used := pathsInUse()
	var out []string
	for _, pattern := range []string{"minidocker-rootfs-*", "minidocker-container-*", "minidocker-etc-*"} {
		found, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
		for _, dir := range found {
			if !usedBelow(used, dir) {
				out = append(out, dir)
			}
		}
	}
	return out
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

// mount is one line of a mountinfo file, see proc(5).
type mount struct {
	dev, root, point string   // fields 3, 4 and 5: major:minor, the root within the filesystem, the mount point
	paths            []string // every absolute path the line names: those, its source, an overlay's layers
}

// readMountinfo reads a mountinfo file.
func readMountinfo(path string) []mount {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var mounts []mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		m := mount{dev: fields[2], root: fields[3], point: fields[4]}
		for _, word := range strings.FieldsFunc(s.Text(), func(r rune) bool { return r == ' ' || r == ',' || r == '=' || r == ':' }) {
			if strings.HasPrefix(word, "/") {
				m.paths = append(m.paths, word)
			}
		}
		mounts = append(mounts, m)
	}
	return mounts
}

// sourcesOf is where m's root lies in cleanup's own namespace: below each
// of its own mounts of the same filesystem whose root contains it (a root
// is a path within the filesystem: /tmp may be a filesystem of its own).
func sourcesOf(m mount, own []mount) []string {
	var out []string
	for _, o := range own {
		if o.dev != m.dev {
			continue
		}
		if rest, ok := strings.CutPrefix(m.root, strings.TrimSuffix(o.root, "/")+"/"); ok || m.root == o.root {
			out = append(out, filepath.Join(o.point, rest))
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
