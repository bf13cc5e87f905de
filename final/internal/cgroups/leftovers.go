//go:build linux

// What killed steps leave. A step (step05-cgroups on) names its cgroup
// after its own pid, PARENT/stepNN-PID, and removes it when it ends; killed
// with SIGKILL, it cannot, and its container dies with it (the parent-death
// signal, and the end of its PID namespace), which leaves the cgroup empty.
// Such a cgroup is recognised by its name and by its pid being gone (or
// a zombie: procfs.Ended), and only rmdir touches it: rmdir removes
// nothing but an empty cgroup, so a cgroup that still holds a process,
// whoever it is, stays as it is.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// stepCgroup matches the names the steps give their cgroups.
var stepCgroup = regexp.MustCompile(`^step\d\d-(\d+)$`)

// RemoveStepLeftovers removes the empty cgroups that killed steps left
// under parent, on both versions, and the default parent once it is empty;
// it returns the directories it removed. It never kills: a cgroup that
// keeps a process for a second stays.
func RemoveStepLeftovers(parent string) ([]string, error) {
	if err := CheckParent(parent); err != nil {
		return nil, err
	}
	pattern := filepath.Join(Root, "*", parent, "step*") // one tree per controller
	if IsV2() {
		pattern = filepath.Join(Root, parent, "step*")
	}
	dirs, _ := filepath.Glob(pattern)
	var removed []string
	var errs []error
	for _, dir := range dirs {
		if !stepLeftover(dir) {
			continue
		}
		if err := rmdirWhenEmpty(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
		removeParent(parent, filepath.Dir(dir))
	}
	return removed, errors.Join(errs...)
}

// stepLeftover reports whether dir is a step's cgroup whose step is gone.
func stepLeftover(dir string) bool {
	m := stepCgroup.FindStringSubmatch(filepath.Base(dir))
	if m == nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return false // not a cgroup
	}
	pid, _ := strconv.Atoi(m[1])
	return pid > 0 && procfs.Ended(pid)
}

// rmdirWhenEmpty removes a cgroup, waiting up to a second for the
// processes of a container that is dying to leave it.
func rmdirWhenEmpty(dir string) error {
	err := rmdirPolling(dir, time.Second, nil)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w: a process is still in it, so it was left as it is", err)
	}
	return err
}
