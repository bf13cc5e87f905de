//go:build linux

// Package cgroups gives each container a control group: the kernel counts
// what the container's processes use and holds them to its limits.
//
// Two versions of cgroups exist, and a host uses one or the other:
//
//   - v1 (older hosts): one tree per controller, /sys/fs/cgroup/<controller>;
//     a container gets a directory in each tree: memory/minidocker/<id>, …
//   - v2 (the lab VM, current distros): one tree at /sys/fs/cgroup; a parent
//     hands controllers to its children through cgroup.subtree_control, and
//     only leaves hold processes.
//
// Both sit behind one Manager interface (step05-cgroups is the teaching
// version). IsV2 is the one place that decides which one a host runs, by
// the type of the filesystem at /sys/fs/cgroup: New (a new cgroup) and Load
// (an existing one) pick v1.go or v2.go by it, RemoveStepLeftovers where
// to look.
// Every container's cgroup lives under an absolute parent (/minidocker by
// default), never under the cgroup of whoever runs minidocker.
//
// Which cgroups are minidocker's. A parent is shared: by the containers of
// every state root, by the steps, and (with --cgroup-parent) by whatever
// else the host keeps there. cgroupfs takes no files of ours, so no mark
// can sit on a cgroup; what is ours is known from the container records
// instead. A container's cgroup is exactly PARENT/ID, where both come from
// its record (the parent is recorded when the container is created), and
// only that directory is ever entered, killed or removed: nothing here
// lists a parent's children to kill or remove them. A parent itself is
// never killed; it is removed, when empty, only if it is DefaultParent,
// minidocker's by name; a parent named with --cgroup-parent is the user's
// and stays, as with Docker. CheckParent refuses a parent that would reach
// outside a tree of its own: "/", a relative path, "..". The one thing
// found by name is what a killed step leaves (RemoveStepLeftovers): an
// empty cgroup that only rmdir touches.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
	"github.com/minidocker/minidocker/final/internal/procfs"
)

// Root is where the cgroup filesystems are mounted.
const Root = "/sys/fs/cgroup"

// DefaultParent is the cgroup under which every container gets its own.
const DefaultParent = "/minidocker"

// Stats is what `minidocker stats` shows, read from the cgroup's files.
type Stats struct {
	CPUNanos    uint64 // CPU time used by all processes, ever
	MemoryUsage uint64 // bytes in use now
	MemoryLimit uint64 // bytes, 0 when unlimited
	Pids        uint64 // processes and threads now
}

// Manager is one container's cgroup, on whichever version the host runs.
type Manager interface {
	// Version is 1 or 2.
	Version() int
	// Paths are the cgroup's directories (one per controller on v1).
	Paths() []string
	// Apply moves a process, and so all it will start, into the cgroup.
	Apply(pid int) error
	// OOMKilled reports whether the kernel's OOM killer killed a process here.
	OOMKilled() bool
	// Stats reads the current usage.
	Stats() (Stats, error)
	// Pids lists the processes in the cgroup.
	Pids() ([]int, error)
	// Freeze stops every process in the cgroup (true) or lets them go on
	// (false), and returns once the kernel says it is done (freezer.go).
	Freeze(frozen bool) error
	// Frozen reports whether the cgroup is frozen.
	Frozen() bool
	// Destroy kills what is left in the cgroup and removes its directories.
	Destroy() error
}

// IsV2 reports whether /sys/fs/cgroup is the unified (v2) hierarchy; the
// one test of the version, which everything else asks.
func IsV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// New makes the cgroup parent/name with the limits r; restrictDevices
// limits device access to Docker's default list (see devices.go).
// On failure nothing is left behind.
func New(parent, name string, r Resources, restrictDevices bool) (Manager, error) {
	if err := CheckParent(parent); err != nil {
		return nil, fmt.Errorf("cgroup parent %q: %w", parent, err)
	}
	if !validName(name) {
		return nil, fmt.Errorf("cgroup name %q: must be one path component", name)
	}
	if restrictDevices {
		r.DeviceRules = devices.Default
	}
	if IsV2() {
		return newV2(parent, name, r)
	}
	return newV1(parent, name, r)
}

// NewPath makes the cgroup at path, whole, as an OCI config's
// cgroupsPath names it: the caller of an OCI runtime chooses where its
// containers go, and may name a cgroup right under the root ("/box").
// Only the cgroup itself is ever removed (and DefaultParent, as always).
func NewPath(path string, r Resources) (Manager, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	parent, name := filepath.Dir(path), filepath.Base(path)
	if IsV2() {
		return newV2(parent, name, r)
	}
	return newV1(parent, name, r)
}

// LoadPath is Load for a cgroup NewPath made.
func LoadPath(path string) Manager {
	if checkPath(path) != nil {
		return Load("", "")
	}
	parent, name := filepath.Dir(path), filepath.Base(path)
	if IsV2() {
		return &v2{dir: filepath.Join(Root, parent, name), parent: parent}
	}
	return loadV1(parent, name)
}

// RemoveEmptyParents removes the empty directories between path's parent
// and DefaultParent, in every hierarchy: what a relative cgroupsPath
// ("a/b", placed under DefaultParent) made above its own cgroup. Nothing
// outside DefaultParent is touched, and a directory still in use stays
// (rmdir fails with EBUSY).
func RemoveEmptyParents(path string) {
	roots := []string{Root}
	if !IsV2() {
		roots, _ = filepath.Glob(filepath.Join(Root, "*"))
	}
	for dir := filepath.Dir(path); strings.HasPrefix(dir, DefaultParent+"/") || dir == DefaultParent; dir = filepath.Dir(dir) {
		for _, root := range roots {
			_ = unix.Rmdir(filepath.Join(root, dir))
		}
	}
}

