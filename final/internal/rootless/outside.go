//go:build linux

// Commands run by the user's process outside, for the daemon. A
// rootless daemon serves containers that other commands started, each
// in a user namespace of its own (a sibling of the daemon's), where the
// daemon holds no capability. The process outside owns them all, as
// the user in the host's namespace: for an exec into one of them, the
// daemon asks it to run `minidocker exec` as the user would, which
// joins the container's namespace the usual rootless way (exec.go).
// The request goes on the signal socket (signal.go): the command line,
// and as SCM_RIGHTS the command's stdin, stdout and stderr and the
// socket on which its exit status comes back.

package rootless

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// execRequest starts a request to run a command line outside, ahead of
// its JSON.
const execRequest = "exec\x00"

// signalMu keeps one request at a time on the signal socket: the daemon
// asks from many goroutines, and each kill reads the answer to its own
// request.
var signalMu sync.Mutex

// RunOutside has the user's process outside run this binary with args,
// stdio as its stdin, stdout and stderr, and returns its exit status.
func RunOutside(args []string, stdio [3]*os.File) (int, error) {
	if signalSock < 0 {
		return 0, fmt.Errorf("no process outside to run minidocker %s", strings.Join(args, " "))
	}
	data, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socketpair: %w", err)
	}
	reply := os.NewFile(uintptr(fds[0]), "outside-reply")
	defer reply.Close()
	rights := unix.UnixRights(int(stdio[0].Fd()), int(stdio[1].Fd()), int(stdio[2].Fd()), fds[1])
	signalMu.Lock()
	err = unix.Sendmsg(signalSock, append([]byte(execRequest), data...), rights, nil, 0)
	signalMu.Unlock()
	unix.Close(fds[1])
	if err != nil {
		return 0, fmt.Errorf("ask the process outside to run minidocker %s: %w", args[0], err)
	}
	buf := make([]byte, 512)
	n, err := reply.Read(buf)
	if err != nil {
		return 0, fmt.Errorf("the process outside gave no status for minidocker %s: %w", args[0], err)
	}
	status, err := strconv.Atoi(string(buf[:n]))
	if err != nil {
		return 0, fmt.Errorf("the process outside: %s", buf[:n])
	}
	return status, nil
}

// serveRun runs a request's command line (the JSON after execRequest)
// with the four descriptors that came with it, and answers on the last.
func serveRun(data []byte, fds []int) {
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "outside-stdio")
		defer files[i].Close()
	}
	if len(files) != 4 {
		return
	}
	answer := func(s string) { _, _ = files[3].Write([]byte(s)) }
	var args []string
	if err := json.Unmarshal(bytes.TrimPrefix(data, []byte(execRequest)), &args); err != nil || len(args) == 0 {
		answer(fmt.Sprintf("a bad request: %v", err))
		return
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[1], files[2]
	if err := cmd.Start(); err != nil {
		answer(fmt.Sprintf("start minidocker %s: %v", args[0], err))
		return
	}
	answer(strconv.Itoa(wait(cmd)))
}
