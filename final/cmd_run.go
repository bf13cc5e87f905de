//go:build linux

// run: create a container from an image and start it, in the foreground
// (minidocker itself is the monitor, attached to the user's terminal) or
// detached with -d (a monitor process of its own; minidocker prints the id
// and returns).

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// runOptions are run's flags.
type runOptions struct {
	detach, interactive, tty, rm, readOnly, init, privileged bool
	name, workdir, hostname, user, cidfile, entrypoint       string
	network                                                  string
	env, envFiles, volumes, publish, labels                  []string
	capAdd, capDrop, securityOpt                             []string
	entrypointSet                                            bool
	entrypointArgs                                           []string  // the API's Entrypoint list, instead of entrypoint
	stdinOnce                                                bool      // the API's StdinOnce: docker run -i
	consoleSize                                              [2]uint16 // the API's ConsoleSize: the client's terminal
	limits                                                   cgroups.Flags
	cgroupParent                                             string
	usernsRemap, userns                                      string // see userns.go
}

// runCommand is the run verb.
var runCommand = &command{
	name: "run", usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
	short: "Create and start a container", statusVerb: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &runOptions{}
		addRunFlags(fs, o)
		return func(s *session, args []string) error {
			o.entrypointSet = fs.Changed("entrypoint")
			return runRun(s, o, args)
		}
	},
}

// addRunFlags defines run's flags, which create shares.
func addRunFlags(fs *pflag.FlagSet, o *runOptions) {
	fs.BoolVarP(&o.detach, "detach", "d", false, "run in the background and print the container id")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open")
	fs.BoolVarP(&o.tty, "tty", "t", false, "give the container a terminal")
	fs.BoolVar(&o.rm, "rm", false, "remove the container when it exits")
	fs.StringVar(&o.name, "name", "", "name the container")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass the host's)")
	fs.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file")
	fs.StringArrayVarP(&o.labels, "label", "l", nil, "set a label on the container (KEY=VALUE, or KEY for an empty value)")
	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind a host directory: /host/path:/container/path[:ro]")
	fs.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a port: [HOSTIP:][HOSTPORT:]PORT[/udp]")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "the container's hostname (default: its short id)")
	fs.StringVarP(&o.user, "user", "u", "", "user to run as: name|uid[:group|gid]")
	fs.StringVar(&o.cidfile, "cidfile", "", "write the container id to this file")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "override the image's entrypoint")
	fs.StringVar(&o.network, "network", "bridge", "network: bridge, none or host")
	fs.BoolVar(&o.readOnly, "read-only", false, "mount the container's root filesystem read-only")
	fs.BoolVar(&o.init, "init", false, "run a tiny init as PID 1 that forwards signals and reaps zombies")
	fs.BoolVar(&o.privileged, "privileged", false, "give the container every capability and every host device")
	fs.StringArrayVar(&o.capAdd, "cap-add", nil, "add a capability, e.g. NET_ADMIN")
	fs.StringArrayVar(&o.capDrop, "cap-drop", nil, "drop a capability, e.g. CHOWN, or ALL")
	fs.StringArrayVar(&o.securityOpt, "security-opt", nil, "security option: no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json")
	l := &o.limits
	fs.StringVarP(&l.Memory, "memory", "m", "", "memory limit, e.g. 64m")
	fs.StringVar(&l.MemorySwap, "memory-swap", "", "memory plus swap limit, e.g. 128m; -1 for unlimited swap")
	fs.Int64VarP(&l.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight, default 1024)")
	fs.Var((*cpusValue)(&l.CPUs), "cpus", "number of CPUs, e.g. 1.5")
	fs.StringVar(&l.CpusetCPUs, "cpuset-cpus", "", "CPUs to run on, e.g. 0-1")
	fs.Int64Var(&l.PidsLimit, "pids-limit", 0, "maximum number of processes")
	fs.StringArrayVar(&l.ReadBps, "device-read-bps", nil, "read rate limit, e.g. /dev/sda:1mb")
	fs.StringArrayVar(&l.WriteBps, "device-write-bps", nil, "write rate limit, e.g. /dev/sda:1mb")
	fs.StringArrayVar(&l.ReadIOPS, "device-read-iops", nil, "read operations per second, e.g. /dev/sda:100")
	fs.StringArrayVar(&l.WriteIOPS, "device-write-iops", nil, "write operations per second, e.g. /dev/sda:100")
	fs.StringVar(&o.cgroupParent, "cgroup-parent", "", "absolute cgroup to put the container under")
	addUsernsFlags(fs, o)
}

// cpusValue is --cpus: a decimal number of CPUs, read as Docker reads it
// (a rational number, so its error is Docker's and not strconv's).
type cpusValue float64

// String prints the value as pflag's help does.
func (v *cpusValue) String() string { return strconv.FormatFloat(float64(*v), 'f', -1, 64) }

// Set parses a number of CPUs.
func (v *cpusValue) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %s as a rational number", s)
	}
	f, _ := r.Float64()
	*v = cpusValue(f)
	return nil
}

// Type names the value in help.
func (v *cpusValue) Type() string { return "decimal" }

