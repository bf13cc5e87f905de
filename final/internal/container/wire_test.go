//go:build linux

package container

import "testing"

// TestNoNewPrivileges checks that every form Docker accepts for
// no-new-privileges is applied, the last one deciding, and that a value
// that is not a boolean is refused rather than ignored.
func TestNoNewPrivileges(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		want bool
	}{
		{[]string{"no-new-privileges"}, true},
		{[]string{"no-new-privileges=true"}, true},
		{[]string{"no-new-privileges:true"}, true},
		{[]string{"no-new-privileges=1"}, true},
		{[]string{"no-new-privileges", "no-new-privileges=false"}, false},
		{[]string{"seccomp=unconfined"}, false},
		{nil, false},
	} {
		if got := NoNewPrivileges(tc.opts); got != tc.want {
			t.Errorf("NoNewPrivileges(%q) = %v, want %v", tc.opts, got, tc.want)
		}
	}
	if _, ok, err := ParseNoNewPrivileges("no-new-privileges=maybe"); !ok || err == nil {
		t.Errorf("no-new-privileges=maybe: ok %v, err %v; want ok and an error", ok, err)
	}
	if _, ok, _ := ParseNoNewPrivileges("no-new-privilegesX"); ok {
		t.Errorf("no-new-privilegesX was taken for no-new-privileges")
	}
}
