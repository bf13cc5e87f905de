//go:build linux

// Namespaces: each type the runtime and the steps create must be built
// into the kernel (it then shows in /proc/self/ns) and not switched off by
// its user.max_*_namespaces sysctl; and, for rootless use only,
// unprivileged users must be allowed to create user namespaces.

package doctor

import (
	"fmt"
	"os"
	"strings"
)

// namespaceTypes are the namespaces used, with their kernel config option.
var namespaceTypes = []struct{ name, sysctl, config string }{
	{"uts", "uts", "CONFIG_UTS_NS"},
	{"pid", "pid", "CONFIG_PID_NS"},
	{"mnt", "mnt", ""}, // always built in
	{"ipc", "ipc", "CONFIG_IPC_NS"},
	{"net", "net", "CONFIG_NET_NS"},
	{"user", "user", "CONFIG_USER_NS"},
	{"cgroup", "cgroup", "CONFIG_CGROUPS"},
}

// checkNamespaces makes one check per namespace type.
func (s system) checkNamespaces() []Check {
	var checks []Check
	for _, ns := range namespaceTypes {
		c := Check{Name: ns.name + " namespace"}
		if _, err := os.Lstat(s.path("/proc/self/ns/" + ns.name)); err != nil {
			c.Detail = fmt.Sprintf("/proc/self/ns/%s is missing: the kernel was built without %s namespaces", ns.name, ns.name)
			c.Fix = fmt.Sprintf("use a kernel built with %s=y (every distribution kernel is)", ns.config)
			checks = append(checks, c)
			continue
		}
		max, err := s.read("/proc/sys/user/max_" + ns.sysctl + "_namespaces")
		if err == nil && max == "0" {
			c.Detail = fmt.Sprintf("user.max_%s_namespaces is 0: nobody may create one", ns.sysctl)
			c.Fix = fmt.Sprintf("sudo sysctl -w user.max_%s_namespaces=15000 (and remove the setting from /etc/sysctl.d to keep it)", ns.sysctl)
			checks = append(checks, c)
			continue
		}
		c.OK = true
		c.Detail = "available"
		if max != "" {
			c.Detail += ", up to " + max
		}
		checks = append(checks, c)
	}
	return checks
}

// checkUnprivilegedUserns tells whether a user without root may create a
// user namespace. Root (minidocker, the steps, --userns) is not affected.
func (s system) checkUnprivilegedUserns() Check {
	c := Check{Name: "unprivileged user namespaces"}
	const note = " (matters only for running without root; as root, --userns works either way)"
	if v, err := s.read("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == "0" {
		c.Detail = "kernel.unprivileged_userns_clone is 0: only root may create user namespaces" + note
		c.Fix = "sudo sysctl -w kernel.unprivileged_userns_clone=1"
		return c
	}
	if v, err := s.read("/proc/sys/user/max_user_namespaces"); err == nil && v == "0" {
		c.Detail = "user.max_user_namespaces is 0" + note
		c.Fix = "sudo sysctl -w user.max_user_namespaces=15000"
		return c
	}
	if v, err := s.read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && v == "1" {
		c.Detail = "AppArmor restricts them (kernel.apparmor_restrict_unprivileged_userns=1, the Ubuntu 24.04 default): " +
			"an unconfined program gets a user namespace without capabilities" + note
		c.Fix = "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or give the program an AppArmor profile with \"userns,\")"
		return c
	}
	c.OK = true
	c.Detail = "allowed"
	return c
}

// hasWord reports whether a space-separated list holds word.
func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}
