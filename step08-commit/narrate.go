//go:build linux

// Narration: every step tells the learner, line by line, what it asks of the
// kernel and which side asks — the host (the parent process) or the
// container (the child, after clone). Lines go to stderr so that the
// container's own output on stdout stays clean; they are coloured only when
// stderr is a terminal and NO_COLOR is unset, and -q silences them.

package main

import (
	"fmt"
	"os"

	"github.com/fatih/color"
	"golang.org/x/sys/unix"
)

// quiet is set by -q/--quiet; when true, nothing is narrated.
var quiet bool

// hostLabel and containerLabel prefix each narrated line with its side.
var (
	hostLabel      = color.New(color.FgCyan, color.Bold)
	containerLabel = color.New(color.FgYellow, color.Bold)
)

// setupColor decides once whether narration is coloured: only on a terminal.
func setupColor() {
	_, err := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS)
	color.NoColor = err != nil || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb"
}

// host narrates something the parent process does, on the host's side.
func host(format string, args ...any) {
	narrate(hostLabel.Sprint("[host]     "), format, args...)
}

// container narrates something the child does inside the new namespaces.
func container(format string, args ...any) {
	narrate(containerLabel.Sprint("[container]"), format, args...)
}

// narrate writes one labelled line to stderr unless -q was given.
func narrate(label, format string, args ...any) {
	if quiet {
		return
	}
	fmt.Fprintf(os.Stderr, "%s %s\n", label, fmt.Sprintf(format, args...))
}
