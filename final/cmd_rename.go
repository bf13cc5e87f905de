//go:build linux

// rename: a new name for a container (state.Store.Rename keeps the names
// index in step, under the root lock).

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// renameCommand is the rename verb.
var renameCommand = &command{
	name: "rename", usage: "rename CONTAINER NEW_NAME", short: "Rename a container",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			if len(args) != 2 {
				return usagef("requires exactly 2 arguments")
			}
			if err := s.open(); err != nil {
				return err
			}
			return renameContainer(s, args[0], args[1])
		}
	},
}

// renameContainer renames the container ref names, with Docker's checks
// and words.
func renameContainer(s *session, ref, name string) error {
	name = strings.TrimPrefix(name, "/")
	if strings.TrimSpace(ref) == "" || name == "" {
		return invalidf("Neither old nor new names may be empty")
	}
	if err := checkName(name); err != nil {
		return err
	}
	return withLock(s, ref, func(c *state.Container) error {
		if c.Name == name {
			return invalidf("Renaming a container with the same name as its current name")
		}
		err := s.rt.State.Rename(c.ID, name)
		if errors.Is(err, state.ErrNameInUse) {
			_, other, _ := strings.Cut(err.Error(), ": ")
			return conflictf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other)
		}
		if err != nil {
			return fmt.Errorf("rename container %s to %s: %w", state.Short(c.ID), name, err)
		}
		return nil
	})
}
