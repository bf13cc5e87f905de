//go:build linux

// The session every verb works in: where the state lives, the runtime,
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
	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
)

// defaultRoot is the state directory unless --root or MINIDOCKER_ROOT say otherwise.
const defaultRoot = "/var/lib/minidocker"

// session is what the verbs of one minidocker command share: the global
// flags, and the runtime and image store once open has opened them.
type session struct {
	root         string
	defaultRoot  bool // neither --root nor MINIDOCKER_ROOT was given
	cgroupParent string
	rt           *container.Runtime
	images       *image.Store
	removed      []*state.Container // removals a killed command left, finished by open
	debug        bool               // --debug or MINIDOCKER_DEBUG: print each registry request
	insecure     []string           // --insecure-registry: hosts spoken to in plain HTTP
	maxLayer     int64              // --max-layer-size: bound on a layer's uncompressed size, 0 for none
	rootless     bool               // run by an ordinary user, inside a user namespace (rootless.go)
}

// parseGlobal reads the flags before the verb: --root, --cgroup-parent,
// --debug, --insecure-registry and --max-layer-size.
func parseGlobal(args []string) (*session, []string, error) {
	s := &session{root: os.Getenv("MINIDOCKER_ROOT"), cgroupParent: cgroups.DefaultParent}
	if s.root == "" {
		s.root, s.defaultRoot = defaultRoot, true
	}
	s.debug = os.Getenv("MINIDOCKER_DEBUG") != ""
	for len(args) > 0 && strings.HasPrefix(args[0], "--") && args[0] != "--help" {
		if args[0] == "--debug" {
			s.debug, args = true, args[1:]
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
			s.root, s.defaultRoot = value, false
		case "--cgroup-parent":
			s.cgroupParent = value
		case "--insecure-registry":
			s.insecure = append(s.insecure, value)
		case "--max-layer-size":
			size, err := cgroups.ParseSize(name, value)
			if err != nil {
				return nil, nil, err
			}
			s.maxLayer = size
		default:
			return nil, nil, fmt.Errorf("unknown flag: %s", name)
		}
	}
	if err := s.rootlessDefaults(); err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(s.root)
	if err != nil {
		return nil, nil, err
	}
	s.root = abs
	return s, args, nil
}

// checkParent refuses a global --cgroup-parent that CheckParent refuses;
// dispatch calls it once the verb is known, so that run exits 125 for it.
func (s *session) checkParent() error {
	if err := cgroups.CheckParent(s.cgroupParent); err != nil {
		return usagef("--cgroup-parent %q: %v", s.cgroupParent, err)
	}
	return nil
}

// open opens the state directory and the image store; it needs root.
func (s *session) open() error {
	if s.rt != nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("minidocker needs root: containers need namespaces, mounts and cgroups (try: sudo minidocker ...)")
	}
	if s.rootless {
		overlay.UserXattr = true
	}
	st, err := state.Open(s.root)
	if err != nil {
		return err
	}
	images, err := image.Open(filepath.Join(s.root, "image"))
	if err != nil {
		return err
	}
	images.RemoveStale() // what a killed commit or load left, whatever this command is
	images.MaxLayerSize = s.maxLayer
	s.rt = &container.Runtime{State: st, CgroupParent: s.cgroupParent, Rootless: s.rootless}
	if s.rootless {
		if s.rt.RuntimeDir, err = rootless.RuntimeDir(); err != nil {
			return err
		}
	}
	s.images = images
	s.removed = s.rt.FinishRemovals()
	return nil
}

// finishedRemoval reports whether ref names a container whose removal a
// killed command began and open finished.
func (s *session) finishedRemoval(ref string) bool {
	ref = strings.TrimPrefix(ref, "/")
	for _, c := range s.removed {
		if c.Name == ref || (ref != "" && strings.HasPrefix(c.ID, ref)) {
			return true
		}
	}
	return false
}

// resolveImage finds an image; "base", the default image, is made from the
// host the first time it is asked for, so minidocker works offline.
func (s *session) resolveImage(ref string) (image.Image, error) {
	img, err := s.images.Resolve(ref)
	if err == nil || (ref != "base" && ref != "base:latest") {
		return img, err
	}
	fmt.Fprintln(os.Stderr, "minidocker: no image named base yet: making it from this host's programs (once)")
	img, _, err = s.images.EnsureBase(rootfs.BuildFromHost)
	return img, err
}

// containers returns every container record, repaired where stale.
func (s *session) containers() ([]*state.Container, error) {
	return s.rt.Reconcile()
}

// findRunning finds a container that must be running (exec, top).
func (s *session) findRunning(ref string) (*state.Container, error) {
	c, err := s.rt.Find(ref)
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
// repaired through their full records. Only a summary that claims a
// process is turned into a record, to look at that process: a record is a
// kilobyte, and a thousand of them were a third of a ps's time.
func (s *session) summaries() ([]state.Summary, error) {
	list, err := s.rt.State.Summaries()
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, sum := range list {
		if sum.State.Running || sum.Monitor[0] != 0 {
			if c := sum.Record(); container.Stale(c) {
				if c, err = s.rt.Find(c.ID); err != nil {
					continue // repaired and removed (--rm)
				}
				sum = state.SummaryOf(c)
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

// imagesInUse reports which image ids a container uses, and which
// containers (short ids) use each.
func (s *session) imagesInUse() (map[string][]string, error) {
	list, err := s.containers()
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
func (s *session) imageUsers() image.UsedBy {
	var used map[string][]string
	var failed error
	return func(id string) []string {
		if used == nil && failed == nil {
			list, _, err := s.rt.State.List()
			used, failed = usersOf(list), err
		}
		if failed != nil {
			return []string{"(unknown: " + failed.Error() + ")"}
		}
		return used[id]
	}
}
