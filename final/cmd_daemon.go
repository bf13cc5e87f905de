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
//
// Run by an ordinary user, the daemon is rootless: it runs inside the
// user's namespaces like every rootless command (rootless.go), on the
// user's rootless state, and listens on $XDG_RUNTIME_DIR/minidocker.sock,
// mode 0600, the user's alone, as rootless Docker listens on
// $XDG_RUNTIME_DIR/docker.sock.

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

	"github.com/minidocker/minidocker/final/internal/rootless"
)

// defaultHost is where the daemon run by root listens unless --host
// says otherwise; rootless, it is rootless.SocketPath.
const defaultHost = "unix:///run/minidocker.sock"

// daemonCommand is the daemon verb.
var daemonCommand = &command{
	name: "daemon", usage: "daemon [--host unix:///PATH] [--group NAME]",
	short: "Serve the Docker Engine API on a unix socket",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		host := fs.StringP("host", "H", defaultHost, "the socket to listen on, unix:///PATH (rootless: unix://$XDG_RUNTIME_DIR/minidocker.sock)")
		group := fs.StringP("group", "G", "", "a group that may use the socket besides root (access to it is root on the host)")
		return func(s *session, args []string) error {
			h := *host
			if !fs.Changed("host") {
				h = ""
			}
			return runDaemon(s, h, *group, args)
		}
	},
}

// runDaemon listens on the socket (host, or the default when empty) and
// serves until SIGTERM or SIGINT, then removes the socket.
func runDaemon(s *session, host, group string, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments")
	}
	path, err := socketPath(s, host, group)
	if err != nil {
		return err
	}
	lock, err := lockSocket(path)
	if err != nil {
		return err
	}
	defer unlockSocket(lock)
	if err := s.open(); err != nil {
		return err
	}
	// Before the socket appears: a client that sees it may stop us.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	ln, err := listenUnix(path, group, s.rootless)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	if s.rootless {
		if err := rootless.CheckReachable(path); err != nil {
			ln.Close()
			return err
		}
	}
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

// socketPath checks the daemon's --host and --group and returns the
// socket's path: host's, or the default for root or for the user.
func socketPath(s *session, host, group string) (string, error) {
	if s.rootless && group != "" {
		return "", usagef("--group %q: rootless, the socket is yours alone (mode 0600); whoever may use it may do all you may: share access by other means", group)
	}
	if host == "" && s.rootless {
		return rootless.SocketPath()
	}
	if host == "" {
		host = defaultHost
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || !strings.HasPrefix(path, "/") {
		return "", usagef("--host %q: only unix sockets are served, e.g. unix:///run/minidocker.sock", host)
	}
	return path, nil
}

// lockSocket takes the lock that makes one daemon the owner of the
// socket path: an exclusive flock on PATH.lock, held until the daemon
// ends (unlockSocket; a killed daemon's lock goes with its process).
// Without it, two daemons started at once could both find no one
// answering, both replace the socket, and the first would serve a
// socket nobody can reach, then remove the second's on its way out.
//
// A daemon removes its lock file as it ends, so the file locked may
// have been removed between the open and the flock: the lock is then
// on a file nobody else will open, and is taken again on the new one.
func lockSocket(path string) (*os.File, error) {
	name := path + ".lock"
	for range 100 {
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
		if sameInode(f, name) {
			return f, nil
		}
		f.Close() // removed by a daemon that ended: lock the new one
	}
	return nil, fmt.Errorf("lock %s: it keeps being replaced: is a daemon restarting in a loop?", name)
}

// sameInode reports whether f is still the file at name.
func sameInode(f *os.File, name string) bool {
	var a, b syscall.Stat_t
	return syscall.Fstat(int(f.Fd()), &a) == nil && syscall.Stat(name, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// unlockSocket removes the lock file, then releases the lock: a daemon
// that opened the old file meanwhile finds it gone (lockSocket) and
// takes the lock on a new one.
func unlockSocket(lock *os.File) {
	_ = os.Remove(lock.Name())
	lock.Close()
}

// listenUnix listens on a unix socket at path, mode 0660, owned by root
// and group; rootless, mode 0600, owned by the user (root inside the
// user namespace is the user outside). The caller holds the socket's lock, so a socket found there
// was left by a daemon that died, and is replaced; one that answers
// belongs to a daemon that does not lock (an older minidocker), and is
// refused.
func listenUnix(path, group string, own bool) (net.Listener, error) {
	gid, mode := 0, os.FileMode(0o660)
	if own {
		mode = 0o600
	}
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
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("make the socket %s (mode %04o, group %d): %w", path, mode, gid, err)
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
