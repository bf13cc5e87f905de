//go:build linux

// Package rootless runs minidocker as an ordinary user: each command
// re-executes itself in a new user namespace, and a new mount namespace
// owned by it, in which the user is root (docs/12-user-namespaces.md).
//
// The maps of that namespace say who is who: the user's own uid is root
// inside, and the user's subordinate range from /etc/subuid (/etc/subgid)
// is 1..N. An unprivileged process may write only one line, its own id,
// into a child's uid_map; a range needs the setuid helpers newuidmap and
// newgidmap (Debian's uidmap package), which check the files and write
// the maps for us. So the command starts in two halves:
//
//	the user's process (here, Enter)   the child, in the new namespaces
//	clone(CLONE_NEWUSER|CLONE_NEWNS) -> blocks reading fd 3 (FinishEntry)
//	newuidmap PID 0 UID 1 ...
//	newgidmap PID 0 GID 1 ...
//	write one byte on the pipe      -> execve itself again: only now is it
//	                                   root inside, and an execve by root
//	                                   gives it every capability there
//	wait, forward signals, exit with its status
//
// Every command makes a namespace of its own, with the same maps, so the
// files each one leaves in the store have the same owners for the next.
package rootless

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/userns"
)

// envMarker tells the child which half it is: "wait" until the maps are
// written, "1" once re-executed inside.
const envMarker = "MINIDOCKER_ROOTLESS"

// entryFd is the pipe the child waits on.
const entryFd = 3

// Inside reports whether this process is a rootless minidocker inside its
// user namespace (root there, not in the host's namespace).
func Inside() bool {
	return os.Getenv(envMarker) == "1" && os.Geteuid() == 0 && !InitialUserNamespace()
}

// InitialUserNamespace reports whether this process is in the host's own
// user namespace: its uid_map is the identity map of every id.
func InitialUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	return err == nil && strings.Join(strings.Fields(string(data)), " ") == "0 0 4294967295"
}

// Maps is the mapping of a rootless user's namespace.
type Maps struct {
	User           string // the login name, as /etc/subuid names it
	UID, GID       int
	SubUID, SubGID userns.Range
}

// LoadMaps reads the calling user's subordinate ranges.
func LoadMaps() (Maps, error) {
	m := Maps{UID: os.Getuid(), GID: os.Getgid()}
	u, err := user.LookupId(strconv.Itoa(m.UID))
	if err != nil {
		return m, fmt.Errorf("look up uid %d: %w (rootless minidocker needs a user in /etc/passwd)", m.UID, err)
	}
	m.User = u.Username
	if m.SubUID, err = userRange(userns.Files.UID, m.User, m.UID); err != nil {
		return m, err
	}
	m.SubGID, err = userRange(userns.Files.GID, m.User, m.UID)
	return m, err
}

// userRange is the user's first range in a subordinate id file, found by
// login name or uid as newuidmap finds it.
func userRange(path, name string, uid int) (userns.Range, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return userns.Range{}, fmt.Errorf("read %s: %w", path, err)
	}
	for _, key := range []string{name, strconv.Itoa(uid)} {
		if r, ok := userns.Find(data, key); ok && r.Size > 0 {
			return r, nil
		}
	}
	return userns.Range{}, fmt.Errorf("%s has no range for %s: add one as root, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", path, name, name)
}

// Enter runs this command (args, without the program name) again in a
// new user and mount namespace mapped by Maps, and returns its exit
// status.
func Enter(args []string) (int, error) {
	return enter(args, nil, false)
}

// EnterDaemon is Enter for the daemon. It also gets the SIGINT sent to
// the user's process outside: a daemon runs detached from any terminal
// as often as on one, and kill -INT of the process the user started must
// stop it as Ctrl-C does (on a terminal it gets Ctrl-C twice, which
// stops it once). And it gets this process's root directory, from which
// it checks that its socket can be reached from outside (socket.go).
func EnterDaemon(args []string) (int, error) {
	return enter(args, nil, true)
}

// enter is Enter; a target pipe, when given, is passed to the command
// as targetFd (exec.go); a daemon gets SIGINT forwarded too, and the
// root directory outside as outsideRootFd.
func enter(args []string, target *os.File, daemon bool) (int, error) {
	m, err := LoadMaps()
	if err != nil {
		return 0, err
	}
	if err := checkHelpers(); err != nil {
		return 0, err
	}
	if _, err := RuntimeDir(); err != nil {
		return 0, err
	}
	signals, inside, err := signalSocket()
	if err != nil {
		return 0, err
	}
	defer signals.Close()
	var root *os.File
	if daemon {
		if root, err = openOutsideRoot(); err != nil {
			return 0, err
		}
		defer root.Close()
	}
	cmd, release, err := startBlocked(args, inside, target, root)
	if err != nil {
		return 0, err
	}
	defer release.Close()
	if err := writeMaps(cmd.Process.Pid, m); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	go serveSignals(signals)
	stop := forwardSignals(cmd.Process, daemon)
	defer stop()
	if _, err := release.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("let the namespace's first process go: %w", err)
	}
	release.Close()
	return wait(cmd), nil
}

