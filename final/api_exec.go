//go:build linux

// exec through the Engine API: POST /containers/{id}/exec records what
// to run (an "exec instance", kept in the daemon's memory only, as
// dockerd keeps them), POST /exec/{id}/start runs it over a hijacked
// connection, GET /exec/{id}/json tells the client its exit code. The
// command runs as the exec verb runs it (container.ExecIn), its parent
// the daemon.

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/rootless"
	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// execConfig is the body of POST /containers/{id}/exec.
type execConfig struct {
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Tty          bool
	Privileged   bool
	Cmd          []string
	Env          []string
	User         string
	WorkingDir   string
	ConsoleSize  [2]uint16 // rows and columns of the client's terminal, with Tty
}

// execInstance is one exec: what to run, and how it went.
type execInstance struct {
	ID          string
	ContainerID string
	Config      execConfig
	mu          sync.Mutex
	started     bool
	running     bool
	exitCode    *int
	finished    time.Time
	terminal    *os.File // the master side, with Tty
}

// execTable is the daemon's exec instances, by id.
type execTable struct {
	mu    sync.Mutex
	execs map[string]*execInstance
}

// newExecTable makes an empty table.
func newExecTable() *execTable { return &execTable{execs: map[string]*execInstance{}} }

// get finds an exec instance.
func (t *execTable) get(id string) (*execInstance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.execs[id]; e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("%w: no such exec instance: %s", state.ErrNotFound, id)
}

// execKept is how long a finished exec stays, for its client to read
// its exit code.
const execKept = 10 * time.Minute

// add records e, and forgets the execs that finished long ago, so that
// a daemon that runs for months does not keep every exec it ever ran.
func (t *execTable) add(e *execInstance) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, old := range t.execs {
		old.mu.Lock()
		gone := old.exitCode != nil && time.Since(old.finished) > execKept
		old.mu.Unlock()
		if gone {
			delete(t.execs, id)
		}
	}
	t.execs[e.ID] = e
}

// createExec records an exec for a running container.
func (a *api) createExec(w http.ResponseWriter, r *http.Request) {
	var cfg execConfig
	if err := readJSON(r, &cfg); err != nil {
		fail(w, err)
		return
	}
	if len(cfg.Cmd) == 0 {
		apiError(w, http.StatusBadRequest, "No exec command specified")
		return
	}
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err == nil && !container.Running(c) {
		err = conflictf("container %s is not running", state.Short(c.ID))
	}
	if err == nil && c.State.Paused {
		err = conflictf("Container %s is paused, unpause the container before exec", c.ID)
	}
	if err != nil {
		fail(w, err)
		return
	}
	e := &execInstance{ID: state.NewID(), ContainerID: c.ID, Config: cfg}
	a.execs.add(e)
	writeJSON(w, http.StatusCreated, map[string]string{"Id": e.ID})
}

