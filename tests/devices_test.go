// Device rules: which device nodes a container may open. Root inside a
// container holds CAP_MKNOD, so it can make a node for the host's disk;
// nodev keeps such a node useless on the filesystems minidocker mounts,
// but not on a filesystem the container mounts itself (--cap-add
// SYS_ADMIN) or on an OCI config's /dev, which runc's default config
// mounts without nodev. What holds then is the cgroup's device rules:
// lines in devices.allow/deny on v1, an eBPF program attached to the
// cgroup on v2 (final/internal/cgroups/devices). The errno says which
// defence answered: nodev is EACCES, the device rules EPERM.

package tests

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestFinalDeviceRules mounts a tmpfs without nodev inside a container
// and opens a node made there: the host's disk is refused by the rules,
// /dev/null allowed; --privileged has no rules.
func TestFinalDeviceRules(t *testing.T) {
	m := newMD(t)
	disk := hostBlockDevice(t)
	// The disk is only ever opened for reading: that is the leak, and a
	// test should not open a host disk for writing.
	script := fmt.Sprintf("/helper try mount /tmp && /helper try mknod_rw /tmp/null c 1 3 && /helper try mknod_open /tmp/disk %d %d", disk[0], disk[1])
	cmd := []string{"sh", "-c", script}
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--cap-add", "SYS_ADMIN"}, "ok\nread ok write ok\nEPERM"},
		{[]string{"--privileged"}, "ok\nread ok write ok\nok"},
	} {
		if got := attempt(m.on(t), c.flags, cmd); got != c.want {
			t.Errorf("with %v: mount, then open of 1:3 and of the disk %d:%d made on it: %q, want %q", c.flags, disk[0], disk[1], got, c.want)
		}
	}
}

// TestOCIDeviceRules runs bundles whose linux.resources.devices deny
// everything, then allow reading the host's disk, and in the second
// bundle deny reading it after that: the last rule that matches decides.
// (A deny broader than the allow before it, "b *:* r", would not do: v1's
// kernel removes only an exception of exactly that form.) The node is made in /dev, which the default config
// mounts without nodev, with CAP_MKNOD added to the process.
func TestOCIDeviceRules(t *testing.T) {
	r := newOCI(t)
	disk := hostBlockDevice(t)
	major, minor := int64(disk[0]), int64(disk[1])
	allowRead := specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"}
	denyRead := specs.LinuxDeviceCgroup{Allow: false, Type: "b", Major: &major, Minor: &minor, Access: "r"}
	for _, c := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"allowread", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, allowRead}, "read ok write EPERM"},
		{"denyafter", []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, allowRead, denyRead}, "read EPERM write EPERM"},
	} {
		bundle := r.ociBundle(func(cfg *specs.Spec) {
			cfg.Linux.Resources.Devices = c.rules
			caps := []string{"CAP_MKNOD"} // not in the default config's sets
			cfg.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
			cfg.Process.Args = []string{"/helper", "try", "mknod_rw", "/dev/disk", "b", fmt.Sprint(major), fmt.Sprint(minor)}
		})
		if got := strings.TrimSpace(r.must("run", "--bundle", bundle, c.name)); got != c.want {
			t.Errorf("%s: the disk %d:%d made in /dev: %q, want %q", c.name, major, minor, got, c.want)
		}
	}
}
