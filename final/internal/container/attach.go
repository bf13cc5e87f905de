//go:build linux

// The attach socket: how stdin reaches a container that its monitor
// runs detached (run -d -i, or any container the daemon starts). The
// monitor holds the container's stdin (a pipe, or the terminal's master
// side) and listens on <container dir>/attach.sock; whatever a client
// writes there is copied to the container's stdin. With StdinOnce (docker
// run -i) the end of the first client's input closes the container's
// stdin, so that `cat` sees end-of-file. Output does not go through the
// socket: it is in the log, which an attached client follows.
//
// conmon, podman's monitor, does the same. The path of a socket must fit
// in 108 bytes (sockaddr_un), which a state root's container directory
// may not: the socket is bound and reached through /proc/self/fd/N of the
// directory, a short path for any directory.

package container

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// attachSocket is the name of the socket in a container's directory.
const attachSocket = "attach.sock"

// inDir calls fn with a short path to name in dir: /proc/self/fd/N/name.
func inDir(dir, name string, fn func(path string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", fd, name))
}

// serveStdin listens on the attach socket of the container directory
// dir and copies what clients send to stdin; with once, the first
// client's end of input closes stdin. It returns the function that stops
// listening and removes the socket.
func serveStdin(dir string, stdin io.WriteCloser, once bool) (stop func(), err error) {
	_ = os.Remove(filepath.Join(dir, attachSocket)) // a previous run's
	var ln net.Listener
	err = inDir(dir, attachSocket, func(path string) error {
		var lerr error
		ln, lerr = net.Listen("unix", path)
		return lerr
	})
	if err != nil {
		return nil, fmt.Errorf("listen on the attach socket of %s: %w", dir, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(filepath.Join(dir, attachSocket), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	var closeOnce sync.Once
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(stdin, conn)
				conn.Close()
				if once {
					closeOnce.Do(func() { stdin.Close() })
				}
			}()
		}
	}()
	return func() { ln.Close(); os.Remove(filepath.Join(dir, attachSocket)) }, nil
}

// DialStdin connects to the attach socket of the container whose
// directory is dir: what is written to the connection reaches the
// container's stdin. It fails while the container is not running, or
// when it was started without -i.
func DialStdin(dir string) (*net.UnixConn, error) {
	var conn net.Conn
	err := inDir(dir, attachSocket, func(path string) error {
		var derr error
		conn, derr = net.Dial("unix", path)
		return derr
	})
	if err != nil {
		return nil, err
	}
	return conn.(*net.UnixConn), nil
}
