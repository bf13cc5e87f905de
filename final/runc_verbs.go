//go:build linux

// The OCI verbs besides create and start: state, kill, delete, run, ps,
// list, spec and features.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/oci"
	"github.com/minidocker/minidocker/final/internal/procfs"
)

// ociStateVerb is `state`: the runtime-spec's state, as JSON.
var ociStateVerb = &runcVerb{
	name: "state", usage: "ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			store := g.store()
			rec, err := store.Get(id)
			if err != nil {
				return err
			}
			return printJSON(store.State(rec))
		}
	},
}

// printJSON prints v indented, as runc does.
func printJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", data)
	return err
}

// ociKillVerb is `kill`.
var ociKillVerb = &runcVerb{
	name: "kill", usage: "[--all] ID [SIGNAL]",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		all := fs.BoolP("all", "a", false, "signal every process of the container's cgroup")
		return func(g *runcGlobals, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("kill: give an id and, optionally, a signal")
			}
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseSignal(args[1]); err != nil {
					return err
				}
			}
			return ociKill(g, args[0], sig, *all)
		}
	},
}

// ociKill signals a created or running container.
func ociKill(g *runcGlobals, id string, sig unix.Signal, all bool) error {
	store := g.store()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	if st := store.Status(rec); st != specs.StateCreated && st != specs.StateRunning && st != oci.StatePaused {
		return fmt.Errorf("cannot kill container %s: it is %s", id, st)
	}
	if all {
		if err := cgroups.Signal(cgroups.LoadPath(rec.Cgroup), sig); err != nil {
			return fmt.Errorf("kill --all %s %s: %w", id, unix.SignalName(sig), err)
		}
		return nil
	}
	err = procfs.Signal(rec.Pid, rec.StartTime, sig)
	if err != nil && !errors.Is(err, procfs.ErrGone) {
		return fmt.Errorf("kill %d %s: %w", rec.Pid, unix.SignalName(sig), err)
	}
	return nil
}

// ociDeleteVerb is `delete`.
var ociDeleteVerb = &runcVerb{
	name: "delete", usage: "[--force] ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		force := fs.BoolP("force", "f", false, "SIGKILL a running container first")
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			return ociDelete(g, id, *force)
		}
	},
}

// ociDelete removes a stopped container (a created one, or with force a
// running one, is killed first), its cgroup and record; then runs the
// poststop hooks.
func ociDelete(g *runcGlobals, id string, force bool) error {
	store := g.store()
	unlock, err := store.Lock(id)
	if err != nil {
		if force {
			if _, statErr := os.Stat(store.Dir(id)); os.IsNotExist(statErr) {
				return nil // runc: deleting a missing container with --force succeeds
			}
		}
		return err
	}
	defer unlock()
	rec, err := store.Get(id)
	if err != nil {
		return err
	}
	switch st := store.Status(rec); {
	case (st == specs.StateRunning || st == specs.StateCreated || st == oci.StatePaused) && !force:
		// The runtime-spec: delete of a container that is not stopped is an
		// error (runc kills a created one; the spec's suite checks this).
		return fmt.Errorf("cannot delete container %s: it is %s; kill it first, or give --force", id, st)
	case st == specs.StateCreated || st == specs.StateRunning || st == oci.StatePaused:
		if err := killAndWait(rec, cgroups.LoadPath(rec.Cgroup)); err != nil {
			return err
		}
	}
	if err := cgroups.LoadPath(rec.Cgroup).Destroy(); err != nil {
		return err
	}
	cgroups.RemoveEmptyParents(rec.Cgroup)
	state := store.State(rec)
	state.Status = specs.StateStopped
	if err := store.Remove(id); err != nil {
		return err
	}
	if rec.Hooks != nil {
		if err := container.RunHooks(rec.Hooks.Poststop, state, "poststop"); err != nil {
			g.fail(err) // logged, not fatal (runtime-spec)
		}
	}
	return nil
}

// killTimeout is how long delete waits for a SIGKILLed process to end.
const killTimeout = 10 * time.Second