// runRun is the run verb: create, then start attached or detached.
func runRun(s *session, o *runOptions, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument: the image (e.g. minidocker run base echo hello)")
	}
	if err := s.open(); err != nil {
		return err
	}
	c, unlock, err := create(s, o, args[0], args[1:])
	if err != nil {
		return err
	}
	if o.detach {
		defer unlock()
		if err := startDetached(s, c); err != nil {
			return err
		}
		fmt.Println(c.ID)
		return nil
	}
	return runAttached(s, c, o.interactive, unlock)
}

// runAttached runs c with minidocker as its monitor, attached to the
// user's terminal, and exits with the container's status. The caller
// holds c's lock; unlock lets go of it once the command runs (or failed to).
func runAttached(s *session, c *state.Container, interactive bool, unlock func()) error {
	defer unlock()
	att := &container.Attach{Stdout: os.Stdout, Stderr: os.Stderr}
	if interactive {
		att.Stdin = os.Stdin
	}
	if c.Config.Tty && tty.IsTerminal(os.Stdin) {
		att.Terminal = os.Stdin
		restore, err := tty.MakeRaw(os.Stdin)
		if err == nil {
			defer restore()
		}
	}
	status := s.rt.Run(c, att, func(err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "minidocker: %v\n", err)
		}
		unlock()
	})
	if status != 0 {
		return &statusError{status: status}
	}
	return nil
}

// startDetached starts a monitor process for c and waits until it reports
// that the command runs, or why it could not. The caller holds c's lock,
// and the monitor shares it (fd 4) until it reports: even if this
// command is killed meanwhile, no other start can begin before then.
func startDetached(s *session, c *state.Container) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command("/proc/self/exe", "monitor", "--root", s.root, "--cgroup-parent", s.cgroupParent, c.ID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	// One P: a monitor mostly waits, and each P the runtime makes costs a
	// monitor memory for its whole life (a cache of spans, a GC worker,
	// more threads): 0.11 MB of its 2 (docs/benchmarks.md).
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.ExtraFiles = []*os.File{w}
	if lock := s.rt.State.LockFile(c.ID); lock != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, lock)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start the monitor: %w", err)
	}
	_ = cmd.Process.Release() // it outlives us
	line, _ := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) == "ok" {
		return nil
	}
	var f container.Failure
	if json.Unmarshal([]byte(line), &f) == nil && f.Message != "" {
		return &statusError{status: f.Status, msg: f.Message}
	}
	return &statusError{status: 125, msg: "the monitor ended before the container started: see 'minidocker inspect " + state.Short(c.ID) + "'"}
}

// monitorMain is the hidden verb "monitor ID": run a container detached,
// reporting on fd 3 once it runs; fd 4, if open, is the container's lock,
// held by the command that started us, which we hold too until we report.
func monitorMain(args []string) int {
	s, rest, err := parseGlobal(args)
	if err == nil && len(rest) != 1 {
		err = errors.New("usage: monitor ID")
	}
	if err == nil {
		err = s.open()
	}
	var c *state.Container
	if err == nil {
		c, err = s.rt.State.Get(rest[0])
	}
	report := os.NewFile(3, "report")
	release := adoptLock(s, rest, err)
	defer release()
	if err != nil {
		reportStart(report, err)
		return 125
	}
	return s.rt.Run(c, nil, func(err error) {
		reportStart(report, err)
		release()
		settleMemory()
	})
}

// settleMemory is called once the monitor has reported the start (not
// before: run -d would wait for it). It gives back to the kernel what
// the start needed and no longer does, then lets the collector run only
// when the monitor's memory has grown by 4 MB, the room Go's default
// pacing gives a small heap, instead of also every two minutes as Go
// does with nothing to collect. Each collection leaves memory behind
// for good (the sweeper's span sets and mark bits: +0.4 MB after the
// first), and an idle monitor allocates nothing (see beat), so it now
// never collects; one that logs collects as before. docs/benchmarks.md,
// "A monitor's memory", has the measurements.
func settleMemory() {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(int64(m.Sys-m.HeapReleased) + 4<<20) // what the limit counts: all the runtime holds from the kernel
}

// adoptLock takes over the container lock inherited as fd 4, closed on
// exec so that the container never inherits it; the returned function
// lets go of our share.
func adoptLock(s *session, rest []string, err error) func() {
	if _, ferr := unix.FcntlInt(4, unix.F_GETFD, 0); ferr != nil {
		return func() {}
	}
	unix.CloseOnExec(4)
	lock := os.NewFile(4, "lock")
	if err != nil {
		return func() { lock.Close() }
	}
	return s.rt.State.AdoptLock(rest[0], lock)
}

// reportStart tells the waiting run or start whether the command runs.
func reportStart(w *os.File, err error) {
	if w == nil {
		return
	}
	if err == nil {
		fmt.Fprintln(w, "ok")
	} else {
		f := &container.Failure{Status: 125, Message: err.Error()}
		errors.As(err, &f)
		data, _ := json.Marshal(f)
		fmt.Fprintf(w, "%s\n", data)
	}
	w.Close()
}
