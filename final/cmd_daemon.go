//go:build linux

// daemon: the Docker Engine API on a unix socket, so that the docker CLI
// and Docker's SDKs can drive minidocker. It is a thin layer over the
// same session and internal packages as the verbs, on the same state
// root: a container the daemon makes is one the CLI lists, and the other
// way round. The daemon owns no container: each one's monitor does, as
// for run -d, so stopping (or killing) the daemon stops nothing.
//
// The HTTP side is in the api_*.go files: api.go (routing, version
// negotiation, errors), api_containers.go, api_images.go, api_system.go,
// and api_streams.go (the hijacked attach and exec streams, stdcopy).

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// defaultHost is where the daemon listens unless --host says otherwise.
const defaultHost = "unix:///run/minidocker.sock"

// daemonCommand is the daemon verb.
var daemonCommand = &command{
	name: "daemon", usage: "daemon [--host unix:///PATH] [--group NAME]",
	short: "Serve the Docker Engine API on a unix socket",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		host := fs.StringP("host", "H", defaultHost, "the socket to listen on, unix:///PATH")
		group := fs.StringP("group", "G", "", "a group that may use the socket besides root (access to it is root on the host)")
		return func(s *session, args []string) error { return runDaemon(s, *host, *group, args) }
	},
}

// runDaemon listens on the socket and serves until SIGTERM or SIGINT,
// then removes the socket.
func runDaemon(s *session, host, group string, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments")
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || !strings.HasPrefix(path, "/") {
		return usagef("--host %q: only unix sockets are served, e.g. unix:///run/minidocker.sock", host)
	}
	lock, err := lockSocket(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := s.open(); err != nil {
		return err
	}
	// Before the socket appears: a client that sees it may stop us.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	ln, err := listenUnix(path, group)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	handler := newAPI(s)
	if s.debug {
		handler = logRequests(handler)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "minidocker: API listening on %s (API %s to %s)\n", path, minAPIVersion, maxAPIVersion)
	select {
	case err = <-served:
		return fmt.Errorf("serve %s: %w", path, err)
	case sig := <-stop:
		fmt.Fprintf(os.Stderr, "minidocker: %v: shutting down\n", sig)
	}
	// Requests that stream (logs -f, wait, events) end with their
	// clients; a short grace period, then the connections are closed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// lockSocket takes the lock that makes one daemon the owner of the
// socket path: an exclusive flock on PATH.lock, held until the daemon
// ends (closing the file releases it; a killed daemon's lock goes with
// its process). Without it, two daemons started at once could both find
// no one answering, both replace the socket, and the first would serve
// a socket nobody can reach, then remove the second's on its way out.
func lockSocket(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: another daemon is listening there: stop it, or choose another --host", path)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil
}

// listenUnix listens on a unix socket at path, mode 0660, owned by root
// and group. The caller holds the socket's lock, so a socket found there
// was left by a daemon that died, and is replaced; one that answers
// belongs to a daemon that does not lock (an older minidocker), and is
// refused.
func listenUnix(path, group string) (net.Listener, error) {
	gid := 0
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, usagef("--group %q: %v (create it, e.g. groupadd %s)", group, err, group)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if conn, err := net.Dial("unix", path); err == nil {
		conn.Close()
		return nil, fmt.Errorf("%s: another daemon is listening there: stop it, or choose another --host", path)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	// The socket is made under a temporary name with no access for
	// anyone but root, given its group and mode, and only then renamed to
	// path: whoever sees path sees it finished, and there is no moment
	// where others could connect. A socket is bound to its inode, so the
	// rename keeps it listening.
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", tmp)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	err = os.Chown(tmp, 0, gid)
	if err == nil {
		err = os.Chmod(tmp, 0o660)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("make the socket %s (mode 0660, group %d): %w", path, gid, err)
	}
	return ln, nil
}

// logRequests prints each request as it arrives (--debug): the exchange
// a client has with the daemon, in order.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(os.Stderr, "%s %s\n", r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
	})
}
