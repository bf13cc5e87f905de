//go:build linux

// create, start and run: the runtime-spec's lifecycle. create sets the
// container up and leaves its process held on exec.fifo (see
// internal/container/ociinit.go); start lets it go; run does both and
// waits. Between the two the caller does what must happen before the
// user's process runs and after its namespaces exist: podman and CNI wire
// the network namespace, containerd's shim reads the pid and starts
// watching it.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/oci"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/seccomp"
)

// createOpts are create's (and run's) options.
type createOpts struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring, detach  bool
}

// addCreateFlags defines create's flags.
func addCreateFlags(fs *pflag.FlagSet, o *createOpts) {
	fs.StringVarP(&o.bundle, "bundle", "b", ".", "the bundle: a directory with config.json")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the container's pid here")
	fs.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the terminal's master to")
	fs.BoolVar(&o.noPivot, "no-pivot", false, "chroot instead of pivot_root")
	fs.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
}

// ociCreateVerb is `create`.
var ociCreateVerb = &runcVerb{
	name: "create", usage: "[--bundle DIR] [--pid-file FILE] [--console-socket SOCKET] ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		o := &createOpts{}
		addCreateFlags(fs, o)
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			p, err := ociCreate(g, o, id)
			if err == nil {
				p.Release()
			}
			return err
		}
	},
}

// oneID is the one argument of most verbs.
func oneID(args []string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("give exactly one container id (got %d arguments)", len(args))
	}
	return args[0], oci.CheckID(args[0])
}

// created is what create made, for the undo if a later step fails.
type created struct {
	store  *oci.Store
	id     string
	path   string // the cgroup's
	cgroup cgroups.Manager
	proc   *container.Process
}

// undo removes what create made.
func (c *created) undo() {
	if c.proc != nil {
		c.proc.Abort()
	}
	if c.cgroup != nil {
		_ = c.cgroup.Destroy()
		cgroups.RemoveEmptyParents(c.path)
	}
	_ = c.store.Remove(c.id)
}

// ociCreate makes the container and returns its held process.
func ociCreate(g *runcGlobals, o *createOpts, id string) (*container.Process, error) {
	bundle, err := filepath.Abs(o.bundle)
	if err != nil {
		return nil, err
	}
	cfg, rootfs, err := oci.LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	cgroupPath, err := oci.CgroupPath(cfg, id)
	if err != nil {
		return nil, err
	}
	res, err := oci.Resources(cfg.Linux.Resources)
	if err != nil {
		return nil, err
	}
	prog, err := seccompProgram(cfg)
	if err != nil {
		return nil, err
	}
	store := g.store()
	unlock, err := store.Make(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	made := &created{store: store, id: id}
	if err := chownFifo(store.Fifo(id), cfg); err != nil {
		made.undo()
		return nil, err
	}
	rec := &oci.Record{
		ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(), Annotations: cfg.Annotations,
		Cgroup: cgroupPath, Hooks: cfg.Hooks, Process: cfg.Process, Seccomp: cfg.Linux.Seccomp,
	}
	spec := &container.OCISpec{
		Config: cfg, Rootfs: rootfs, ConsoleSocket: o.consoleSocket,
		JoinMount: joinedMount(cfg), NoPivot: o.noPivot, NoNewKeyring: o.noNewKeyring, Seccomp: prog,
	}
	if err := startHeld(g, made, rec, spec, res, o.pidFile); err != nil {
		made.undo()
		return nil, err
	}
	return made.proc, nil
}

// startHeld clones the container's process, puts it into its cgroup,
// runs the host's hooks, sends the spec and waits until the process is
// held; then writes the pid file and the record.
func startHeld(g *runcGlobals, made *created, rec *oci.Record, spec *container.OCISpec, res cgroups.Resources, pidFile string) error {
	cfg := spec.Config
	made.path = rec.Cgroup
	cg, err := cgroups.NewPath(rec.Cgroup, res)
	if err != nil {
		cgroups.RemoveEmptyParents(rec.Cgroup)
		return err
	}
	made.cgroup = cg
	if spec.Config.Process.Terminal && spec.ConsoleSocket == "" {
		return errors.New("process.terminal is true: give --console-socket, a unix socket to receive the terminal's master on")
	}
	p, err := container.StartOCI(cfg, container.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, made.store.Fifo(rec.ID))
	if err != nil {
		return err
	}
	made.proc = p
	g.debugf("cloned the container's process: pid %d", p.Pid)
	if err := cg.Apply(p.Pid); err != nil {
		return err
	}
	rec.Pid, rec.StartTime = p.Pid, p.StartTime
	// The hooks see the state the container is about to reach (as runc).
	state := made.store.State(rec)
	state.Status, state.Pid = specs.StateCreated, rec.Pid
	spec.State = state
	if err := container.RunHooks(append(cfg.Hooks.Prestart, cfg.Hooks.CreateRuntime...), state, "prestart/createRuntime"); err != nil {
		return err
	}
	if err := p.SendOCISpec(spec); err != nil {
		return err
	}
	if err := writePidFile(pidFile, rec.Pid); err != nil {
		return err
	}
	return made.store.Save(rec)
}

// writePidFile writes the pid to path (none when ""), through a
// temporary file and a rename, so a reader never sees half of it.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write the pid file %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// chownFifo gives exec.fifo to the host uid and gid that the container's
// root maps to: in a user namespace of its own, the container's process
// opens it as that user.
func chownFifo(path string, cfg *specs.Spec) error {
	uid, gid := hostID(cfg.Linux.UIDMappings), hostID(cfg.Linux.GIDMappings)
	if uid == 0 && gid == 0 {
		return nil
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %d:%d: %w", path, uid, gid, err)
	}
	return nil
}

// hostID is the host id that id 0 maps to (0 without a mapping of it).
func hostID(maps []specs.LinuxIDMapping) int {
	for _, m := range maps {
		if m.ContainerID == 0 && m.Size > 0 {
			return int(m.HostID)
		}
	}
	return 0
}

// joinedMount is the path of the mount namespace the config joins, if any.
func joinedMount(cfg *specs.Spec) string {
	for _, ns := range cfg.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			return ns.Path
		}
	}
	return ""
}

