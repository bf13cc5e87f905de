//go:build linux

// exec: run another command in a running container. The new process must
// join the container's namespaces (setns(2)) and its cgroup.
//
// Go makes joining a mount namespace hard: setns(CLONE_NEWNS) fails with
// EINVAL in a process whose threads share one fs_struct (root, cwd, umask),
// and every Go program is multi-threaded from its first instruction, its
// threads made with CLONE_FS. runc solves it with C code that runs before
// the Go runtime starts (nsenter). minidocker solves it in Go:
//
//  1. `exec` starts a fresh copy of itself, "exec-init", whose main
//     goroutine is locked to the main thread (main's init does that);
//  2. exec-init calls unshare(CLONE_FS) on that thread: it now has an
//     fs_struct of its own, which is all the kernel asks of setns(CLONE_NEWNS);
//  3. it joins the ipc, uts, net, pid and mount namespaces of the
//     container's PID 1, from fds opened before any of them was joined;
//  4. a new PID namespace applies to children only, so exec-init then
//     forks the command from that same thread: the child inherits the
//     thread's namespaces, root and credentials, and is a process of the
//     container, with a pid of the container's;
//  5. the host side puts exec-init into the container's cgroup before
//     releasing it, so the command is counted there from its birth.
//
// A container with a user namespace of its own (remapped, or rootless
// seen from outside) needs one step before 1: setns(CLONE_NEWUSER) wants
// a single-threaded caller, which no Go program is, so nsenter joins that
// namespace and executes exec-init there (userns.go says why this way).
//
// Go's runtime helps here: a thread whose goroutine locked it is never used
// to start other threads (they come from a clean template thread), so the
// altered thread's state does not spread.

package container

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/seccomp"
	"github.com/minidocker/minidocker/final/internal/state"
)

// ExecSpec is what exec-init needs.
type ExecSpec struct {
	Pid        int // the container's PID 1, as the host sees it
	Args, Env  []string
	Cwd, User  string
	Tty        bool
	Privileged bool
	CapAdd     []string
	CapDrop    []string
	NoNewPrivs bool
	Seccomp    seccomp.Program // the container's filter; nil: none
	OCI        *OCIExec        // the OCI runtime's exec: its own user and capability sets
	Parent     int             // nonzero: exec-init dies with this host pid (see ExecMain)
}

// namespaces exec joins, the mount namespace last: after it, /proc is the
// container's and the others' paths would no longer resolve.
var namespaces = []struct {
	name string
	flag int
}{
	{"ipc", unix.CLONE_NEWIPC}, {"uts", unix.CLONE_NEWUTS}, {"net", unix.CLONE_NEWNET},
	{"pid", unix.CLONE_NEWPID}, {"mnt", unix.CLONE_NEWNS},
}

// Exec runs spec's command in the running container c and returns its
// exit status; stdio is the user's. Signals minidocker gets go to the command.
func (rt *Runtime) Exec(c *state.Container, spec *ExecSpec, stdio Stdio) int {
	status, err := rt.exec(c, spec, stdio, true)
	if err != nil {
		return reportExecError(err)
	}
	return status
}

// ExecIn is Exec for a caller that serves others (the daemon): it
// forwards no signal of its own and prints nothing; a command that could
// not start is an error (a *Failure with Docker's status), not a status.
func (rt *Runtime) ExecIn(c *state.Container, spec *ExecSpec, stdio Stdio) (int, error) {
	return rt.exec(c, spec, stdio, false)
}

// ExecDetached starts spec's command in c and returns once it runs
// (exec -d): exec-init outlives the caller, waiting for the command, and
// the command's output goes nowhere, as with Docker.
func (rt *Runtime) ExecDetached(c *state.Container, spec *ExecSpec) error {
	proc, err := rt.startExec(c, spec, Stdio{}, false)
	if err != nil {
		return err
	}
	return proc.cmd.Process.Release()
}

