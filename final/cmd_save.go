//go:build linux

// save and load: images as one tar that is both a docker-archive (docker
// load reads it) and an OCI image layout; load reads those, older
// docker-archives, and OCI layouts.

package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
)

// saveCommand is the save verb.
var saveCommand = &command{
	name: "save", usage: "save [OPTIONS] IMAGE [IMAGE...]", short: "Write images to a tar archive",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		output := fs.StringP("output", "o", "", "write to a file instead of stdout")
		return func(s *session, args []string) error { return runSave(s, *output, args) }
	},
}

// loadCommand is the load verb.
var loadCommand = &command{
	name: "load", usage: "load [OPTIONS]", short: "Read images from a tar archive",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		input := fs.StringP("input", "i", "", "read from a file instead of stdin")
		return func(s *session, args []string) error { return runLoad(s, *input, args) }
	},
}

// runSave writes the images.
func runSave(s *session, output string, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	w, done, err := outputFile(output)
	if err != nil {
		return err
	}
	err = s.images.Save(w, args)
	done(err == nil)
	return err
}

// runLoad reads the archive and prints what it loaded.
func runLoad(s *session, input string, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments: give the archive with -i FILE or on stdin")
	}
	var r io.Reader = os.Stdin
	if input != "" {
		f, err := os.Open(input)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if err := s.open(); err != nil {
		return err
	}
	lines, err := s.images.Load(r)
	for _, l := range lines {
		fmt.Println(l)
	}
	return err
}
