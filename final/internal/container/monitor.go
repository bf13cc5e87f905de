//go:build linux

// The monitor: the process that runs a container from start to end. For
// `run` without -d it is minidocker itself; for -d (and `start`) it is the
// same binary re-executed as "monitor", in a session of its own, so that
// no daemon is needed. It creates the cgroup and the network, starts the
// child side, holds the output pipes and writes the log, waits, records
// how the container ended (exit code, OOM kill, time), releases what the
// container used, and honours --rm. The child side dies with it
// (PR_SET_PDEATHSIG), so a container never outlives its monitor; a
// monitor killed with SIGKILL leaves a record that Reconcile repairs.

package container

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/slirp"
	"github.com/minidocker/minidocker/final/internal/state"
)

// Attach is the user's side of the container's streams; nil for a
// detached container.
type Attach struct {
	Stdin          *os.File // nil unless -i
	Stdout, Stderr io.Writer
	Terminal       *os.File // the user's terminal, for the window size (with -t)
}

// Run runs the container c as its monitor. started is called once the
// command runs, or with the reason it could not; Run then waits until the
// container ends and returns its exit status. c's lock is held, by this
// process or shared with the command that started it, until started is
// called: that is when the caller lets go of it.
func (rt *Runtime) Run(c *state.Container, att *Attach, started func(error)) int {
	status, err := rt.run(c, att, started)
	if err != nil {
		started(err)
		if f := (*Failure)(nil); errors.As(err, &f) {
			return f.Status
		}
		return 125
	}
	return status
}

// run is Run, returning setup errors instead of reporting them.
func (rt *Runtime) run(c *state.Container, att *Attach, started func(error)) (int, error) {
	forgetBeat(rt.State.Dir(c.ID))
	if err := rt.update(c.ID, func(r *state.Container) error {
		r.Minidocker.MonitorPid, r.Minidocker.MonitorStartTime = os.Getpid(), procfs.StartTime(os.Getpid())
		r.State.Error, r.State.OOMKilled = "", false
		return nil
	}); err != nil {
		return 0, err
	}
	res, err := rt.acquire(c)
	if err != nil {
		rt.finish(c, res, 125, err)
		return 0, err
	}
	proc, streams, err := rt.startProcess(c, res, att)
	if err != nil {
		rt.finish(c, res, 125, err)
		return 0, err
	}
	stopForwarding := forwardSignals(proc)
	spec := rt.spec(c, res)
	err = rt.remapRoot(c, proc.Pid, spec)
	if err == nil {
		err = proc.SendSpec(spec)
	}
	if err != nil {
		stopForwarding()
		proc.Wait()
		streams.Wait()
		rt.finish(c, res, fail(err).Status, err)
		return 0, err
	}
	started(nil)
	stopBeat := beat(rt.State.Dir(c.ID))
	status := proc.Wait()
	stopBeat()
	stopForwarding()
	streams.Wait()
	rt.finish(c, res, status, nil)
	return status, nil
}

// resources are what a running container holds on the host.
type resources struct {
	cgroup   cgroups.Manager
	endpoint *network.Endpoint
	etc      map[string]string
	usernet  *slirp.Net            // a rootless container's bridge network (usernet.go)
	ports    []network.PortMapping // its published ports
}

// acquire makes the container's cgroup, leases its network address and
// writes its /etc files. On failure what was made is in res, for finish.
func (rt *Runtime) acquire(c *state.Container) (*resources, error) {
	res := &resources{}
	var cg cgroups.Manager = cgroups.None{}
	var err error
	if !rt.Rootless || !c.HostConfig.Resources.IsZero() {
		// No device rules for a rootless container: its user cannot load
		// the v2 program (bpf(2) needs CAP_BPF), and in its user namespace
		// mknod is refused anyway, so no node of the host's can be made.
		restrictDevices := !c.HostConfig.Privileged && !rt.Rootless
		r := c.HostConfig.Resources
		r.Freezable = true // for pause (pause.go)
		cg, err = cgroups.New(rt.cgroupParent(c), c.ID, r, restrictDevices)
	}
	if err != nil {
		return res, err
	}
	res.cgroup = cg
	if rt.userNetwork(c) {
		if res.ports, err = userPorts(c); err != nil {
			return res, err
		}
	} else if c.HostConfig.NetworkMode == "bridge" {
		ports, err := publishedPorts(c)
		if err != nil {
			return res, err
		}
		if res.endpoint, err = network.Allocate(network.Options{Ports: ports}, os.Getpid()); err != nil {
			return res, err
		}
	}
	res.etc, err = writeEtcFiles(rt.State.Dir(c.ID), c, res.endpoint)
	if err == nil && rt.userNetwork(c) {
		err = userResolvConf(res.etc["/etc/resolv.conf"])
	}
	return res, err
}