// seccompProgram compiles the config's linux.seccomp for its process.
func seccompProgram(cfg *specs.Spec) (seccomp.Program, error) {
	return compileSeccomp(cfg.Linux.Seccomp, cfg.Process)
}

// compileSeccomp compiles a seccomp config, whose shape is the one of
// Docker's profiles, with minidocker's compiler, for process p; nil
// without one.
func compileSeccomp(s *specs.LinuxSeccomp, p *specs.Process) (seccomp.Program, error) {
	if s == nil {
		return nil, nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	profile, err := seccomp.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	var caps []string
	if p != nil && p.Capabilities != nil {
		caps = p.Capabilities.Bounding
	}
	prog, err := seccomp.Compile(profile, caps)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return prog, nil
}

// ociStartVerb is `start`.
var ociStartVerb = &runcVerb{
	name: "start", usage: "ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			return ociStart(g, id)
		}
	},
}

// ociStart releases a created container's process and runs the poststart hooks.
func ociStart(g *runcGlobals, id string) error {
	store := g.store()
	unlock, err := store.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	if st := store.Status(rec); st != specs.StateCreated {
		return fmt.Errorf("cannot start container %s: it is %s, not created", id, st)
	}
	if err := releaseFifo(store.Fifo(id), rec); err != nil {
		return err
	}
	if err := os.Remove(store.Fifo(id)); err != nil {
		return err
	}
	if rec.Process == nil || len(rec.Process.Args) == 0 {
		return fmt.Errorf("cannot start container %s: its config has no process (the held process ends instead)", id)
	}
	if rec.Hooks != nil {
		if err := container.RunHooks(rec.Hooks.Poststart, store.State(rec), "poststart"); err != nil {
			g.fail(err) // poststart failures are logged, not fatal (runtime-spec)
		}
	}
	return nil
}

// releaseFifo opens exec.fifo for reading, which unblocks the container's
// open for writing, and reads the byte it writes. The open does not block
// (O_NONBLOCK): poll waits for the byte, and the process is checked
// between waits, so a container that died while created is an error, not
// a hang.
func releaseFifo(path string, rec *oci.Record) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll %s: %w", path, err)
		}
		if n > 0 {
			buf := make([]byte, 1)
			if k, _ := unix.Read(fd, buf); k == 1 {
				return nil
			}
		}
		if !procfs.Alive(rec.Pid, rec.StartTime) {
			return fmt.Errorf("container %s ended before it was started", rec.ID)
		}
	}
}
