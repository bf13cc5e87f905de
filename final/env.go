//go:build linux

// The environment every verb works in: where the state lives, the runtime,
// and the image store, opened only when a verb needs them (so that help and
// version work without root).

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// defaultRoot is the state directory unless --root or MINIDOCKER_ROOT say otherwise.
const defaultRoot = "/var/lib/minidocker"

// env is what the verbs share.
type env struct {
	root         string
	defaultRoot  bool // neither --root nor MINIDOCKER_ROOT was given
	cgroupParent string
	rt           *container.Runtime
	images       *image.Store
	removed      []*state.Container // removals a killed command left, finished by open
	debug        bool               // --debug or MINIDOCKER_DEBUG: print each registry request
	insecure     []string           // --insecure-registry: hosts spoken to in plain HTTP
}

// parseGlobal reads the flags before the verb: --root, --cgroup-parent,
// --debug and --insecure-registry.
func parseGlobal(args []string) (*env, []string, error) {
	e := &env{root: os.Getenv("MINIDOCKER_ROOT"), cgroupParent: cgroups.DefaultParent}
	if e.root == "" {
		e.root, e.defaultRoot = defaultRoot, true
	}
	e.debug = os.Getenv("MINIDOCKER_DEBUG") != ""
	for len(args) > 0 && strings.HasPrefix(args[0], "--") && args[0] != "--help" {
		if args[0] == "--debug" {
			e.debug, args = true, args[1:]
			continue
		}
		name, value, hasValue := strings.Cut(args[0], "=")
		if !hasValue {
			if len(args) < 2 {
				return nil, nil, fmt.Errorf("flag needs an argument: %s", name)
			}
			value, args = args[1], args[1:]
		}
		args = args[1:]
		switch name {
		case "--root":
			e.root, e.defaultRoot = value, false
		case "--cgroup-parent":
			e.cgroupParent = value
		case "--insecure-registry":
			e.insecure = append(e.insecure, value)
		default:
			return nil, nil, fmt.Errorf("unknown flag: %s", name)
		}
	}
	abs, err := filepath.Abs(e.root)
	if err != nil {
		return nil, nil, err
	}
	e.root = abs
	return e, args, nil
}

// checkParent refuses a global --cgroup-parent that CheckParent refuses;
// dispatch calls it once the verb is known, so that run exits 125 for it.
func (e *env) checkParent() error {
	if err := cgroups.CheckParent(e.cgroupParent); err != nil {
		return usagef("--cgroup-parent %q: %v", e.cgroupParent, err)
	}
	return nil
}

// open opens the state directory and the image store; it needs root.
func (e *env) open() error {
	if e.rt != nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("minidocker needs root: containers need namespaces, mounts and cgroups (try: sudo minidocker ...)")
	}
	st, err := state.Open(e.root)
	if err != nil {
		return err
	}
	images, err := image.Open(filepath.Join(e.root, "image"))
	if err != nil {
		return err
	}
	images.RemoveStale() // what a killed commit or load left, whatever this command is
	e.rt = &container.Runtime{State: st, CgroupParent: e.cgroupParent}
	e.images = images
	e.removed = e.rt.FinishRemovals()
	return nil
}

// finishedRemoval reports whether ref names a container whose removal a
// killed command began and open finished.
func (e *env) finishedRemoval(ref string) bool {
	ref = strings.TrimPrefix(ref, "/")
	for _, c := range e.removed {
		if c.Name == ref || (ref != "" && strings.HasPrefix(c.ID, ref)) {
			return true
		}
	}
	return false
}

// resolveImage finds an image; "base", the default image, is made from the
// host the first time it is asked for, so minidocker works offline.
func (e *env) resolveImage(ref string) (image.Image, error) {
	img, err := e.images.Resolve(ref)
	if err == nil || (ref != "base" && ref != "base:latest") {
		return img, err
	}
	fmt.Fprintln(os.Stderr, "minidocker: no image named base yet: making it from this host's programs (once)")
	img, _, err = e.images.EnsureBase(rootfs.BuildFromHost)
	return img, err
}

// containers returns every container record, repaired where stale.
func (e *env) containers() ([]*state.Container, error) {
	return e.rt.Reconcile()
}

// findRunning finds a container that must be running (exec, top).
func (e *env) findRunning(ref string) (*state.Container, error) {
	c, err := e.rt.Find(ref)
	if err != nil {
		return nil, err
	}
	if !container.Running(c) {
		return nil, fmt.Errorf("container %s is not running: start it first (minidocker start %s)", state.Short(c.ID), c.Name)
	}
	return c, nil
}

// summaries returns what ps shows of every container: summaries, cheap
// to read for a thousand containers (state/summary.go), with stale ones
// repaired through their full records.
func (e *env) summaries() ([]*state.Container, error) {
	list, err := e.rt.State.Summaries()
	if err != nil {
		return nil, err
	}
	var out []*state.Container
	for _, s := range list {
		c := s.Record()
		if container.Stale(c) {
			if c, err = e.rt.Find(c.ID); err != nil {
				continue // repaired and removed (--rm)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// imagesInUse reports which image ids a container uses, and which
// containers (short ids) use each.
func (e *env) imagesInUse() (map[string][]string, error) {
	list, err := e.containers()
	if err != nil {
		return nil, err
	}
	return usersOf(list), nil
}

// usersOf maps each image id to the containers (short ids) using it.
func usersOf(list []*state.Container) map[string][]string {
	used := map[string][]string{}
	for _, c := range list {
		used[c.Image] = append(used[c.Image], state.Short(c.ID))
	}
	return used
}

// imageUsers is how rmi and prune learn which containers use an image:
// the records are read when the image store first asks, which it does
// under its lock. A run claims its image under the same lock (create.go),
// so its record is either read here or written after the image is gone,
// and never is an image deleted under a container being made from it.
// Records that cannot be read make every image count as used.
func (e *env) imageUsers() image.UsedBy {
	var used map[string][]string
	var failed error
	return func(id string) []string {
		if used == nil && failed == nil {
			list, _, err := e.rt.State.List()
			used, failed = usersOf(list), err
		}
		if failed != nil {
			return []string{"(unknown: " + failed.Error() + ")"}
		}
		return used[id]
	}
}