// streams are the goroutines copying the container's output, and the
// attach socket's server when a detached container has stdin.
type streams struct {
	sync.WaitGroup
	stopStdin func()
}

// stop waits for the output copies to end, then stops the attach socket.
func (st *streams) stop() {
	st.Wait()
	if st.stopStdin != nil {
		st.stopStdin()
	}
}

// startProcess starts the child side with its stdio wired to the log (and
// to the user when attached), puts it into its cgroup and network, and
// records it as running.
func (rt *Runtime) startProcess(c *state.Container, res *resources, att *Attach) (*Process, *streams, error) {
	log, err := openLog(c.LogPath)
	if err != nil {
		return nil, nil, err
	}
	stdio, streams, err := wire(c, log, att)
	if err != nil {
		log.close()
		return nil, nil, err
	}
	proc, err := Start(stdio, c.HostConfig.NetworkMode != "host", c.Minidocker.IDMap)
	closeChildEnds(stdio)
	if err == nil {
		err = res.cgroup.Apply(proc.Pid)
	}
	if err == nil && res.endpoint != nil {
		err = network.Attach(res.endpoint, proc.Pid)
	}
	if err == nil && rt.userNetwork(c) {
		res.usernet, err = rt.startUserNetwork(c, proc.Pid, res.ports)
	}
	if err == nil {
		err = rt.markRunning(c, proc, res)
	}
	if err != nil {
		if proc != nil {
			proc.Abort()
		}
		streams.stop()
		return nil, nil, err
	}
	go func() { streams.stop(); log.close() }()
	return proc, streams, nil
}

// markRunning records the container's pid, start and network.
func (rt *Runtime) markRunning(c *state.Container, proc *Process, res *resources) error {
	return rt.updateAndEmit(c.ID, func(r *state.Container) error {
		r.State = state.State{Status: "running", Running: true, Pid: proc.Pid, StartedAt: time.Now().UTC()}
		r.Minidocker.PidStartTime = proc.StartTime
		r.HostConfig.MaskedPaths, r.HostConfig.ReadonlyPaths = maskedPaths(r.HostConfig.Privileged)
		if res.usernet != nil {
			r.NetworkSettings = userNetworkSettings(res.ports)
		}
		if res.endpoint != nil {
			r.NetworkSettings = networkSettings(res.endpoint)
			data, _ := json.Marshal(res.endpoint)
			r.Minidocker.Endpoint = data
		}
		*c = *r
		return nil
	}, "start", nil)
}

// finish releases what the container held and then records how it ended:
// the network first (its address may be reused at once), then the cgroup,
// then the record, and with --rm the container itself. This order is what
// a command that waits for "exited" (wait, kill, stop, logs -f) relies
// on: once the record says so, nothing of the container is held.
func (rt *Runtime) finish(c *state.Container, res *resources, status int, cause error) {
	oom := res != nil && res.cgroup != nil && res.cgroup.OOMKilled()
	var errs []error
	if res != nil && res.endpoint != nil {
		errs = append(errs, network.Release(res.endpoint))
	}
	if res != nil && res.usernet != nil {
		errs = append(errs, res.usernet.Stop())
	}
	if res != nil && res.cgroup != nil {
		errs = append(errs, res.cgroup.Destroy())
	}
	_ = rt.updateAndEmit(c.ID, func(r *state.Container) error {
		r.State.Status, r.State.Running, r.State.Paused, r.State.Pid = "exited", false, false, 0
		r.State.ExitCode, r.State.OOMKilled, r.State.FinishedAt = status, oom, time.Now().UTC()
		if cause != nil {
			r.State.Error = cause.Error()
		} else if err := errors.Join(errs...); err != nil {
			r.State.Error = "cleanup: " + err.Error()
		}
		r.Minidocker.Endpoint, r.NetworkSettings = nil, state.NetworkSettings{}
		*c = *r
		return nil
	}, "die", map[string]string{"exitCode": strconv.Itoa(status)})
	if c.HostConfig.AutoRemove {
		release := awaitWaiters(rt.State.Dir(c.ID))
		_ = rt.Remove(c)
		release()
	}
}

// forwardSignals passes the signals a user sends minidocker (Ctrl-C
// without a terminal, kill) on to the container, as docker's sig-proxy.
func forwardSignals(p *Process) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				_ = p.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
