//go:build linux

// Removing a container whose record cannot be read (a disk error, a hand
// edit, a truncated file): rm -f must still work, as its error message
// promises, without the record. What the record would name is found by
// the container's id and minidocker's own naming instead:
//   - its monitor: the process of this binary (/proc/PID/exe) whose
//     command line is "monitor --root ROOT ... ID" (cmd_run.go starts it
//     so), killed through a pidfd;
//     the container's first process dies with it (PR_SET_PDEATHSIG);
//   - its cgroup: PARENT/ID under the runtime's own parent (a container
//     made with another --cgroup-parent is not found: the record alone
//     said where), destroyed with whatever is left in it;
//   - its network lease: owned by the monitor, so free once it is dead,
//     and released with its veth by network.Reclaim; rootless, the API
//     socket of its slirp4netns, which ended with the monitor;
//   - its mounts: those at or below its own directory;
//   - its directory and its name in the names index (state/remove.go
//     finds the name by id when the record cannot be read).

package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/final/internal/rootless"
)

// RemoveCorrupt removes container id, whose record is corrupt, without
// reading the record, and returns what it did, for the user.
func (rt *Runtime) RemoveCorrupt(id string) (done []string, err error) {
	unlock, err := rt.State.LockContainer(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if pid := rt.killMonitorOf(id); pid > 0 {
		done = append(done, fmt.Sprintf("killed its monitor (pid %d)", pid))
	}
	if cg := cgroups.Load(rt.CgroupParent, id); anyExists(cg.Paths()) {
		if err := cg.Destroy(); err != nil {
			return done, err
		}
		done = append(done, "removed its cgroup under "+rt.CgroupParent)
	}
	_ = network.Reclaim() // the lease of its monitor, now dead
	if rt.RuntimeDir != "" && os.Remove(rt.slirpSocket(id)) == nil {
		done = append(done, "removed "+rt.slirpSocket(id)) // a rootless monitor's slirp4netns died with it
	}
	dir := rt.State.Dir(id)
	for _, point := range mountsUnder(dir) {
		if unix.Unmount(point, unix.MNT_DETACH) == nil {
			done = append(done, "unmounted "+point)
		}
	}
	if err := rt.State.BeginRemove(id); err != nil {
		return done, err
	}
	return append(done, "removed "+dir), rt.finishRemoval(id)
}

// killMonitorOf SIGKILLs the monitor of container id in this state root,
// if one runs, waits (up to 5 s) until it has ended, and returns its pid.
// Each candidate is opened as a pidfd before it is looked at, and killed
// through it: what /proc says after the open is that process's, or it
// has ended and the signal reaches nobody (procfs/signal.go).
func (rt *Runtime) killMonitorOf(id string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		pid, _ := strconv.Atoi(filepath.Base(proc))
		if !rt.isMonitorOf(pid, id) { // a cheap first look, without a pidfd
			continue
		}
		p, err := procfs.Open(pid)
		if err != nil {
			continue
		}
		killed := rt.isMonitorOf(pid, id) && p.Signal(unix.SIGKILL) == nil
		if killed {
			p.Wait(5 * time.Second)
		}
		p.Close()
		if killed {
			return pid
		}
	}
	return 0
}

// isMonitorOf reports whether process pid is a monitor of container id
// in this state root: its command line is "monitor --root ROOT ... ID",
// and its program is this one (a command line alone anyone can write).
func (rt *Runtime) isMonitorOf(pid int, id string) bool {
	args := cmdline(pid)
	if len(args) < 4 || args[1] != "monitor" || args[len(args)-1] != id || !hasFlag(args, "--root", rt.State.Root) {
		return false
	}
	return sameProgram(pid)
}

// sameProgram reports whether process pid runs this process's program,
// the same file (a binary replaced since, by a rebuild or an upgrade, is
// another file, whose monitors are not recognized). Rootless, another
// command's monitor is in a sibling user namespace, whose /proc/PID/exe
// we may not read (it needs ptrace access, see ptrace(2)); there the
// kernel already lets us signal only the user's own processes.
func sameProgram(pid int) bool {
	theirs, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if errors.Is(err, fs.ErrPermission) && rootless.Inside() {
		return true
	}
	if err != nil {
		return false
	}
	ours, err := os.Stat("/proc/self/exe")
	return err == nil && os.SameFile(theirs, ours)
}

// cmdline is the argument list of process pid; nil if it has ended.
func cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// hasFlag reports whether args hold flag followed by value.
func hasFlag(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

// anyExists reports whether any of paths exists.
func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// mountsUnder lists this namespace's mount points at or below dir,
// deepest first.
func mountsUnder(dir string) []string {
	mounts, _ := procfs.Mountinfo("/proc/self/mountinfo")
	var points []string
	for _, m := range mounts {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			points = append(points, m.Point)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	return points
}
