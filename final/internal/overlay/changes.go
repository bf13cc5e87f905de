//go:build linux

// What a container changed, read from its overlay upper dir as
// `docker diff` lists it: A (added), C (changed), D (deleted), one
// absolute path each. Whatever the container wrote, overlayfs copied up
// into the upper dir; a deletion left a whiteout (a 0/0 character
// device); a directory removed and made again is marked opaque, which
// hides everything below it. So: a whiteout is D; an entry of the upper
// dir is C when some lower layer has that path, A otherwise; and an
// opaque directory's lower entries that the upper dir does not have
// again are D, since the container no longer sees them.
//
// Not every entry of the upper dir is the container's doing. When an
// image lacks /dev, /proc, /sys or /etc/hostname, hosts and resolv.conf,
// start makes them there, only to mount over them (Docker keeps these in
// an "init" layer of their own, which diff and commit leave out). The
// container never sees those entries, as a mount covers them all its
// life, so they are left out here too, with an /etc that was made or
// copied up only to hold them.

package overlay

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// Change is one line of docker diff: Kind 0 changed, 1 added, 2 deleted,
// as the Engine API numbers them.
type Change struct {
	Path string
	Kind int
}

// The kinds of Change, as the Engine API numbers them.
const (
	Changed = 0
	Added   = 1
	Deleted = 2
)

// Letter is the Change's kind as docker diff prints it.
func (c Change) Letter() string { return [...]string{"C", "A", "D"}[c.Kind] }

// Changes lists what the upper dir holds over the lower dirs (top first),
// in path order.
func Changes(upper string, lower []string) ([]Change, error) {
	var out []Change
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if p == upper {
			return nil
		}
		rel := "/" + filepath.ToSlash(p[len(upper)+1:])
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		switch {
		case isWhiteout(&st):
			out = append(out, Change{rel, Deleted})
		case inLower(lower, rel):
			out = append(out, Change{rel, Changed})
			if d.IsDir() && isOpaque(p) {
				out = append(out, hidden(p, rel, lower)...)
			}
		default:
			out = append(out, Change{rel, Added})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return withoutMountPoints(out, upper, lower), err
}

// MountPoints are the paths start makes in the upper dir, when the image
// lacks them, only to mount over: never the container's changes.
var MountPoints = map[string]bool{
	"/dev": true, "/proc": true, "/sys": true,
	"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true,
}

// withoutMountPoints drops from list what start made only to mount over.
func withoutMountPoints(list []Change, upper string, lower []string) []Change {
	var out []Change
	for _, c := range list {
		if c.Kind == Deleted || !MadeToMountOver(upper, lower, c.Path) {
			out = append(out, c)
		}
	}
	return out
}

// MadeToMountOver reports whether rel (absolute inside the container) in
// the upper dir is a mount point start made, or a directory that holds
// nothing else and is new, or the same as in the lower layers but for its
// times: made or copied up only to hold a mount point.
func MadeToMountOver(upper string, lower []string, rel string) bool {
	if MountPoints[rel] {
		return true
	}
	entries, err := os.ReadDir(filepath.Join(upper, rel))
	if err != nil || len(entries) == 0 {
		return false
	}
	for _, e := range entries {
		if !MountPoints[path.Join(rel, e.Name())] {
			return false
		}
	}
	var up, low unix.Stat_t
	if unix.Lstat(filepath.Join(upper, rel), &up) != nil {
		return false
	}
	for _, dir := range lower {
		if unix.Lstat(filepath.Join(dir, rel), &low) == nil {
			return !isWhiteout(&low) && up.Mode == low.Mode && up.Uid == low.Uid && up.Gid == low.Gid
		}
	}
	return true // added
}

// inLower reports whether a lower layer has rel: the topmost layer that
// names it decides (a whiteout there means it was deleted below).
func inLower(lower []string, rel string) bool {
	for _, dir := range lower {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(dir, rel), &st) == nil {
			return !isWhiteout(&st)
		}
	}
	return false
}

// hidden lists the entries of the lower layers' rel that the opaque
// upper dir p does not have again: the container no longer sees them.
func hidden(p, rel string, lower []string) []Change {
	seen := map[string]bool{}
	var out []Change
	for _, dir := range lower {
		entries, _ := os.ReadDir(filepath.Join(dir, rel))
		for _, e := range entries {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			if _, err := os.Lstat(filepath.Join(p, e.Name())); os.IsNotExist(err) && inLower(lower, path.Join(rel, e.Name())) {
				out = append(out, Change{path.Join(rel, e.Name()), Deleted})
			}
		}
	}
	return out
}
