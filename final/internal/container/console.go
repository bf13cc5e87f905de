//go:build linux

// The terminal of an OCI container. Its caller (conmon, containerd's
// shim) owns the terminal's master side, so the runtime must hand it
// over: the container makes the pseudo-terminal in its own devpts, and
// sends the master's fd over the unix socket the caller named with
// --console-socket, as an SCM_RIGHTS message (unix(7)). The slave side
// becomes the process's stdin, stdout, stderr and controlling terminal.

package container

import (
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/tty"
)

// consoleFd is where exec-init finds the console socket its host side
// connected (after its spec and error pipes).
const consoleFd = 5

// dialConsole connects to the console socket while its path is in sight.
func dialConsole(path string) (*os.File, error) {
	if path == "" {
		return nil, fmt.Errorf("process.terminal is true: give --console-socket, a unix socket to receive the terminal's master on")
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to the console socket %s: %w", path, err)
	}
	defer conn.Close()
	return conn.(*net.UnixConn).File()
}

// attachConsole makes a pseudo-terminal, sends its master over the
// socket, and makes the slave this process's stdio and controlling terminal.
func attachConsole(socket *os.File, size *specs.Box) error {
	master, slave, err := tty.OpenPty()
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set the console's size: %w", err)
		}
	}
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(socket.Fd()), []byte(master.Name()), rights, nil, 0); err != nil {
		return fmt.Errorf("send the console's master over the console socket: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup3 the console onto fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("ioctl(TIOCSCTTY): %w", err)
	}
	return nil
}