// startBlocked starts the child half in a new user and mount namespace,
// blocked on a pipe (entryFd) until the maps are written; the caller
// writes a byte on release to let it go. The child gets the inside end
// of the signal socket as signalFd, target, if any, as targetFd, and
// root, if any, as outsideRootFd.
func startBlocked(args []string, inside, target, root *os.File) (cmd *exec.Cmd, release *os.File, err error) {
	defer inside.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	cmd = exec.Command("/proc/self/exe", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envMarker+"=wait")
	cmd.ExtraFiles = []*os.File{r, inside} // entryFd, signalFd
	if target != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, target)
		cmd.Env = append(cmd.Env, envTarget+"=1")
	}
	if root != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, make([]*os.File, outsideRootFd-3-len(cmd.ExtraFiles))...)
		cmd.ExtraFiles = append(cmd.ExtraFiles, root)
		cmd.Env = append(cmd.Env, envOutsideRoot+"=1")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("clone a user namespace: %w (see: minidocker doctor)", err)
	}
	return cmd, w, nil
}

// checkHelpers finds newuidmap and newgidmap.
func checkHelpers() error {
	for _, name := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%s is missing: rootless minidocker needs it to map your subordinate ids (Debian: apt-get install uidmap)", name)
		}
	}
	return nil
}

// writeMaps has newuidmap and newgidmap write pid's maps: the user is
// root inside, the subordinate range 1..N.
func writeMaps(pid int, m Maps) error {
	for _, h := range []struct {
		helper string
		own    int
		sub    userns.Range
	}{{"newuidmap", m.UID, m.SubUID}, {"newgidmap", m.GID, m.SubGID}} {
		args := []string{strconv.Itoa(pid), "0", strconv.Itoa(h.own), "1", "1", fmt.Sprint(h.sub.Start), fmt.Sprint(h.sub.Size)}
		out, err := exec.Command(h.helper, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s (check that it is setuid root, and see: minidocker doctor)", h.helper, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// forwardSignals passes the signals a user sends this process on to the
// child. SIGINT is passed on when interrupt is set, or when it cannot
// have come from the terminal (fromTerminal): Ctrl-C reaches the child
// from the terminal itself, which signals the whole foreground process
// group, and twice would be once too many. A `kill -INT` from elsewhere
// is passed on.
func forwardSignals(p *os.Process, interrupt bool) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if sig != syscall.SIGINT || interrupt || !fromTerminal() {
					_ = p.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// fromTerminal reports whether a SIGINT this process got may have come
// from its terminal: it has one, and its process group (which the child
// shares) is the terminal's foreground group. Without siginfo (Go's
// os/signal gives none) a kill -INT of a foreground minidocker from
// another terminal looks the same, and is not passed on.
func fromTerminal() bool {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal
	}
	defer unix.Close(fd)
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// wait waits for the child and returns its status as a shell gives it.
func wait(cmd *exec.Cmd) int {
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 125
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// FinishEntry is the child's half, first thing in main: in a child that
// Enter started it waits until the maps are written, then re-executes
// itself (and returns only on failure); once re-executed, it takes the
// signal socket (signal.go). Elsewhere it does nothing.
func FinishEntry() error {
	switch os.Getenv(envMarker) {
	case "1":
		takeTarget()
		if err := takeOutsideRoot(); err != nil {
			return err
		}
		if os.Getenv(envSignals) != "" {
			signalSock = signalFd
			unix.CloseOnExec(signalFd)     // for this command alone: a child that asked would act as the user
			return os.Unsetenv(envSignals) // not for the monitors this command starts
		}
		return nil
	case "wait":
	default:
		return nil
	}
	pipe := os.NewFile(entryFd, "rootless-entry")
	buf := make([]byte, 1)
	if _, err := io.ReadFull(pipe, buf); err != nil {
		return fmt.Errorf("the maps of the user namespace were not written")
	}
	pipe.Close()
	if _, err := unix.FcntlInt(signalFd, unix.F_SETFD, 0); err != nil { // kept across the execve below
		return fmt.Errorf("keep the signal socket: %w", err)
	}
	if err := keepTarget(); err != nil {
		return err
	}
	if err := keepOutsideRoot(); err != nil {
		return err
	}
	os.Setenv(envSignals, "1")
	os.Setenv(envMarker, "1")
	// The first execve ran before the maps existed, as nobody: it left
	// no capability. This one runs as root inside.
	if err := unix.Exec("/proc/self/exe", os.Args, os.Environ()); err != nil {
		return fmt.Errorf("execve /proc/self/exe in the user namespace: %w", err)
	}
	return nil
}