// exec starts the command and waits for it.
func (rt *Runtime) exec(c *state.Container, spec *ExecSpec, stdio Stdio, forward bool) (int, error) {
	proc, err := rt.startExec(c, spec, stdio, true)
	if err != nil {
		return 0, err
	}
	if forward {
		stop := forwardSignals(proc)
		defer stop()
	}
	return proc.Wait(), nil
}

// startExec starts exec-init (in the container's user namespace when it
// has one of its own, userns.go), puts it into the container's cgroup,
// sends it the spec and returns once the command runs. With dies,
// exec-init dies with the calling thread.
func (rt *Runtime) startExec(c *state.Container, spec *ExecSpec, stdio Stdio, dies bool) (*Process, error) {
	if err := checkNotPaused(c); err != nil {
		return nil, err
	}
	userns, err := containerUserNamespace(c)
	if err != nil {
		return nil, err
	}
	if userns != nil {
		defer userns.Close()
	}
	proc, err := startExecInit(stdio, dies, userns, nil)
	if err != nil {
		return nil, fail(err)
	}
	if err := rt.Cgroup(c).Apply(proc.Pid); err != nil {
		proc.Abort()
		return nil, fail(err)
	}
	spec.Pid = c.State.Pid
	if dies {
		spec.Parent = os.Getpid()
	}
	if err := proc.releaseExec(spec); err != nil {
		proc.Wait()
		return nil, fail(err)
	}
	return proc, nil
}

// startExecInit starts exec-init, held on its spec pipe. With dies, it
// dies with the calling thread (PR_SET_PDEATHSIG); the OCI runtime's
// detached exec outlives it instead, reaped by its caller. With userns,
// a user namespace not this process's, nsenter joins it first and then
// executes exec-init (userns.go says why). console, if any, is the OCI
// caller's console socket, connected here, where its path is in sight
// (exec-init may be a user the path's directories keep out): consoleFd.
func startExecInit(stdio Stdio, dies bool, userns, console *os.File) (*Process, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	defer specR.Close()
	defer errW.Close()
	files := []*os.File{specR, errW} // specFd, errorFd
	if console != nil {
		files = append(files, console) // consoleFd
	}
	cmd, closeExe, err := execInitCommand(files, userns)
	if err == nil {
		defer closeExe()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: stdio.Tty, Setctty: stdio.Tty && stdio.Stdin != nil}
		if dies {
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		}
		if err = cmd.Start(); err != nil {
			err = fmt.Errorf("start exec-init: %w", err)
		}
	}
	if err != nil {
		specW.Close()
		errR.Close()
		return nil, err
	}
	return &Process{cmd: cmd, specW: specW, errR: errR, Pid: cmd.Process.Pid}, nil
}

// execInitCommand is the command that starts exec-init with files as
// its descriptors from 3 on: this binary, or nsenter joining userns
// first. closeExe closes what it opened, once the command has started.
func execInitCommand(files []*os.File, userns *os.File) (cmd *exec.Cmd, closeExe func(), err error) {
	if userns != nil {
		return joiningUserNamespace(files, userns)
	}
	cmd = exec.Command("/proc/self/exe", "exec-init")
	cmd.ExtraFiles = files
	return cmd, func() {}, nil
}

// reportExecError prints why exec failed and returns Docker's status.
func reportExecError(err error) int {
	f := fail(err)
	fmt.Fprintf(os.Stderr, "minidocker: %s\n", f.Message)
	return f.Status
}

// releaseExec sends exec-init its spec and waits for the command to start.
func (p *Process) releaseExec(spec *ExecSpec) error {
	return p.send(spec)
}

