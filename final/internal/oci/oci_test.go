//go:build linux

package oci

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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
