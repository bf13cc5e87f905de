//go:build linux

// main_test.go — the parts of the VM's init that can run on any host: the
// parsing of the kernel command line and of mountinfo. The rest (mounts,
// modules, power off) only makes sense as PID 1 and is exercised by
// vm/selftest inside the VM.

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestReadBootConfig checks the minidocker.* parameters and the "--" cut.
func TestReadBootConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, cmdline string
		want          bootConfig
	}{
		{"defaults", "console=ttyS0 quiet", bootConfig{workdir: "/minidocker"}},
		{"all", "quiet minidocker.deadline=90 minidocker.workdir=" + dir + " minidocker.env=A=1 minidocker.env=B=x=y -- -test.v",
			bootConfig{deadline: 90 * time.Second, workdir: dir, env: []string{"A=1", "B=x=y"}}},
		{"last wins", "minidocker.deadline=90 minidocker.deadline=0", bootConfig{workdir: "/minidocker"}},
		{"missing workdir is ignored", "minidocker.workdir=/does/not/exist", bootConfig{workdir: "/minidocker"}},
		{"test flags are not parameters", "quiet -- minidocker.deadline=5", bootConfig{workdir: "/minidocker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "cmdline")
			if err := os.WriteFile(path, []byte(tt.cmdline+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := readBootConfig(path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readBootConfig(%q) = %+v, want %+v", tt.cmdline, got, tt.want)
			}
		})
	}
}

// TestRootFSType checks that the last mount on / is the one reported.
func TestRootFSType(t *testing.T) {
	tests := []struct{ name, mountinfo, want string }{
		{"initramfs", "1 1 0:2 / / rw - rootfs rootfs rw\n", "rootfs"},
		{"switched", "1 1 0:2 / / rw - rootfs rootfs rw\n" +
			"20 1 0:21 / / rw,relatime shared:1 - tmpfs tmpfs rw\n" +
			"21 20 0:5 / /proc rw - proc proc rw\n", "tmpfs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mountinfo")
			if err := os.WriteFile(path, []byte(tt.mountinfo), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := rootFSType(path)
			if err != nil || got != tt.want {
				t.Errorf("rootFSType = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
