//go:build linux

// Package container is a container's life: create its process in new
// namespaces (start.go), set up its inside (init.go, the child side, one
// straight line), watch it until it ends (monitor.go), join it later
// (exec.go), and clean up after it (cleanup.go). Steps 01 to 08 are the
// teaching versions of each part; docs/final.md maps them.
//
// The host side and the child side are the same binary: the host re-executes
// /proc/self/exe with the verb "init" in new namespaces, and sends the child
// its Spec as JSON on a pipe. The child blocks on that pipe until the host has
// put it into its cgroup and wired its network, so the command counts
// against its limits and finds eth0 ready from its first instruction.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// Spec is everything the child side needs to set the container up.
type Spec struct {
	Hostname    string
	Root        string   // the mount point of the union root
	Lower       []string // image layers, top first
	Upper, Work string   // the container's writable layer
	RootMounted bool     // the host mounted the union at Root already (--userns-remap)
	Args        []string // entrypoint + command
	Env         []string
	Cwd         string
	User        string
	Tty         bool
	Privileged  bool
	ReadOnly    bool
	Init        bool              // run a tiny init as PID 1 (--init)
	OwnNetwork  bool              // false with --network host
	EtcFiles    map[string]string // path inside ("/etc/hosts") -> file on the host
	Volumes     []Volume
	CapAdd      []string
	CapDrop     []string
	NoNewPrivs  bool
	Discard     bool            // --rm: the writable layer is deleted when the container ends
	SecurityOpt []string        // the record's; the child compiles its seccomp filter from them
	Seccomp     seccomp.Program // nil: unconfined
}

// Volume is one bind mount from the host into the container.
type Volume struct {
	Source, Destination string
	ReadOnly            bool
}

// Failure is what the child side reports when it cannot start the
// command: the exit status Docker would give (125 setup, 126 cannot
// execute, 127 not found) and the reason.
type Failure struct {
	Status  int
	Message string
}

// Error says what went wrong.
func (f *Failure) Error() string { return f.Message }

// fail makes a Failure for setup errors (125) unless err already is one.
func fail(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Status: 125, Message: err.Error()}
}

// readSpec reads a JSON value from the pipe on fd, blocking until the
// host side writes it.
func readSpec(fd uintptr, v any) error {
	pipe := os.NewFile(fd, "spec pipe")
	defer pipe.Close()
	data, err := io.ReadAll(pipe)
	if err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	if len(data) == 0 {
		return fmt.Errorf("the host side gave up before the container could start")
	}
	return json.Unmarshal(data, v)
}

// reportFailure writes a Failure to the error pipe on fd, for the host side.
func reportFailure(fd uintptr, f *Failure) {
	pipe := os.NewFile(fd, "error pipe")
	_ = json.NewEncoder(pipe).Encode(f)
	pipe.Close()
}

// readFailure reads what the child wrote on the error pipe: nil when it
// closed the pipe without writing, which means the command was executed.
func readFailure(r io.Reader) *Failure {
	data, _ := io.ReadAll(r)
	if len(data) == 0 {
		return nil
	}
	f := &Failure{}
	if err := json.Unmarshal(data, f); err != nil {
		return &Failure{Status: 125, Message: "the container side failed: " + string(data)}
	}
	return f
}