// checkPath refuses a cgroup path that is not absolute, clean and below the root.
func checkPath(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || path == "/" || strings.Contains(path, "/../") {
		return fmt.Errorf("cgroup path %q: must be an absolute, clean path below the root cgroup, like %s/box", path, DefaultParent)
	}
	return nil
}

// CheckParent refuses a cgroup parent that is not a tree of its own: a
// relative path, "/" (the root cgroup holds every process on the host),
// one with ".." or "." (it could name a cgroup outside the parent, or a
// directory outside /sys/fs/cgroup), or one not written in its clean form.
func CheckParent(parent string) error {
	switch {
	case !strings.HasPrefix(parent, "/"):
		return fmt.Errorf("must be an absolute cgroup path, like %s", DefaultParent)
	case strings.Trim(parent, "/") == "":
		return fmt.Errorf("the root cgroup holds every process on the host: name a cgroup of its own, like %s", DefaultParent)
	}
	for _, part := range strings.Split(parent[1:], "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("%q is not allowed in a cgroup path: name the cgroup directly, like %s", part, DefaultParent)
		}
	}
	if clean := filepath.Clean(parent); clean != parent {
		return fmt.Errorf("write it as %s", clean)
	}
	return nil
}

// validName reports whether name is one path component, as a container id is.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// Load returns the manager of an existing cgroup parent/name, for stats
// and removal; its directories need not exist any more. A parent or name
// that CheckParent or validName refuses (a damaged record) names no
// cgroup: the manager then has no directory, and Destroy does nothing.
func Load(parent, name string) Manager {
	ok := CheckParent(parent) == nil && validName(name)
	if IsV2() {
		if !ok {
			return &v2{}
		}
		return &v2{dir: filepath.Join(Root, parent, name), parent: parent}
	}
	if !ok {
		return &v1{dirs: map[string]string{}}
	}
	return loadV1(parent, name)
}

// removeParent removes a container's parent directory dir once no other
// container uses it, if the parent is DefaultParent: only that one is
// minidocker's by name (see the package comment).
func removeParent(parent, dir string) {
	if parent == DefaultParent {
		_ = unix.Rmdir(dir) // EBUSY while others use it: fine
	}
}

// removeDir removes one cgroup directory, killing what is still in it and
// waiting (up to 3 s) for the kernel to release a container that just
// died. The wait polls every millisecond: the release usually takes less,
// and every command that removes a container waits for it.
func removeDir(dir string) error {
	return rmdirPolling(dir, 3*time.Second, func(try int) {
		if try%200 == 0 {
			killAll(dir)
		}
	})
}

// rmdirPolling removes a cgroup directory, retrying every millisecond
// while the kernel answers EBUSY (processes still in it), for up to
// timeout; busy, if not nil, is called before each wait.
func rmdirPolling(dir string, timeout time.Duration, busy func(try int)) error {
	var err error
	for try := 0; try < int(timeout/time.Millisecond); try++ {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		if busy != nil {
			busy(try)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("rmdir %s: %w", dir, err)
}

// killAll SIGKILLs the processes listed in a cgroup of ours.
func killAll(dir string) {
	_ = signalListed(func() ([]int, error) { return readPids(dir) }, unix.SIGKILL)
}

// Signal sends sig to every process in the cgroup m (for `kill --all`).
func Signal(m Manager, sig unix.Signal) error {
	return signalListed(m.Pids, sig)
}

// signalListed sends sig to the processes that list (a cgroup.procs)
// names. A listed process may exit, and its pid be reused by someone
// else's, before the signal: so each pid is opened as a pidfd first,
// the list is read again, and only those still in it are signalled,
// through their pidfd. A pid listed after its open is that process, or
// that process has ended and the signal reaches nobody (procfs/signal.go).
func signalListed(list func() ([]int, error), sig unix.Signal) error {
	pids, err := list()
	if err != nil {
		return err
	}
	var opened []*procfs.Process
	for _, pid := range pids {
		if p, err := procfs.Open(pid); err == nil {
			opened = append(opened, p)
			defer p.Close()
		}
	}
	still, err := list()
	if err != nil {
		return err
	}
	for _, p := range opened {
		if !slices.Contains(still, p.Pid) {
			continue
		}
		if err := p.Signal(sig); err != nil && !errors.Is(err, procfs.ErrGone) {
			return err
		}
	}
	return nil
}

// readPids reads a cgroup's cgroup.procs.
func readPids(dir string) ([]int, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("cgroup directory %q: not an absolute path", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// writeFile writes one value to an existing cgroup file; the error names
// both. It never creates a file: a missing one means a missing controller.
func writeFile(path, value string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("write %q to %s: not an absolute path", value, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		_, err = f.WriteString(value)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}

// readUint reads a file holding one number ("max" reads as 0).
func readUint(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil || !filepath.IsAbs(path) {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n
}

// keyedValue reads "key value" lines (memory.events, memory.stat, cpu.stat).
func keyedValue(path, key string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil || !filepath.IsAbs(path) {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			n, err := strconv.ParseUint(f[1], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// mkdirUnder makes dir inside parent, making parent too; once more if
// another container's cleanup removed the empty parent in between.
func mkdirUnder(parent, dir string) error {
	var err error
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(parent, 0o755); err == nil {
			if err = os.Mkdir(dir, 0o755); os.IsExist(err) {
				err = nil // an OCI caller may name a cgroup that exists: join it
			}
			if !os.IsNotExist(err) {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return nil
}

// hasWord reports whether a space-separated list contains word.
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}
