//go:build linux

// The steps' temporary directories, as cleanup finds them: a step makes
// its root filesystem, its container's layers and its /etc files in
// $TMPDIR/minidocker-{rootfs,container,etc}-*, and removes them when it
// ends; killed with SIGKILL, it cannot. The names carry no owner, so a
// directory counts as a live step's while a process uses it: as its root
// (step 03 chroots into it), or in a mount of a mount namespace other than
// cleanup's own (the later steps bind-mount or overlay it inside the
// container's namespace, which lives exactly as long as the container).
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

// pathsInUse lists the root directories of every process, and every path
// named in the mounts of the other mount namespaces (mount points, the
// roots of bind mounts, an overlay's layer directories).
func pathsInUse() []string {
	self, _ := os.Readlink("/proc/self/ns/mnt")
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
		used = append(used, mountPaths(filepath.Join(proc, "mountinfo"))...)
	}
	return used
}

// mountPaths returns every absolute path a mountinfo file names, see proc(5).
func mountPaths(mountinfo string) []string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil
	}
	defer f.Close()
	var paths []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, word := range strings.FieldsFunc(s.Text(), func(r rune) bool { return r == ' ' || r == ',' || r == '=' || r == ':' }) {
			if strings.HasPrefix(word, "/") {
				paths = append(paths, word)
			}
		}
	}
	return paths
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