// killAndWait SIGKILLs the container's process, thaws its cgroup if it
// is paused (on v1 a frozen process dies only once thawed), and waits
// until it has ended: through a pidfd (pidfd_open(2)), which becomes
// readable when the process exits, even though it is not this process's child.
func killAndWait(rec *oci.Record, cg cgroups.Manager) error {
	p, err := procfs.Find(rec.Pid, rec.StartTime)
	if err != nil {
		return nil // gone already, or the pid is another process's now
	}
	defer p.Close()
	if err := p.Signal(unix.SIGKILL); err != nil && !errors.Is(err, procfs.ErrGone) {
		return err
	}
	if cg.Frozen() {
		if err := cg.Freeze(false); err != nil {
			return err
		}
	}
	if p.Wait(killTimeout) {
		return nil
	}
	return fmt.Errorf("container %s: pid %d did not end within %s of SIGKILL", rec.ID, rec.Pid, killTimeout)
}

// ociRunVerb is `run`: create, start, wait, delete.
var ociRunVerb = &runcVerb{
	name: "run", usage: "[--bundle DIR] [--detach] [--pid-file FILE] [--console-socket SOCKET] ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		o := &createOpts{}
		addCreateFlags(fs, o)
		fs.BoolVarP(&o.detach, "detach", "d", false, "return once the container runs")
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			return ociRun(g, o, id)
		}
	},
}

// ociRun runs a container and, unless detached, waits for it and deletes
// it, ending with its exit status.
func ociRun(g *runcGlobals, o *createOpts, id string) error {
	p, err := ociCreate(g, o, id)
	if err != nil {
		return err
	}
	if err := ociStart(g, id); err != nil {
		p.Abort()
		return errors.Join(err, ociDelete(g, id, true))
	}
	if o.detach {
		p.Release()
		return nil
	}
	status := p.Wait()
	if err := ociDelete(g, id, true); err != nil {
		return err
	}
	return &statusError{status: status}
}

// ociPsVerb is `ps`: the container's processes.
var ociPsVerb = &runcVerb{
	name: "ps", usage: "[--format table|json] ID",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		format := fs.StringP("format", "f", "table", "table or json")
		return func(g *runcGlobals, args []string) error {
			id, err := oneID(args)
			if err != nil {
				return err
			}
			rec, err := g.store().Get(id)
			if err != nil {
				return err
			}
			pids, err := cgroups.LoadPath(rec.Cgroup).Pids()
			if err != nil {
				return fmt.Errorf("container %s: %w", id, err)
			}
			if *format == "json" {
				return printJSON(append([]int{}, pids...))
			}
			fmt.Println("PID   CMD")
			for _, pid := range pids {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				fmt.Printf("%-5d %s", pid, cmd)
			}
			return nil
		}
	},
}

// ociListVerb is `list`: every container under --root.
var ociListVerb = &runcVerb{
	name: "list", usage: "",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		quiet := fs.BoolP("quiet", "q", false, "ids only")
		return func(g *runcGlobals, args []string) error {
			store := g.store()
			ids, err := store.List()
			if err != nil {
				return err
			}
			if !*quiet {
				fmt.Printf("%-20s %-8s %-10s %s\n", "ID", "PID", "STATUS", "BUNDLE")
			}
			for _, id := range ids {
				rec, err := store.Get(id)
				if err != nil {
					continue
				}
				st := store.State(rec)
				if *quiet {
					fmt.Println(id)
				} else {
					fmt.Printf("%-20s %-8d %-10s %s\n", id, st.Pid, st.Status, rec.Bundle)
				}
			}
			return nil
		}
	},
}

// ociSpecVerb is `spec`: write a default config.json.
var ociSpecVerb = &runcVerb{
	name: "spec", usage: "[--bundle DIR]",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		bundle := fs.StringP("bundle", "b", ".", "where to write config.json")
		return func(g *runcGlobals, args []string) error {
			path := filepath.Join(*bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists: remove it first", path)
			}
			data, err := json.MarshalIndent(oci.DefaultSpec(), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o644)
		}
	},
}

// ociFeaturesVerb is `features`: what this runtime implements (runtime-spec features.md).
var ociFeaturesVerb = &runcVerb{
	name: "features", usage: "",
	setup: func(fs *pflag.FlagSet) func(*runcGlobals, []string) error {
		return func(g *runcGlobals, args []string) error {
			return printJSON(oci.Features())
		}
	},
}
