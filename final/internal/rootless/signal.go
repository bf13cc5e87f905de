//go:build linux

// Signals across sibling namespaces. Each rootless command has a user
// namespace of its own, and a container's processes are in the one of
// the command that started it. kill(2) lets a process signal another of
// the same uid, or one whose user namespace it holds CAP_KILL in. Root of
// a container is the user on the host, so that works; but a container
// process running as, say, uid 1000 inside is a subordinate id outside,
// and the sibling namespace's capabilities count for nothing over it. The
// user's own process outside, which waits for the command (Enter), may:
// the kernel gives the owner of a user namespace, in its parent
// namespace, every capability inside. So a command inside asks it, over
// a socket, and it signals for us. It signals only what the user could
// signal anyway: it has no power beyond the user's. It is asked by pid
// and start time, and signals through a pidfd, as procfs.Signal does
// (a pid alone could be someone else's by the time it reads the request).

package rootless

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// signalFd is the inside end of the signal socket, in the command Enter
// started; envSignals tells its second half that it has it.
const (
	signalFd   = 4
	envSignals = "MINIDOCKER_ROOTLESS_SIGNALS"
)

// signalSock is signalFd in the command that has it, -1 elsewhere (a
// monitor it started, which signals only its own container).
var signalSock = -1

// Signal sends sig to pid if it still is the process that started at
// start (procfs.Signal: ErrGone if it has exited). Inside a rootless
// namespace a refusal (EPERM) is retried through the user's process
// outside, which does the same check through a pidfd of its own.
func Signal(pid int, start uint64, sig unix.Signal) error {
	err := procfs.Signal(pid, start, sig)
	if !errors.Is(err, unix.EPERM) || !Inside() || signalSock < 0 {
		return err
	}
	return signalOutside(pid, start, sig)
}

// signalOutside asks the process outside to send sig to pid if it still
// started at start, and returns its answer.
func signalOutside(pid int, start uint64, sig unix.Signal) error {
	signalMu.Lock()
	defer signalMu.Unlock()
	if _, err := unix.Write(signalSock, []byte(fmt.Sprintf("%d %d %d", pid, start, int(sig)))); err != nil {
		return fmt.Errorf("kill(%d, %v) through the user's process outside: %w", pid, sig, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(signalSock, buf)
	if err != nil {
		return fmt.Errorf("kill(%d, %v) through the user's process outside: %w", pid, sig, err)
	}
	if errno, _ := strconv.Atoi(string(buf[:n])); errno != 0 {
		return unix.Errno(errno)
	}
	return nil
}

// signalSocket makes the socket pair: the outside end, served by
// serveSignals, and the inside one, passed to the child as signalFd.
func signalSocket() (outside, inside *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "signals-outside"), os.NewFile(uintptr(fds[1]), "signals-inside"), nil
}

// serveSignals answers each "PID START SIG" request with the errno of
// procfs.Signal (0 for success, ESRCH if that process has exited), until
// the inside end is closed. A request to run a command (outside.go) is
// run on its own, and answered on its own socket.
func serveSignals(f *os.File) {
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(int(f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || (n == 0 && oobn == 0) {
			return
		}
		if fds := receivedRights(oob[:oobn]); len(fds) > 0 || strings.HasPrefix(string(buf[:n]), execRequest) {
			if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
				for _, fd := range fds {
					unix.Close(fd) // the asker reads EOF for its status
				}
				continue
			}
			go serveRun(append([]byte{}, buf[:n]...), fds)
			continue
		}
		errno := unix.EINVAL
		if pid, start, sig, ok := parseRequest(string(buf[:n])); ok {
			errno = 0
			if err := procfs.Signal(pid, start, sig); err != nil {
				errno = unix.EIO
				errors.As(err, &errno)
			}
		}
		if _, err := f.Write([]byte(strconv.Itoa(int(errno)))); err != nil {
			return
		}
	}
}

// receivedRights is the descriptors an SCM_RIGHTS message carried.
func receivedRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, rights...)
		}
	}
	return fds
}

// parseRequest reads "PID START SIG".
func parseRequest(req string) (pid int, start uint64, sig unix.Signal, ok bool) {
	fields := strings.Fields(req)
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	pid, err1 := strconv.Atoi(fields[0])
	start, err2 := strconv.ParseUint(fields[1], 10, 64)
	n, err3 := strconv.Atoi(fields[2])
	ok = err1 == nil && err2 == nil && err3 == nil && pid > 0 && n >= 0 && n < 65
	return pid, start, unix.Signal(n), ok
}
