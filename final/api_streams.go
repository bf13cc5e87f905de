//go:build linux

// The Engine API's streams: logs, attach and exec.
//
// attach and exec start take the connection over ("hijack"): the client
// sends "Upgrade: tcp", the daemon answers "101 UPGRADED", and from then
// on the connection is no longer HTTP but the container's streams, both
// ways, until one side closes it.
//
// A container with a terminal has one output stream, sent raw. Without a
// terminal, stdout and stderr share the connection, and each chunk goes
// in a frame (Docker's "stdcopy" format): an 8-byte header, the stream
// (1 stdout, 2 stderr), three zero bytes and the payload's length as a
// big-endian uint32, then the payload. logs is framed the same way.
//
// A container's output comes from its json-file log, which its monitor
// writes: attach follows the log, as logs -f does, so the daemon never
// stands between a container and its monitor. Stdin goes the other way,
// through the monitor's attach socket (internal/container/attach.go).

package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// streamRoutes registers the streaming endpoints.
func (a *api) streamRoutes() {
	a.mux.HandleFunc("GET /containers/{id}/logs", a.logs)
	a.mux.HandleFunc("POST /containers/{id}/attach", a.attach)
	a.mux.HandleFunc("POST /containers/{id}/exec", a.createExec)
	a.mux.HandleFunc("POST /exec/{id}/start", a.startExec)
	a.mux.HandleFunc("POST /exec/{id}/resize", a.resizeExec)
	a.mux.HandleFunc("GET /exec/{id}/json", a.inspectExec)
}

// Content types of a stream: framed (stdcopy) or raw (a terminal).
const (
	multiplexedStream = "application/vnd.docker.multiplexed-stream"
	rawStream         = "application/vnd.docker.raw-stream"
)

// streamType is the content type of c's streams.
func streamType(tty bool) string {
	if tty {
		return rawStream
	}
	return multiplexedStream
}

// frameWriter writes what it is given as stdcopy frames of one stream.
type frameWriter struct {
	mu     *sync.Mutex // shared by the writers of one connection
	w      io.Writer
	stream byte // 1 stdout, 2 stderr
}

// Write sends p as one frame.
func (f *frameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var header [8]byte
	header[0] = f.stream
	binary.BigEndian.PutUint32(header[4:], uint32(len(p)))
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.w.Write(header[:]); err != nil {
		return 0, err
	}
	return f.w.Write(p)
}

// lockedWriter serializes the writes of several goroutines to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

// Write writes p whole.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// outputs are the writers for stdout and stderr on w: framed, or raw and
// shared with a terminal.
func outputs(w io.Writer, tty bool) (stdout, stderr io.Writer) {
	mu := &sync.Mutex{}
	if tty {
		raw := &lockedWriter{mu, w}
		return raw, raw
	}
	return &frameWriter{mu, w, 1}, &frameWriter{mu, w, 2}
}

// hijack takes the connection over from the HTTP server and answers the
// upgrade. What the client sent after its request is in the returned
// reader.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (net.Conn, *bufio.Reader, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("this connection cannot be taken over")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", contentType)
	} else {
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", contentType)
	}
	return conn, rw.Reader, nil
}

// closeStream ends a hijacked stream: the write side first, so that the
// client reads everything before it sees the end.
func closeStream(conn net.Conn) {
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	conn.Close()
}

// logs is docker logs [-f] [--tail N] [-t].
func (a *api) logs(w http.ResponseWriter, r *http.Request) {
	wantOut, wantErr := boolParam(r, "stdout"), boolParam(r, "stderr")
	if !wantOut && !wantErr {
		apiError(w, http.StatusBadRequest, "Bad parameters: you must choose at least one stream")
		return
	}
	tail, err := tailParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", streamType(c.Config.Tty))
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush()
	f, err := os.Open(c.LogPath)
	if err != nil {
		return // it never ran: no output
	}
	defer f.Close()
	stdout, stderr := outputs(w, c.Config.Tty)
	emit := func(entries []container.LogEntry) error {
		if err := writeEntries(entries, wantOut, wantErr, boolParam(r, "timestamps"), stdout, stderr); err != nil {
			return err
		}
		flusher.Flush()
		return r.Context().Err()
	}
	entries, offset, _ := container.ReadLogAt(f, 0)
	if tail >= 0 && len(entries) > tail {
		entries = entries[len(entries)-tail:]
	}
	if emit(entries) != nil || !boolParam(r, "follow") {
		return
	}
	_ = followLog(a.s, c, f, offset, 100*time.Millisecond, container.Exited, emit)
}

