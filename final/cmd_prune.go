//go:build linux

// container prune and image prune: remove every stopped container, or
// every image no container uses (untagged ones only, without -a), as
// docker prints it: the list under "Deleted Containers:" or "Deleted
// Images:", then "Total reclaimed space:". Without -f they ask first, on
// stdin, as docker does; anything but y keeps everything.

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
)

// containerCommand is `container prune`: the one verb of docker's
// container group that has no short form (ps, rm and the rest are here).
var containerCommand = &command{
	name: "container", usage: "container prune [-f]", short: "Remove all stopped containers (container prune)",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		force := fs.BoolP("force", "f", false, "Do not prompt for confirmation")
		return func(s *session, args []string) error {
			if len(args) != 1 || args[0] != "prune" {
				return usagef("want 'container prune': the other container verbs are top-level (minidocker ps, rm, ...)")
			}
			if !*force && !confirm(os.Stdin, "WARNING! This will remove all stopped containers.") {
				return nil
			}
			if err := s.open(); err != nil {
				return err
			}
			return printPruned("Deleted Containers:", pruneContainers(s))
		}
	},
}

// imageCommand is `image prune [-a]`.
var imageCommand = &command{
	name: "image", usage: "image prune [-a] [-f]", short: "Remove unused images (image prune)",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		all := fs.BoolP("all", "a", false, "Remove all unused images, not just dangling ones")
		force := fs.BoolP("force", "f", false, "Do not prompt for confirmation")
		return func(s *session, args []string) error {
			if len(args) != 1 || args[0] != "prune" {
				return usagef("want 'image prune': the other image verbs are top-level (minidocker images, rmi, ...)")
			}
			warning := "WARNING! This will remove all dangling images."
			if *all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !*force && !confirm(os.Stdin, warning) {
				return nil
			}
			if err := s.open(); err != nil {
				return err
			}
			return printPruned("Deleted Images:", pruneImages(s, *all))
		}
	},
}

// confirm asks the question on stdout and reads the answer from in.
func confirm(in io.Reader, warning string) bool {
	fmt.Print(warning + "\nAre you sure you want to continue? [y/N] ")
	answer, _ := bufio.NewReader(in).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// pruned is what a prune removed: lines to print, bytes freed, and the
// first error met.
type pruned struct {
	lines     []string
	reclaimed int64
	err       error
}

// printPruned prints a prune's result as docker does.
func printPruned(title string, p pruned) error {
	if len(p.lines) > 0 {
		fmt.Println(title)
		for _, l := range p.lines {
			fmt.Println(l)
		}
		fmt.Println()
	}
	fmt.Printf("Total reclaimed space: %s\n", humanSize(p.reclaimed))
	return p.err
}

// pruneContainers removes every container that is not running, each
// under its lock (a container started meanwhile is kept).
func pruneContainers(s *session) pruned {
	var p pruned
	list, err := s.containers()
	if err != nil {
		return pruned{err: err}
	}
	for _, c := range list {
		if container.Running(c) {
			continue
		}
		size := dirSize(container.PathsIn(s.rt.State.Dir(c.ID)).Upper)
		if err := s.rt.Remove(c); err != nil {
			if r, gerr := s.rt.State.Get(c.ID); gerr != nil || !container.Running(r) {
				p.err = err // not a container started meanwhile, which is kept
			}
			continue
		}
		p.lines, p.reclaimed = append(p.lines, c.ID), p.reclaimed+size
	}
	return p
}

// pruneImages removes the images no container uses, in docker's words
// ("untagged: NAME", "deleted: sha256:...").
func pruneImages(s *session, all bool) pruned {
	lines, reclaimed, err := s.images.Prune(s.imageUsers(), all)
	for i, l := range lines {
		if kind, rest, ok := strings.Cut(l, ": "); ok {
			lines[i] = strings.ToLower(kind) + ": " + rest
		}
	}
	return pruned{lines: lines, reclaimed: reclaimed, err: err}
}
