//go:build linux

// Mounts: the single wrapper through which this program calls mount(2), and
// the host side's look at its own mount table. A mount made inside a new
// mount namespace stays there only if propagation says so: a "shared" mount
// passes new mounts on to its peers, which may be in the host's namespace.
// checkPropagation compares the host's table before and after the container
// ran, so the learner sees whether anything came back.

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlagNames are the mount(2) flags this program uses, for narration.
var mountFlagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"}, {unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"}, {unix.MS_REC, "MS_REC"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"},
}

// mount calls mount(2), narrates it, and names every argument in its error.
func mount(source, target, fstype string, flags uintptr, data string) error {
	container("mount(%q, %q, %q, %s, %q)", source, target, fstype, flagString(flags), data)
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s (type %q, flags %s, data %q): %w",
			source, target, fstype, flagString(flags), data, err)
	}
	return nil
}

// flagString spells mount flags by their kernel names, e.g. MS_REC|MS_PRIVATE.
func flagString(flags uintptr) string {
	var names []string
	for _, f := range mountFlagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// mountEntry is one line of /proc/self/mountinfo, see proc(5).
type mountEntry struct {
	id, target, fstype, optional string
}

// mountTable reads this process's mount table.
func mountTable() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var table []mountEntry
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(scanner.Text())
		sep := indexOf(fields, "-")
		if len(fields) < 7 || sep < 6 || sep+1 >= len(fields) {
			continue
		}
		table = append(table, mountEntry{
			id: fields[0], target: fields[4], fstype: fields[sep+1],
			optional: strings.Join(fields[6:sep], " "),
		})
	}
	return table, scanner.Err()
}

// indexOf returns the index of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// mountIDs returns the ids of the mounts the host has now.
func mountIDs() (map[string]bool, error) {
	table, err := mountTable()
	if err != nil {
		return nil, fmt.Errorf("read the host's mount table: %w", err)
	}
	ids := make(map[string]bool, len(table))
	for _, m := range table {
		ids[m.id] = true
	}
	return ids, nil
}

// rootPropagation tells whether / on the host is shared (and with which
// peer group) or private.
func rootPropagation() string {
	table, _ := mountTable()
	propagation := "unknown"
	for _, m := range table {
		if m.target == "/" { // the last entry for / is the one on top
			propagation = m.optional
			if propagation == "" {
				propagation = "private"
			}
		}
	}
	return propagation
}

// checkPropagation reports mounts that appeared on the host while the
// container ran. With --no-private they are the container's own mounts
// come back, and are unmounted; otherwise they belong to someone else and
// are left alone.
func checkPropagation(before map[string]bool, removeLeaks bool) error {
	table, err := mountTable()
	if err != nil {
		return fmt.Errorf("read the host's mount table: %w", err)
	}
	var leaked []mountEntry
	for _, m := range table {
		if !before[m.id] {
			leaked = append(leaked, m)
		}
	}
	if len(leaked) == 0 {
		host("the host's mount table is unchanged: no mount propagated back")
		return nil
	}
	// Newest first, so a mount on top goes before the one beneath it;
	// EINVAL means it went already, detached together with its parent.
	for i := len(leaked) - 1; i >= 0; i-- {
		m := leaked[i]
		host("new on the host while the container ran: %s on %s", m.fstype, m.target)
		if !removeLeaks {
			continue
		}
		host("umount2(%q, MNT_DETACH): it propagated from the container", m.target)
		if err := unix.Unmount(m.target, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			return fmt.Errorf("umount %s: %w", m.target, err)
		}
	}
	return nil
}

// mountsUnder lists the host's mount points at or below dir.
func mountsUnder(dir string) []string {
	table, _ := mountTable()
	var found []string
	for _, m := range table {
		if m.target == dir || strings.HasPrefix(m.target, dir+"/") {
			found = append(found, m.target)
		}
	}
	return found
}
