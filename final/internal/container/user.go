//go:build linux

// --user: a name or uid, with an optional group, looked up in the
// container's own /etc/passwd and /etc/group (never the host's), after
// pivot_root. As Docker, a numeric uid need not exist in /etc/passwd.

package container

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// identity is who the command runs as.
type identity struct {
	uid, gid int
	groups   []int
	home     string
}

// lookupUser resolves "name", "uid", "name:group" or "uid:gid" in the
// container's /etc files; "" is root.
func lookupUser(spec string) (identity, error) {
	id := identity{home: "/root"}
	if spec == "" {
		return id, nil
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	found := false
	for _, f := range readColonFile("/etc/passwd", 7) {
		if f[0] == userPart || f[2] == userPart {
			id.uid, _ = strconv.Atoi(f[2])
			id.gid, _ = strconv.Atoi(f[3])
			id.home, found = f[5], true
			break
		}
	}
	if !found {
		n, err := strconv.Atoi(userPart)
		if err != nil || n < 0 {
			return id, fmt.Errorf("unable to find user %s: no matching entries in the container's /etc/passwd", userPart)
		}
		id.uid, id.gid, id.home = n, n, "/"
	}
	if hasGroup {
		gid, err := lookupGroup(groupPart)
		if err != nil {
			return id, err
		}
		id.gid = gid
	}
	id.groups = supplementaryGroups(userPart, id.gid)
	return id, nil
}

// lookupGroup resolves a group name or gid in the container's /etc/group.
func lookupGroup(group string) (int, error) {
	for _, f := range readColonFile("/etc/group", 4) {
		if f[0] == group || f[2] == group {
			return strconv.Atoi(f[2])
		}
	}
	n, err := strconv.Atoi(group)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("unable to find group %s: no matching entries in the container's /etc/group", group)
	}
	return n, nil
}

// supplementaryGroups lists the gids of the groups that name user as a member.
func supplementaryGroups(user string, primary int) []int {
	groups := []int{primary}
	for _, f := range readColonFile("/etc/group", 4) {
		for _, member := range strings.Split(f[3], ",") {
			if member == user {
				if gid, err := strconv.Atoi(f[2]); err == nil && gid != primary {
					groups = append(groups, gid)
				}
			}
		}
	}
	return groups
}

// readColonFile reads a passwd-style file into its lines' fields; lines
// with fewer than n fields are skipped. A missing file reads as empty.
func readColonFile(path string, n int) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Split(s.Text(), ":"); len(fields) >= n {
			out = append(out, fields)
		}
	}
	return out
}

// become switches the whole process to id. syscall.Setuid and friends
// change every thread (Go's runtime does that, stopping each thread in
// turn), and leaving uid 0 clears the permitted and effective
// capabilities, as capabilities(7) says. A call that would change nothing,
// as for root staying root, is skipped.
func become(id identity) error {
	if !hasGroups(id.groups) {
		if err := syscall.Setgroups(id.groups); err != nil {
			return fmt.Errorf("setgroups %v: %w", id.groups, err)
		}
	}
	if r, e, s := unix.Getresgid(); r != id.gid || e != id.gid || s != id.gid {
		if err := syscall.Setresgid(id.gid, id.gid, id.gid); err != nil {
			return fmt.Errorf("setgid %d: %w", id.gid, err)
		}
	}
	if r, e, s := unix.Getresuid(); r != id.uid || e != id.uid || s != id.uid {
		if err := syscall.Setresuid(id.uid, id.uid, id.uid); err != nil {
			return fmt.Errorf("setuid %d: %w", id.uid, err)
		}
	}
	return nil
}

// hasGroups reports whether the process's supplementary groups are groups.
func hasGroups(groups []int) bool {
	current, err := unix.Getgroups()
	if err != nil || len(current) != len(groups) {
		return false
	}
	for i := range current {
		if current[i] != groups[i] {
			return false
		}
	}
	return true
}