// tailParam reads ?tail=N|all: -1 for all.
func tailParam(r *http.Request) (int, error) {
	t := r.URL.Query().Get("tail")
	if t == "" || t == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return 0, usagef("invalid tail %q: a number of lines, or all", t)
	}
	return n, nil
}

// writeEntries writes log entries to the writer of their stream.
func writeEntries(entries []container.LogEntry, wantOut, wantErr, timestamps bool, stdout, stderr io.Writer) error {
	for _, e := range entries {
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if (e.Stream == "stderr" && !wantErr) || (e.Stream != "stderr" && !wantOut) {
			continue
		}
		line := e.Log
		if timestamps {
			line = e.Time.Format(time.RFC3339Nano) + " " + line
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}

// attach streams a container's output from now (or, with ?logs=1, from
// its first line) until it exits: for a container not running yet
// (docker run attaches before it starts), until the end of the run that
// follows. What the client sends goes to the container's stdin, through
// the monitor's attach socket, if the container has one (-i).
func (a *api) attach(w http.ResponseWriter, r *http.Request) {
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	since := time.Now()
	f, offset, err := openLogAt(c.LogPath, !boolParam(r, "logs"))
	if err != nil {
		fail(w, err)
		return
	}
	defer f.Close()
	conn, in, err := hijack(w, r, streamType(c.Config.Tty))
	if err != nil {
		fail(w, err)
		return
	}
	defer closeStream(conn)
	if boolParam(r, "stdin") && c.Config.OpenStdin {
		go a.forwardStdin(c.ID, in, since)
	} else {
		go func() { _, _ = io.Copy(io.Discard, in) }()
	}
	stdout, stderr := outputs(conn, c.Config.Tty)
	wantOut, wantErr := boolParam(r, "stdout"), boolParam(r, "stderr")
	ended := func(c *state.Container) bool {
		return container.Exited(c) && c.State.Status == "exited" && !c.State.FinishedAt.Before(since)
	}
	// Every 20 ms: what a user at a terminal types comes back that soon.
	_ = followLog(a.s, c, f, offset, 20*time.Millisecond, ended, func(entries []container.LogEntry) error {
		return writeEntries(entries, wantOut, wantErr, false, stdout, stderr)
	})
}

// openLogAt opens a container's log, where attach reads it: from its end
// (fromEnd), or from its start. The monitor appends to this same file
// (O_APPEND): opened now, it is read to its end even after --rm has
// deleted it. A container that never ran has none yet: it is made.
func openLogAt(path string, fromEnd bool) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o640)
	if err != nil {
		return nil, 0, err
	}
	var offset int64
	if fromEnd {
		if fi, err := f.Stat(); err == nil {
			offset = fi.Size()
		}
	}
	return f, offset, nil
}

// forwardStdin copies a client's input to the attach socket of container
// id once its monitor listens there: docker run attaches before the
// start, and what the client types meanwhile waits in the connection.
// It gives up when the run that follows since has ended.
func (a *api) forwardStdin(id string, in io.Reader, since time.Time) {
	dir := a.s.rt.State.Dir(id)
	for {
		sock, err := container.DialStdin(dir)
		if err == nil {
			_, _ = io.Copy(sock, in)
			_ = sock.CloseWrite() // end of input: with StdinOnce, the container's stdin closes
			sock.Close()
			return
		}
		c, err := a.s.rt.State.Get(id)
		if err != nil || (container.Exited(c) && c.State.Status == "exited" && !c.State.FinishedAt.Before(since)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resizeContainer sets the size of a container's terminal (?h=ROWS&w=COLUMNS).
// Its monitor holds the master side; the size is set on the slave side,
// the container's own stdin, which TIOCSWINSZ accepts as well and which
// signals SIGWINCH to the container's foreground processes. The file is
// opened as the container left it: non-blocking, without becoming a
// controlling terminal, and used only if it is a terminal.
func (a *api) resizeContainer(w http.ResponseWriter, r *http.Request) {
	rows, err1 := intParam(r, "h", 0)
	cols, err2 := intParam(r, "w", 0)
	if err1 != nil || err2 != nil || rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff {
		apiError(w, http.StatusBadRequest, "invalid h or w: a terminal's rows and columns")
		return
	}
	c, err := a.s.findRunning(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if c.Config.Tty {
		setWinsize(fmt.Sprintf("/proc/%d/fd/0", c.State.Pid), rows, cols)
	}
	w.WriteHeader(http.StatusOK)
}

// setWinsize sets the window size of the terminal at path, if it is one.
func setWinsize(path string, rows, cols int) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if _, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err != nil {
		return // not a terminal
	}
	_ = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
}
