//go:build linux

// minidocker as an OCI runtime: the binary answers to runc's command line
// when it is called by a name ending in "runc" (a link named
// minidocker-runc, or runc itself on a PATH containerd searches). One
// binary, not two: the OCI verbs run bundles with the same packages as
// `minidocker run` (internal/container, rootfs, cgroups, seccomp), and a
// link costs nothing in a static CGO_ENABLED=0 build. A subcommand
// (`minidocker oci create`) could not work: containerd and podman put
// runc's global flags (--root, --log) before the verb.
//
//	minidocker-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB [OPTIONS] ID
//
// Errors go to stderr and, as the JSON lines containerd and conmon read
// ({"level":"error","msg":...,"time":...}), to the --log file.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/oci"
)

// isRuncName reports whether argv[0] asks for the OCI runtime.
func isRuncName(argv0 string) bool {
	return strings.HasSuffix(filepath.Base(argv0), "runc")
}

// runcGlobals are runc's global flags.
type runcGlobals struct {
	root, logPath, logFormat string
	debug, systemdCgroup     bool
	rootless                 string
	log                      io.Writer // the --log file, or nil
}

// runcVerb is one verb of the OCI command line.
type runcVerb struct {
	name, usage string
	// setup defines the verb's flags and returns what runs it.
	setup func(fs *pflag.FlagSet) func(g *runcGlobals, args []string) error
}

// runcVerbs is the OCI command line's verbs.
var runcVerbs = []*runcVerb{
	ociCreateVerb, ociStartVerb, ociStateVerb, ociKillVerb, ociDeleteVerb, ociRunVerb,
	ociExecVerb, ociPsVerb, ociListVerb, ociSpecVerb, ociFeaturesVerb, ociPauseVerb, ociResumeVerb,
}

// runcMain is main for the OCI runtime; it returns the exit status.
func runcMain(args []string) int {
	g := &runcGlobals{}
	fs := pflag.NewFlagSet("minidocker-runc", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	root := os.Getenv("MINIDOCKER_RUNC_ROOT") // for callers that cannot pass --root (runtime-tools' suite)
	if root == "" {
		root = oci.DefaultRoot
	}
	fs.StringVar(&g.root, "root", root, "state directory (or $MINIDOCKER_RUNC_ROOT)")
	fs.StringVar(&g.logPath, "log", "", "append errors (and with --debug, more) to this file")
	fs.StringVar(&g.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&g.debug, "debug", false, "log debug lines")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "refused: minidocker drives cgroupfs")
	fs.StringVar(&g.rootless, "rootless", "auto", "refused unless false or auto: minidocker runs as root")
	version := fs.BoolP("version", "v", false, "print the version")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "minidocker-runc: %v\n", err)
		return 2
	}
	if *version {
		fmt.Printf("minidocker-runc version %s\nspec: %s\n", Version, specs.Version)
		return 0
	}
	if err := g.open(); err != nil {
		g.fail(err) // to the log too, if it could be opened
		return 1
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "--help" {
		printRuncHelp(os.Stdout)
		return 0
	}
	return g.runVerb(rest[0], rest[1:])
}

// open opens the log file and refuses what cannot be honoured.
func (g *runcGlobals) open() error {
	if g.logFormat != "text" && g.logFormat != "json" {
		return fmt.Errorf("--log-format %q: give text or json", g.logFormat)
	}
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open the log %s: %w", g.logPath, err)
		}
		g.log = f
	}
	switch {
	case g.systemdCgroup:
		return errors.New("--systemd-cgroup: minidocker drives cgroupfs only and cannot ask systemd for a scope; drop the flag (podman: --cgroup-manager=cgroupfs; containerd: SystemdCgroup = false)")
	case g.rootless != "auto" && g.rootless != "false":
		return fmt.Errorf("--rootless %s: minidocker's OCI runtime runs as root only", g.rootless)
	}
	return nil
}

// runVerb finds and runs one verb.
func (g *runcGlobals) runVerb(name string, args []string) int {
	for _, v := range runcVerbs {
		if v.name != name {
			continue
		}
		fs := pflag.NewFlagSet("minidocker-runc "+name, pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.SetInterspersed(name != "exec" && name != "run")
		run := v.setup(fs)
		if err := fs.Parse(args); errors.Is(err, pflag.ErrHelp) {
			fmt.Printf("Usage: minidocker-runc %s %s\n\nOptions:\n%s", name, v.usage, fs.FlagUsages())
			return 0
		} else if err != nil {
			g.fail(fmt.Errorf("%s: %w (usage: %s %s)", name, err, name, v.usage))
			return 2
		}
		return g.status(run(g, fs.Args()))
	}
	g.fail(fmt.Errorf("unknown command %q: run 'minidocker-runc help' for the verbs", name))
	return 2
}

// status turns a verb's error into an exit status, logging it.
func (g *runcGlobals) status(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			g.fail(errors.New(se.msg))
		}
		return se.status
	}
	if err != nil {
		g.fail(err)
		return 1
	}
	return 0
}

// fail writes err to stderr and the log; it returns err.
func (g *runcGlobals) fail(err error) error {
	fmt.Fprintf(os.Stderr, "minidocker-runc: %v\n", err)
	g.logLine("error", err.Error())
	return err
}

// debugf logs a debug line when --debug is given.
func (g *runcGlobals) debugf(format string, args ...any) {
	if g.debug {
		g.logLine("debug", fmt.Sprintf(format, args...))
	}
}

// logLine appends one line to the log file, as JSON with --log-format json.
func (g *runcGlobals) logLine(level, msg string) {
	if g.log == nil {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		line, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(g.log, "%s\n", line)
		return
	}
	fmt.Fprintf(g.log, "time=%q level=%s msg=%q\n", now, level, msg)
}

// store is the records under --root.
func (g *runcGlobals) store() *oci.Store {
	root, err := filepath.Abs(g.root)
	if err != nil {
		root = g.root
	}
	return &oci.Store{Root: root}
}

// printRuncHelp lists the verbs.
func printRuncHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: minidocker-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [OPTIONS] ID")
	fmt.Fprintln(w, "\nminidocker as an OCI runtime, with runc's command line.\n\nCommands:")
	for _, v := range runcVerbs {
		fmt.Fprintf(w, "  %-9s %s\n", v.name, v.usage)
	}
}
