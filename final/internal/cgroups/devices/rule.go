//go:build linux

// Package devices is the device controller of a cgroup: which device
// nodes the processes in it may make (mknod) and open for reading or
// writing. A root process inside a container holds CAP_MKNOD, so it can
// make a node for the host's disk wherever it can write; the rules are
// what keep it from opening that node.
//
// The rules are the same on both cgroup versions: a list, read in order,
// where the last rule that matches an access decides it, and an access
// no rule matches is denied. On v1 the list is written line by line to
// devices.allow and devices.deny (cgroups/v1.go). On v2 there are no such
// files: the kernel runs an eBPF program attached to the cgroup at every
// mknod and open of a device node, and the program's return value is the
// answer. program.go compiles the list into that program, load.go loads
// and attaches it with bpf(2).
package devices

import (
	"fmt"
	"strconv"
	"strings"
)

// Wildcard is a major or minor number that matches every number ("*").
const Wildcard = -1

// Rule is one line of a device list, as devices.allow spells it:
// "c 1:3 rwm" allows the character device 1:3 (/dev/null) to be read,
// written and made.
type Rule struct {
	Allow        bool
	Type         byte   // 'c' character, 'b' block, 'a' both
	Major, Minor int64  // Wildcard for any
	Access       string // a subset of "rwm"
}

// Check refuses a rule the kernel could not hold: an unknown type, access
// letters other than r, w and m, numbers beyond 32 bits.
func (r Rule) Check() error {
	switch {
	case r.Type != 'a' && r.Type != 'b' && r.Type != 'c':
		return fmt.Errorf("device type %q: want a, b or c", r.Type)
	case strings.Trim(r.Access, "rwm") != "" || r.Access == "":
		return fmt.Errorf("device access %q: want letters of rwm", r.Access)
	case r.Major < Wildcard || r.Major > 1<<32-1 || r.Minor < Wildcard || r.Minor > 1<<32-1:
		return fmt.Errorf("device number %d:%d: want 0 to 4294967295, or *", r.Major, r.Minor)
	}
	return nil
}

// String is the rule as devices.allow and devices.deny read it.
func (r Rule) String() string {
	number := func(n int64) string {
		if n == Wildcard {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, number(r.Major), number(r.Minor), r.Access)
}

// DenyAll is the rule every list starts from: no device, no access.
var DenyAll = Rule{Allow: false, Type: 'a', Major: Wildcard, Minor: Wildcard, Access: "rwm"}

// Default is Docker's default device list: any node may be made (m), but
// only these may be opened (rw): null, zero, full, random, urandom, tty,
// console, ptmx, the pseudo-terminals, and net/tun.
var Default = []Rule{
	DenyAll,
	allow('c', Wildcard, Wildcard, "m"), allow('b', Wildcard, Wildcard, "m"),
	allow('c', 1, 3, "rwm"), allow('c', 1, 5, "rwm"), allow('c', 1, 7, "rwm"), // null zero full
	allow('c', 1, 8, "rwm"), allow('c', 1, 9, "rwm"), // random urandom
	allow('c', 5, 0, "rwm"), allow('c', 5, 1, "rwm"), allow('c', 5, 2, "rwm"), // tty console ptmx
	allow('c', 136, Wildcard, "rwm"), // pts/N
	allow('c', 10, 200, "rwm"),       // net/tun
}

// allow is an allowing rule, for Default.
func allow(typ byte, major, minor int64, access string) Rule {
	return Rule{Allow: true, Type: typ, Major: major, Minor: minor, Access: access}
}

// Allows reports what the list decides for one access, the way the
// kernel's v1 controller and the v2 program do: the last rule that matches
// decides, and nothing matching is a denial. An allow rule matches an
// access it covers whole ("r" for a read); a deny rule matches one it
// touches at all (a deny of "w" refuses a read-write open). typ is 'b' or
// 'c', access one or more of "rwm".
func Allows(rules []Rule, typ byte, major, minor uint32, access string) bool {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].matches(typ, major, minor, access) {
			return rules[i].Allow
		}
	}
	return false
}

// matches reports whether r decides this access (see Allows).
func (r Rule) matches(typ byte, major, minor uint32, access string) bool {
	if r.Type != 'a' && r.Type != typ {
		return false
	}
	if (r.Major != Wildcard && r.Major != int64(major)) || (r.Minor != Wildcard && r.Minor != int64(minor)) {
		return false
	}
	if r.Allow {
		return strings.Trim(access, r.Access) == ""
	}
	return strings.ContainsAny(access, r.Access)
}
