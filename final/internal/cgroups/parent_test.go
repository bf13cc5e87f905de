//go:build linux

package cgroups

import (
	"strings"
	"testing"
)

func TestCheckParent(t *testing.T) {
	for _, tc := range []struct{ parent, wantErr string }{
		{"/minidocker", ""},
		{"/system.slice/my-service", ""},
		{"/", "the root cgroup"},
		{"//", "the root cgroup"},
		{"", "absolute"},
		{"minidocker", "absolute"},
		{"../minidocker", "absolute"},
		{"/..", `".." is not allowed`},
		{"/minidocker/../..", `".." is not allowed`},
		{"/minidocker/./x", `"." is not allowed`},
		{"/minidocker/", "write it as /minidocker"},
		{"/a//b", "write it as /a/b"},
	} {
		err := CheckParent(tc.parent)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("CheckParent(%q) = %v, want an error containing %q", tc.parent, err, tc.wantErr)
		}
	}
}

func TestLoadOfADamagedRecordNamesNoCgroup(t *testing.T) {
	for _, tc := range []struct{ parent, name string }{
		{"/minidocker", ""}, {"/minidocker", ".."}, {"/minidocker", "a/b"}, {"/", "x"}, {"/../..", "x"},
	} {
		m := Load(tc.parent, tc.name)
		for _, p := range m.Paths() {
			if p != "" {
				t.Errorf("Load(%q, %q) names %s", tc.parent, tc.name, p)
			}
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("Load(%q, %q).Destroy() = %v", tc.parent, tc.name, err)
		}
	}
}
