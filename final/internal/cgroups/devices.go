//go:build linux

// Device access. A root process inside a container could mknod the host's
// disk and read it raw; Docker stops that with device rules in the cgroup.
// On v1 they are files: "a" in devices.deny, then one line per allowed
// device in devices.allow. On v2 the same rules need an eBPF program
// attached to the cgroup; minidocker makes the same thing true another way
// on both versions (see internal/rootfs: every filesystem a container can
// write to is mounted nodev, and /dev holds only the allowed nodes), and
// adds these rules on v1 as a second lock.

package cgroups

import (
	"path/filepath"
)

// AllowedDevices are Docker's default device rules: any node may be made
// (m), but only these may be opened (rw).
var AllowedDevices = []string{
	"c *:* m", "b *:* m",
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", // null zero full random urandom
	"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", // tty console ptmx pts
	"c 10:200 rwm", // net/tun
}

// restrictDevicesV1 denies every device, then allows Docker's list.
func restrictDevicesV1(dir string) error {
	if err := writeFile(filepath.Join(dir, "devices.deny"), "a"); err != nil {
		return err
	}
	for _, rule := range AllowedDevices {
		if err := writeFile(filepath.Join(dir, "devices.allow"), rule); err != nil {
			return err
		}
	}
	return nil
}