// startExec runs an exec, attached over a hijacked connection unless
// {"Detach": true}.
func (a *api) startExec(w http.ResponseWriter, r *http.Request) {
	var body struct{ Detach, Tty bool }
	if err := readJSON(r, &body); err != nil {
		fail(w, err)
		return
	}
	e, err := a.execs.get(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	c, spec, err := a.prepareExec(e)
	if err != nil {
		fail(w, err)
		return
	}
	if body.Detach {
		go a.runExec(e, c, spec, container.Stdio{})
		w.WriteHeader(http.StatusOK)
		return
	}
	a.attachExec(w, r, e, c, spec)
}

// prepareExec marks e started (once only) and makes its spec for its
// container, which must still run.
func (a *api) prepareExec(e *execInstance) (*state.Container, *container.ExecSpec, error) {
	e.mu.Lock()
	already := e.started
	e.started = true
	e.mu.Unlock()
	if already {
		return nil, nil, conflictf("exec %s has already been started", e.ID)
	}
	c, err := a.s.findRunning(e.ContainerID)
	if err != nil {
		return nil, nil, err
	}
	o := &execOptions{tty: e.Config.Tty, privileged: e.Config.Privileged, env: e.Config.Env, workdir: e.Config.WorkingDir, user: e.Config.User}
	spec, err := execSpec(c, o, e.Config.Cmd)
	return c, spec, err
}

// attachExec runs e over the hijacked connection: its output framed (or
// raw, with a terminal), the client's input to its stdin if it asked.
func (a *api) attachExec(w http.ResponseWriter, r *http.Request, e *execInstance, c *state.Container, spec *container.ExecSpec) {
	conn, in, err := hijack(w, r, streamType(e.Config.Tty))
	if err != nil {
		fail(w, err)
		return
	}
	defer closeStream(conn)
	stdout, stderr := outputs(conn, e.Config.Tty)
	stdio, done, err := e.wire(in, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return
	}
	if msg := a.runExec(e, c, spec, stdio); msg != "" {
		fmt.Fprintf(stderr, "%s\n", msg)
	}
	done()
}

// runExec runs the command and records its end; it returns why it could
// not start, if it could not.
func (a *api) runExec(e *execInstance, c *state.Container, spec *container.ExecSpec, stdio container.Stdio) string {
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	var status int
	var err error
	if foreignUserNamespace(a.s, c) {
		status, err = a.execOutside(e, c, stdio)
	} else {
		status, err = a.s.rt.ExecIn(c, spec, stdio)
	}
	msg := ""
	if err != nil {
		f := &container.Failure{Status: 126, Message: err.Error()}
		if ff, ok := err.(*container.Failure); ok {
			f = ff
		}
		status, msg = f.Status, "OCI runtime exec failed: "+f.Message
	}
	e.mu.Lock()
	e.running, e.exitCode, e.finished = false, &status, time.Now()
	e.mu.Unlock()
	return msg
}

// wire makes the command's stdio: pipes copied into frames, or a
// terminal; stdin from the connection when the exec asked for it. done
// closes the daemon's copies of the command's ends and waits for the
// copies to drain.
func (e *execInstance) wire(in io.Reader, stdout, stderr io.Writer) (container.Stdio, func(), error) {
	if e.Config.Tty {
		return e.wireTerminal(in, stdout)
	}
	var copies sync.WaitGroup
	outR, outW, err := os.Pipe()
	if err != nil {
		return container.Stdio{}, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return container.Stdio{}, nil, err
	}
	stdio := container.Stdio{Stdout: outW, Stderr: errW}
	if e.Config.AttachStdin {
		inR, inW, err := os.Pipe()
		if err != nil {
			return container.Stdio{}, nil, err
		}
		stdio.Stdin = inR
		go func() { _, _ = io.Copy(inW, in); inW.Close() }()
	}
	copies.Add(2)
	go func() { defer copies.Done(); _, _ = io.Copy(stdout, outR); outR.Close() }()
	go func() { defer copies.Done(); _, _ = io.Copy(stderr, errR); errR.Close() }()
	return stdio, func() {
		for _, f := range []*os.File{stdio.Stdin, stdio.Stdout, stdio.Stderr} {
			if f != nil {
				f.Close()
			}
		}
		copies.Wait()
	}, nil
}

// wireTerminal is wire with a terminal: one raw stream both ways.
func (e *execInstance) wireTerminal(in io.Reader, out io.Writer) (container.Stdio, func(), error) {
	master, slave, err := tty.OpenPty()
	if err != nil {
		return container.Stdio{}, nil, err
	}
	if rows, cols := e.Config.ConsoleSize[0], e.Config.ConsoleSize[1]; rows > 0 && cols > 0 {
		_ = tty.SetWinsize(master, rows, cols)
	}
	e.mu.Lock()
	e.terminal = master
	e.mu.Unlock()
	if e.Config.AttachStdin {
		go func() { _, _ = io.Copy(master, in) }()
	}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(out, master); close(copied) }()
	return container.Stdio{Stdin: slave, Stdout: slave, Stderr: slave, Tty: true}, func() {
		slave.Close()
		<-copied
		master.Close()
	}, nil
}

// resizeExec sets the size of an exec's terminal: ?h=ROWS&w=COLUMNS.
func (a *api) resizeExec(w http.ResponseWriter, r *http.Request) {
	e, err := a.execs.get(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	rows, err1 := intParam(r, "h", 0)
	cols, err2 := intParam(r, "w", 0)
	if err1 != nil || err2 != nil || rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff {
		apiError(w, http.StatusBadRequest, "invalid h or w: a terminal's rows and columns")
		return
	}
	e.mu.Lock()
	master := e.terminal
	e.mu.Unlock()
	if master != nil {
		ws := &unix.Winsize{Row: uint16(rows), Col: uint16(cols)}
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	}
	w.WriteHeader(http.StatusOK)
}

// inspectExec is how a client learns an exec's exit code.
func (a *api) inspectExec(w http.ResponseWriter, r *http.Request) {
	e, err := a.execs.get(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"ID": e.ID, "ContainerID": e.ContainerID, "Running": e.running, "ExitCode": e.exitCode, "Pid": 0,
		"OpenStdin": e.Config.AttachStdin, "OpenStdout": e.Config.AttachStdout, "OpenStderr": e.Config.AttachStderr,
		"CanRemove": false, "DetachKeys": "",
		"ProcessConfig": map[string]any{
			"tty": e.Config.Tty, "entrypoint": e.Config.Cmd[0], "arguments": e.Config.Cmd[1:],
			"privileged": e.Config.Privileged, "user": e.Config.User,
		},
	})
}

// execOutside runs e in a rootless container that another command
// started, through the user's process outside (rootless.RunOutside):
// `minidocker exec` with e's options, as the user would type it, on
// stdio's descriptors (/dev/null for those it has not).
func (a *api) execOutside(e *execInstance, c *state.Container, stdio container.Stdio) (int, error) {
	args := []string{"--root", a.s.root, "exec"}
	if stdio.Stdin != nil {
		args = append(args, "-i")
	}
	if e.Config.Tty {
		args = append(args, "-t")
	}
	for _, env := range e.Config.Env {
		args = append(args, "-e", env)
	}
	if e.Config.WorkingDir != "" {
		args = append(args, "-w", e.Config.WorkingDir)
	}
	if e.Config.User != "" {
		args = append(args, "-u", e.Config.User)
	}
	if e.Config.Privileged {
		args = append(args, "--privileged")
	}
	args = append(append(args, c.ID), e.Config.Cmd...)
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	files := [3]*os.File{null, null, null}
	for i, f := range []*os.File{stdio.Stdin, stdio.Stdout, stdio.Stderr} {
		if f != nil {
			files[i] = f
		}
	}
	return rootless.RunOutside(args, files)
}
