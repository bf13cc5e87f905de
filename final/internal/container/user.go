//go:build linux

// --user: a name or uid, with an optional group, looked up in the
// container's own /etc/passwd and /etc/group (never the host's), after
// pivot_root. As Docker, a numeric uid need not exist in /etc/passwd.

package container

import (
	"bufio"
	"errors"
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
	found, err := lookupPasswd(userPart, &id)
	if err != nil {
		return id, err
	}
	if !found {
		n, err := parseID(userPart)
		if errors.Is(err, errIDRange) {
			return id, fmt.Errorf("user %s: %w", userPart, err)
		}
		if err != nil {
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
	id.groups, err = supplementaryGroups(userPart, id.gid)
	return id, err
}

// lookupPasswd fills id from the container's /etc/passwd entry whose name
// or uid is user; found is false when there is none.
func lookupPasswd(user string, id *identity) (found bool, err error) {
	for _, f := range readColonFile("/etc/passwd", 7) {
		if f[0] != user && f[2] != user {
			continue
		}
		if id.uid, err = parseID(f[2]); err == nil {
			id.gid, err = parseID(f[3])
		}
		if err != nil {
			return false, fmt.Errorf("user %s in the container's /etc/passwd: %w", user, err)
		}
		id.home = f[5]
		return true, nil
	}
	return false, nil
}

// maxID is the highest uid or gid there is: 2^32-1 is (uid_t)-1, which
// setresuid(2) takes as "leave this one unchanged".
const maxID = 1<<32 - 2

// errIDRange is Docker's message for a uid or gid out of range.
var errIDRange = fmt.Errorf("uids and gids must be in range 0-%d", maxID)

// parseID reads a decimal uid or gid. One out of range is refused, never
// truncated: the kernel's uid_t has 32 bits, so 4294967296 would be 0, root.
func parseID(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) || (err == nil && (n < 0 || n > maxID)) {
		return 0, errIDRange
	}
	return int(n), err
}

// CheckUser refuses a user spec ("uid:gid", "name:gid", ...) with a
// numeric uid or gid out of range, so that run and exec fail before
// anything is made. Names are looked up, and checked, inside.
func CheckUser(spec string) error {
	user, group, _ := strings.Cut(spec, ":")
	for _, part := range []string{user, group} {
		if _, err := parseID(part); errors.Is(err, errIDRange) {
			return fmt.Errorf("user %q: %w", spec, err)
		}
	}
	return nil
}

// lookupGroup resolves a group name or gid in the container's /etc/group.
func lookupGroup(group string) (int, error) {
	for _, f := range readColonFile("/etc/group", 4) {
		if f[0] == group || f[2] == group {
			gid, err := parseID(f[2])
			if err != nil {
				return 0, fmt.Errorf("group %s in the container's /etc/group: %w", group, err)
			}
			return gid, nil
		}
	}
	n, err := parseID(group)
	if errors.Is(err, errIDRange) {
		return 0, fmt.Errorf("group %s: %w", group, err)
	}
	if err != nil {
		return 0, fmt.Errorf("unable to find group %s: no matching entries in the container's /etc/group", group)
	}
	return n, nil
}

// supplementaryGroups lists the gids of the groups that name user as a member.
func supplementaryGroups(user string, primary int) ([]int, error) {
	groups := []int{primary}
	for _, f := range readColonFile("/etc/group", 4) {
		for _, member := range strings.Split(f[3], ",") {
			if member != user {
				continue
			}
			gid, err := parseID(f[2])
			if err != nil {
				return nil, fmt.Errorf("group %s of user %s in the container's /etc/group: %w", f[0], user, err)
			}
			if gid != primary {
				groups = append(groups, gid)
			}
		}
	}
	return groups, nil
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
