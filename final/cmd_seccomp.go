//go:build linux

// seccomp-bpf: a hidden verb for learners (docs/final.md): print the BPF
// program a seccomp profile compiles to, as run would load it.

package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// seccompCommand is the seccomp-bpf verb.
var seccompCommand = &command{
	name: "seccomp-bpf", usage: "seccomp-bpf [--cap-add CAP] [PROFILE.json]", hidden: true,
	short: "Print the BPF program a seccomp profile (Docker's default without one) compiles to",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		var capAdd []string
		fs.StringArrayVar(&capAdd, "cap-add", nil, "compile for a container with this capability too")
		return func(s *session, args []string) error { return runSeccompBPF(capAdd, args) }
	},
}

// runSeccompBPF compiles the profile for Docker's default capabilities
// plus capAdd and prints the program.
func runSeccompBPF(capAdd, args []string) error {
	if len(args) > 1 {
		return usagef("at most one profile file")
	}
	if err := container.CheckCapNames(capAdd); err != nil {
		return usagef("%v", err)
	}
	p, err := seccomp.Default()
	if err != nil {
		return err
	}
	if len(args) == 1 {
		data, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		if p, err = seccomp.Parse(data); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
	}
	prog, err := seccomp.Compile(p, container.CapSet(capAdd, nil, false))
	if err != nil {
		return err
	}
	fmt.Print(seccomp.Listing(prog))
	return nil
}
