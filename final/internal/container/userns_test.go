//go:build linux

package container

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/state"
)

// TestUsernsHelperProcess is the process in a user namespace of its own
// that TestContainerUserNamespace starts: it waits for its stdin to close.
func TestUsernsHelperProcess(t *testing.T) {
	if os.Getenv("MINIDOCKER_USERNS_HELPER") != "1" {
		return
	}
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf)
	os.Exit(0)
}

// TestContainerUserNamespace checks which user namespace exec joins: none
// for a process in this one, the process's own for one in another, and a
// one-line error with exec's status 125 for a process that is gone or
// whose pid now names another process (its start time differs).
func TestContainerUserNamespace(t *testing.T) {
	self := &state.Container{Name: "self"}
	self.State.Pid, self.Minidocker.PidStartTime = os.Getpid(), procfs.StartTime(os.Getpid())
	if f, err := containerUserNamespace(self); f != nil || err != nil {
		t.Errorf("a process of this user namespace: %v, %v; want nothing to join", f, err)
	}
	reused := &state.Container{Name: "reused"}
	reused.State.Pid, reused.Minidocker.PidStartTime = os.Getpid(), procfs.StartTime(os.Getpid())+1
	checkGone(t, reused)

	if os.Geteuid() != 0 {
		t.Skip("a user namespace with a map needs root here")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUsernsHelperProcess$")
	cmd.Env = append(os.Environ(), "MINIDOCKER_USERNS_HELPER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 1}}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	other := &state.Container{Name: "other"}
	other.State.Pid, other.Minidocker.PidStartTime = cmd.Process.Pid, procfs.StartTime(cmd.Process.Pid)
	f, err := containerUserNamespace(other)
	if err != nil || f == nil {
		t.Fatalf("a process of another user namespace: %v, %v; want its namespace", f, err)
	}
	if same, err := sameFile(f, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/ns/user"); !same || err != nil {
		t.Errorf("the namespace opened is not the process's: %v", err)
	}
	f.Close()
	stdin.Close()
	_ = cmd.Wait()
	checkGone(t, other)
}

// checkGone checks the refusal for a container whose first process is gone.
func checkGone(t *testing.T, c *state.Container) {
	t.Helper()
	f, err := containerUserNamespace(c)
	var fl *Failure
	if f != nil || !errors.As(err, &fl) || fl.Status != 125 || strings.Contains(fl.Message, "\n") || !strings.Contains(fl.Message, "has stopped") {
		t.Errorf("container %s, first process gone: %v, %v; want a one-line failure with status 125", c.Name, f, err)
	}
}
