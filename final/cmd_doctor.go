//go:build linux

// doctor: check that this host can run containers, and say how to fix
// what is missing (internal/doctor does the checks). A learner can run it
// before step 01: sudo go run ./final doctor.

package main

import (
	"fmt"
	"os"

	"github.com/fatih/color"
	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/doctor"
	"github.com/minidocker/minidocker/final/internal/rootless"
)

// doctorCommand is the doctor verb.
var doctorCommand = &command{
	name: "doctor", usage: "doctor", short: "Check this host, and say how to fix what is missing",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runDoctor(s) }
	},
}

// runDoctor prints each check, OK or the fix; it fails if any check did.
func runDoctor(s *session) error {
	ok, bad := color.New(color.FgGreen).SprintFunc(), color.New(color.FgRed).SprintFunc()
	failed := 0
	root := s.root
	if os.Geteuid() != 0 && s.defaultRoot {
		if dir, err := rootless.DataDir(); err == nil {
			root = dir // where a rootless minidocker keeps its state
		}
	}
	for _, c := range doctor.Run(root) {
		if c.OK {
			fmt.Printf("%s  %s: %s\n", ok("OK  "), c.Name, c.Detail)
			continue
		}
		failed++
		fmt.Printf("%s  %s: %s\n      fix: %s\n", bad("FAIL"), c.Name, c.Detail, c.Fix)
	}
	if failed > 0 {
		return &statusError{status: 1, msg: fmt.Sprintf("%d check(s) failed", failed)}
	}
	return nil
}
