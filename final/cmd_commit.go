//go:build linux

// commit: the container's writable layer becomes a new image layer, on top
// of its image's layers (step08 is the teaching version).

package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
)

// commitOptions are commit's flags.
type commitOptions struct {
	message, author string
	changes         []string
}

// commitCommand is the commit verb.
var commitCommand = &command{
	name: "commit", usage: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", short: "Make an image from a container's changes",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &commitOptions{}
		fs.StringVarP(&o.message, "message", "m", "", "commit message")
		fs.StringVarP(&o.author, "author", "a", "", "author, e.g. \"Jane <jane@example.com>\"")
		fs.StringArrayVarP(&o.changes, "change", "c", nil, "apply a Dockerfile instruction, e.g. 'CMD [\"/bin/sh\"]'")
		return func(s *session, args []string) error { return runCommit(s, o, args) }
	},
}

// runCommit commits the container and tags the image if a name is given.
func runCommit(s *session, o *commitOptions, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usagef("requires 1 or 2 arguments: the container, and the new image's name")
	}
	var rc image.RunConfig
	if err := image.ApplyChanges(o.changes, &rc); err != nil {
		return usagef("%v", err)
	}
	if err := s.open(); err != nil {
		return err
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	img, err := commitContainer(s, args[0], ref, o)
	if err != nil {
		return err
	}
	fmt.Println(img.ID)
	return nil
}

// commitContainer makes an image of the container named by ctr, named
// ref when it is not empty.
func commitContainer(s *session, ctr, ref string, o *commitOptions) (image.Image, error) {
	c, err := s.rt.Find(ctr)
	if err != nil {
		return image.Image{}, err
	}
	// Hold the container's lock while its writable layer is read, so that
	// an rm cannot delete the layer under the commit.
	unlock, err := s.rt.State.LockContainer(c.ID)
	if err != nil {
		return image.Image{}, err
	}
	defer unlock()
	parent, err := s.images.Resolve(c.Image)
	if err != nil {
		return image.Image{}, fmt.Errorf("the image of container %s is gone: %w", c.Name, err)
	}
	upper := container.PathsIn(s.rt.State.Dir(c.ID)).Upper
	return s.images.Commit(upper, parent, image.CommitOptions{
		Comment: o.message, Author: o.author, Changes: o.changes, Ref: ref,
		CreatedBy: "minidocker commit " + c.Name, Filter: unmapFilter(c), Lower: c.Minidocker.Layers,
	})
}
