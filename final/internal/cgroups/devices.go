//go:build linux

// Device access. A root process inside a container could mknod the host's
// disk and read it raw; Docker stops that with device rules in the cgroup
// (the list and its meaning are in the devices package). On v1 the rules
// are lines in devices.deny and devices.allow; on v2 they are an eBPF
// program attached to the cgroup (devices.Attach). minidocker also keeps
// every filesystem a container can write to nodev (internal/rootfs), so a
// node made there cannot be opened at all; the rules are what holds when a
// container can mount a filesystem of its own (--cap-add SYS_ADMIN) or an
// OCI config mounts /dev without nodev, as runc's default config does.

package cgroups

import (
	"path/filepath"

	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
)

// writeDevicesV1 writes the rules in order, each to devices.allow or
// devices.deny.
func writeDevicesV1(dir string, rules []devices.Rule) error {
	for _, rule := range rules {
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := writeFile(filepath.Join(dir, file), rule.String()); err != nil {
			return err
		}
	}
	return nil
}
