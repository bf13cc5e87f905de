//go:build linux

// import: make a one-layer image from a root filesystem tar (a file, or -
// for stdin), e.g. one made by export or an alpine minirootfs.

package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// importCommand is the import verb.
var importCommand = &command{
	name: "import", usage: "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]", short: "Make an image from a filesystem tar",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		changes := fs.StringArrayP("change", "c", nil, "apply a Dockerfile instruction, e.g. 'CMD [\"/bin/sh\"]'")
		message := fs.StringP("message", "m", "", "commit message")
		return func(s *session, args []string) error { return runImport(s, *changes, *message, args) }
	},
}

// runImport reads the tar and stores it as an image.
func runImport(s *session, changes []string, message string, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usagef("requires 1 or 2 arguments: the tar file (or -) and the image's name")
	}
	var r io.Reader = os.Stdin
	if args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	if err := s.open(); err != nil {
		return err
	}
	img, err := s.images.Import(r, ref, changes, message)
	if err != nil {
		return err
	}
	fmt.Println(img.ID)
	return nil
}
