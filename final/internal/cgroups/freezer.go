//go:build linux

// Freezing: every process of a cgroup stopped where it stands, and later
// let go on, which is `pause` and `resume` of an OCI runtime. Unlike
// SIGSTOP, the processes cannot see or undo it. v1 has a freezer
// controller, whose freezer.state is written FROZEN or THAWED and reads
// FREEZING until every task has stopped; v2 has cgroup.freeze in every
// cgroup (kernel 5.2 and later), written 1 or 0, and cgroup.events says
// "frozen 1" once it is done. Either way the write only starts it, so
// Freeze waits for the kernel to report it finished.

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freezeTimeout is how long Freeze waits for the kernel.
const freezeTimeout = 10 * time.Second

// Freeze freezes (or thaws) the v1 cgroup through freezer.state. A task
// that cannot be frozen where it is (in the middle of an execve that
// waits for its other threads, or a vfork) keeps the cgroup FREEZING;
// as runc does, the freeze is let go and asked again every 50 tries,
// which lets such a task move on. If it never completes, the cgroup is
// thawed again, so that nothing stays half frozen.
func (c *v1) Freeze(frozen bool) error {
	dir := c.dirs["freezer"]
	if dir == "" {
		return fmt.Errorf("cgroup v1: no freezer directory for %s: mount the freezer controller at %s/freezer", c.name, Root)
	}
	file := filepath.Join(dir, "freezer.state")
	if !frozen {
		return setAndWait(file, "THAWED")
	}
	for try, deadline := 0, time.Now().Add(freezeTimeout); time.Now().Before(deadline); try++ {
		if try%50 == 49 {
			if err := setAndWait(file, "THAWED"); err != nil {
				return err
			}
		}
		if err := writeFile(file, "FROZEN"); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
		if data, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(data)) == "FROZEN" {
			return nil
		}
	}
	return errors.Join(fmt.Errorf("%s: still FREEZING after %s", file, freezeTimeout), setAndWait(file, "THAWED"))
}

// setAndWait writes state to freezer.state and waits until it reads so.
func setAndWait(file, state string) error {
	if err := writeFile(file, state); err != nil {
		return err
	}
	return waitFor(file, func(s string) bool { return s == state })
}

// Frozen reports whether freezer.state is FROZEN, or FREEZING: frozen in
// part, which must be thawed as well before its processes can die.
func (c *v1) Frozen() bool {
	if c.dirs["freezer"] == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(c.dirs["freezer"], "freezer.state"))
	return err == nil && strings.TrimSpace(string(data)) != "THAWED"
}

// Freeze freezes (or thaws) the v2 cgroup through cgroup.freeze.
func (c *v2) Freeze(frozen bool) error {
	value, want := "0", "frozen 0"
	if frozen {
		value, want = "1", "frozen 1"
	}
	if err := writeFile(filepath.Join(c.dir, "cgroup.freeze"), value); err != nil {
		return err
	}
	return waitFor(filepath.Join(c.dir, "cgroup.events"), func(s string) bool { return hasLine(s, want) })
}

// Frozen reads "frozen" in cgroup.events.
func (c *v2) Frozen() bool {
	n, ok := keyedValue(filepath.Join(c.dir, "cgroup.events"), "frozen")
	return ok && n == 1
}

// waitFor reads file every millisecond until done says its content is
// what was asked for, for up to freezeTimeout.
func waitFor(file string, done func(string) bool) error {
	var last string
	for deadline := time.Now().Add(freezeTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		if last = strings.TrimSpace(string(data)); done(last) {
			return nil
		}
	}
	return fmt.Errorf("%s still reads %q after %s", file, last, freezeTimeout)
}

// hasLine reports whether text has the line want.
func hasLine(text, want string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}
