//go:build linux

package oci

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups/devices"
	"github.com/minidocker/minidocker/final/internal/rootfs"
)

func TestCgroupPath(t *testing.T) {
	cases := []struct{ path, want, err string }{
		{"", "/minidocker/box", ""},
		{"/libpod_parent/libpod-box", "/libpod_parent/libpod-box", ""},
		{"/cgrouptest", "/cgrouptest", ""},
		{"testdir/cgrouptest", "/minidocker/testdir/cgrouptest", ""},
		{"machine.slice:libpod:box", "", "systemd"},
		{"/a/../b", "", "clean path"},
		{"/", "", "clean path"},
	}
	for _, c := range cases {
		cfg := &specs.Spec{Linux: &specs.Linux{CgroupsPath: c.path}}
		got, err := CgroupPath(cfg, "box")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("CgroupPath(%q): %q, %v; want an error about %s", c.path, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CgroupPath(%q) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	o := rootfs.ParseOptions([]string{"nosuid", "ro", "rw", "rbind", "rslave", "mode=755", "size=65536k", "tmpcopyup"})
	if o.Flags != unix.MS_NOSUID|unix.MS_BIND|unix.MS_REC {
		t.Errorf("flags %#x: want MS_NOSUID|MS_BIND|MS_REC (rw clears ro)", o.Flags)
	}
	if o.Propagation != unix.MS_SLAVE|unix.MS_REC || o.Data != "mode=755,size=65536k" {
		t.Errorf("propagation %#x, data %q", o.Propagation, o.Data)
	}
}

// TestDeviceRules checks the config's device list as the cgroup gets it:
// from nothing, the config's rules, then the default devices.
func TestDeviceRules(t *testing.T) {
	major, minor := int64(8), int64(0)
	rules, err := deviceRules([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ          byte
		major, minor uint32
		access       string
		want         bool
	}{
		{'b', 8, 0, "r", true}, {'b', 8, 0, "w", false}, {'b', 8, 1, "r", false},
		{'b', 8, 1, "m", true}, {'c', 1, 3, "rw", true}, {'c', 1, 1, "r", false},
	} {
		if got := devices.Allows(rules, c.typ, c.major, c.minor, c.access); got != c.want {
			t.Errorf("%c %d:%d %s: allowed %v, want %v", c.typ, c.major, c.minor, c.access, got, c.want)
		}
	}
	if rules, _ := deviceRules(nil); !devices.Allows(rules, 'c', 1, 3, "rw") || devices.Allows(rules, 'b', 8, 0, "r") {
		t.Error("a config without device rules must get the default devices, and nothing more")
	}
	for _, bad := range []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}, {Type: "bc"}, {Type: "b", Access: "rx"}} {
		if _, err := deviceRules([]specs.LinuxDeviceCgroup{bad}); err == nil {
			t.Errorf("device rule %+v: accepted, want an error", bad)
		}
	}
}
