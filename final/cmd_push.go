//go:build linux

// push: upload a stored image to the registry its name names.

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/registry"
)

// pushCommand is the push verb.
var pushCommand = &command{
	name: "push", usage: "push [OPTIONS] NAME[:TAG]", short: "Upload an image to a registry",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		quiet := fs.BoolP("quiet", "q", false, "print nothing")
		return func(s *session, args []string) error { return runPush(s, *quiet, args) }
	},
}

// runPush pushes the image a name points to under that name.
func runPush(s *session, quiet bool, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument: the image's name, e.g. localhost:5000/app:v1")
	}
	ref, err := registry.ParseReference(args[0])
	if err != nil {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	img, err := s.images.Resolve(displayName(ref))
	if err != nil {
		return fmt.Errorf("%w: tag an image with that name first (minidocker tag IMAGE %s)", err, args[0])
	}
	var progress registry.Progress
	if !quiet {
		progress = newProgress(os.Stdout)
	}
	_, err = s.registryClient().Push(context.Background(), ref, s.images, img, progress)
	return err
}
