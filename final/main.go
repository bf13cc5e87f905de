//go:build linux

// minidocker: the mechanisms of steps 01 to 08 behind a Docker-shaped
// command line. It is daemonless: every command reads and changes the state
// directory itself, under a lock, and a detached container is watched by a
// monitor, this same binary re-executed. Three hidden verbs are that
// re-execution, and main handles them first:
//
//	minidocker init          the child side of a container (internal/container/init.go)
//	minidocker exec-init     the process that joins a container for exec (exec.go)
//	minidocker monitor ID    the monitor of a detached container (cmd_run.go)
//
// Every other verb is an entry of the table in commands.go, one file each.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/rootless"
)

func init() {
	// The child sides set up namespaces, credentials and capabilities on
	// the thread they run on, and execve or fork from it; and the parent-
	// death signal of a container follows the thread that started it. One
	// thread, the main one, does all of that.
	runtime.LockOSThread()
}

func main() {
	// Before anything else: no file the caller left open may reach a
	// container, a monitor or any other program this one starts.
	if err := container.CloseExtraFilesOnExec(); err != nil {
		fmt.Fprintf(os.Stderr, "minidocker: %v\n", err)
		os.Exit(125)
	}
	// A rootless command's second half waits here for its user
	// namespace's maps, then re-executes itself (internal/rootless).
	if err := rootless.FinishEntry(); err != nil {
		fmt.Fprintf(os.Stderr, "minidocker: rootless: %v\n", err)
		os.Exit(125)
	}
	if isRuncName(os.Args[0]) {
		os.Exit(runcMain(os.Args[1:]))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "oci-init":
			os.Exit(container.OCIInitMain())
		case "init":
			os.Exit(container.InitMain())
		case "exec-init":
			os.Exit(container.ExecMain())
		case "monitor":
			os.Exit(monitorMain(os.Args[2:]))
		}
	}
	os.Exit(dispatch(os.Args[1:]))
}