// ExecMain is the entry of exec-init (see the file comment); it returns
// only on failure, or with the command's status.
func ExecMain() int {
	unix.CloseOnExec(errorFd)
	// Not dumpable from the start, as runc's nsexec: in a container with
	// a user namespace of its own, this process is already in it, and
	// must not be ptraced nor have its /proc/PID/exe (minidocker) opened
	// by the container's root (CVE-2019-5736; userns.go).
	err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	var spec ExecSpec
	if err == nil {
		err = readSpec(specFd, &spec) // main has marked every other fd close-on-exec (fds.go)
	}
	if err == nil && spec.Parent != 0 {
		err = dieWithParent(spec.Parent)
	}
	var console *os.File
	if err == nil && spec.OCI != nil && spec.OCI.Process.Terminal {
		console = os.NewFile(consoleFd, "console socket") // connected by the host side
	}
	if err == nil {
		err = joinNamespaces(spec.Pid)
	}
	if err == nil && console != nil {
		err = attachConsole(console, spec.OCI.Process.ConsoleSize)
		console.Close()
	}
	var child *os.Process
	if err == nil && spec.OCI != nil {
		child, err = startOCIExec(&spec)
	} else if err == nil {
		child, err = startInContainer(&spec)
	}
	if err != nil {
		f := fail(err)
		reportFailure(errorFd, f)
		return f.Status
	}
	unix.Close(errorFd) // the command runs
	return waitForwarding(child)
}

// joinNamespaces joins the namespaces of pid from the calling thread.
func joinNamespaces(pid int) error {
	fds := make([]int, len(namespaces))
	for i, ns := range namespaces {
		path := fmt.Sprintf("/proc/%d/ns/%s", pid, ns.name)
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w (is the container still running?)", path, err)
		}
		defer unix.Close(fd)
		fds[i] = fd
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	for i, ns := range namespaces {
		if err := unix.Setns(fds[i], ns.flag); err != nil {
			return fmt.Errorf("setns(%s of pid %d): %w", ns.name, pid, err)
		}
	}
	return nil
}

// dieWithParent sets the parent-death signal again: joining a user
// namespace (nsenter) changed this process's credentials, and the kernel
// then cleared the one the host side set. A parent already gone is an error.
func dieWithParent(parent int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	if os.Getppid() != parent {
		return fmt.Errorf("minidocker (pid %d) ended before the command started", parent)
	}
	return nil
}

// startInContainer changes to the working directory, drops privileges as
// the container's first process did, and forks the command.
func startInContainer(spec *ExecSpec) (*os.Process, error) {
	if err := enterWorkdir(spec.Cwd, rootfs.MakeNothing); err != nil {
		return nil, err
	}
	if err := newSessionKeyring(); err != nil {
		return nil, err
	}
	path, id, err := prepareExec(spec.Args[0], spec.Env, spec.User)
	if err != nil {
		return nil, err
	}
	if err := dropPrivileges(&Spec{CapAdd: spec.CapAdd, CapDrop: spec.CapDrop, Privileged: spec.Privileged, NoNewPrivs: spec.NoNewPrivs, Seccomp: spec.Seccomp}, id); err != nil {
		return nil, err
	}
	attr := &syscall.SysProcAttr{}
	if spec.Tty {
		attr.Setpgid, attr.Foreground, attr.Ctty = true, true, 0
	}
	child, err := os.StartProcess(path, spec.Args, &os.ProcAttr{Env: spec.Env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}, Sys: attr})
	if err != nil {
		return nil, &Failure{Status: notRunnable(err), Message: fmt.Sprintf("exec %s: %v", path, err)}
	}
	return child, nil
}

// waitForwarding forwards signals to child until it ends; its status.
func waitForwarding(child *os.Process) int {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for sig := range ch {
			_ = child.Signal(sig)
		}
	}()
	// Wait from another thread: this one carries the container's seccomp
	// filter, whose profile need not allow waitid.
	waited := make(chan *os.ProcessState)
	go func() {
		ps, _ := child.Wait()
		waited <- ps
	}()
	ps := <-waited
	if ps == nil {
		return 125
	}
	return exitStatus(unix.WaitStatus(ps.Sys().(syscall.WaitStatus)))
}
