// The escape suite: each attack of issue 17 runs inside a default
// container and must fail for the documented reason, which the test
// asserts by its errno; where a flag lifts the defence, the same attack
// runs with it, to show the test would see success. The table is the one
// in docs/12-user-namespaces.md. Two attacks have tests of their own:
// inherited descriptors (CVE-2024-21626, TestFinalInheritedFilesDoNotReachTheContainer)
// and the symlinked volume target (CVE-2021-30465, TestFinalVolumeTargetStaysInside).

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// escape is one attack: what it runs, what stops it, and what it prints.
type escape struct {
	attack, defence string
	needs           string   // a host path the attack needs; a kernel without it has nothing to defend
	flags           []string // run's flags for the defended case, beyond the default's
	cmd             []string // the command in the container
	want            string   // what it prints when defended (a regular expression)
	lifted          []lift   // flags that lift the defence, and what it prints then
	rootless        string   // what it prints in a rootless container, when not want (TestRootlessEscapes)
}

// lift is a run of an attack with the flags that remove its defence.
type lift struct {
	flags []string
	cmd   []string // another command, when lifting is not a flag
	want  string   // a regular expression; "host": what root on the host gets
	// rootless is what it prints in a rootless container, when not want:
	// there the capability is the user namespace's, not the host's.
	rootless string
}

// try is the helper's command for one attempt (tests/helper/escape.go).
func try(args ...string) []string { return append([]string{"/helper", "try"}, args...) }

// escapes is the table. In a rootless container (the rootless
// columns) a capability added inside is the user namespace's: the
// kernel checks the host's for bpf, open_by_handle_at and mknod, and the
// host's root, who owns /proc/sys, the runtime binary and the volume, is
// nobody there (EACCES before the read-only mount is looked at). The errnos: seccomp answers EPERM before the
// kernel looks at the call; a missing capability is the kernel's own
// EPERM (seen when seccomp=unconfined leaves the capability missing); a
// read-only mount is EROFS; nodev is EACCES at open.
func escapes(t *testing.T, hostOnly, ro string) []escape {
	disk := hostBlockDevice(t)
	unconfined := []string{"--security-opt", "seccomp=unconfined"}
	suid := []string{"sh", "-c", "cp /helper /suid && chmod 4755 /suid && /helper try drop_exec 65534 /suid try euid"}
	return []escape{
		{attack: "keyctl (the host's keyrings)", defence: "seccomp", cmd: try("keyctl"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "ok"}}},
		{attack: "add_key", defence: "seccomp", cmd: try("add_key"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "ok"}}},
		{attack: "bpf (map create)", defence: "seccomp, then CAP_SYS_ADMIN/CAP_BPF", cmd: try("bpf"), want: "EPERM",
			lifted: []lift{{flags: []string{"--cap-add", "SYS_ADMIN"}, want: "ok", rootless: "EPERM"}, {flags: []string{"--privileged"}, want: "ok"}}},
		{attack: "perf_event_open", defence: "seccomp", cmd: try("perf_event_open"), want: "EPERM",
			lifted: []lift{{flags: []string{"--privileged"}, want: "host"}}},
		{attack: "unshare -U (clone a user namespace)", defence: "seccomp", cmd: try("clone_user"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "ok"}}},
		{attack: "unshare -m", defence: "seccomp, then CAP_SYS_ADMIN", cmd: try("unshare_mount"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "EPERM"}, {flags: []string{"--cap-add", "SYS_ADMIN"}, want: "ok"}}},
		{attack: "mount a tmpfs", defence: "seccomp, then CAP_SYS_ADMIN", cmd: try("mount", "/tmp"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "EPERM"}, {flags: []string{"--cap-add", "SYS_ADMIN"}, want: "ok"}}},
		{attack: "kexec_load", defence: "seccomp, then CAP_SYS_BOOT", cmd: try("kexec_load"), want: "EPERM",
			lifted: []lift{{flags: []string{"--privileged"}, want: "host"}}},
		{attack: "init_module", defence: "seccomp, then CAP_SYS_MODULE", cmd: try("init_module"), want: "EPERM",
			lifted: []lift{{flags: []string{"--privileged"}, want: "host"}}},
		{attack: "open_by_handle_at (shocker)", defence: "seccomp, then CAP_DAC_READ_SEARCH", cmd: try("open_by_handle", "/helper"), want: "EPERM",
			lifted: []lift{{flags: unconfined, want: "EPERM"}, {flags: []string{"--cap-add", "DAC_READ_SEARCH"}, want: "ok", rootless: "EPERM"}}},
		{attack: "ptrace a process outside", defence: "PID namespace", cmd: try("ptrace", fmt.Sprint(os.Getpid())), want: "ESRCH"},
		{attack: "mknod + open of a host disk", defence: "nodev", cmd: try("mknod_open", "/disk", fmt.Sprint(disk[0]), fmt.Sprint(disk[1])), want: "EACCES", rootless: "mknod EPERM",
			lifted: []lift{{flags: []string{"--privileged"}, want: "ok"}}},
		{attack: "write /proc/sys", defence: "read-only /proc/sys", cmd: try("open_write", "/proc/sys/kernel/hostname"), want: "EROFS", rootless: "EACCES",
			lifted: []lift{{flags: []string{"--privileged"}, want: "ok"}}},
		{attack: "write /proc/sysrq-trigger", defence: "read-only bind", needs: "/proc/sysrq-trigger", cmd: try("open_write", "/proc/sysrq-trigger"), want: "EROFS", rootless: "EACCES",
			lifted: []lift{{flags: []string{"--privileged"}, want: "ok"}}},
		{attack: "write /sys/kernel", defence: "read-only /sys", needs: "/sys/kernel/profiling", cmd: try("open_write", "/sys/kernel/profiling"), want: "EROFS"},
		{attack: "read /proc/kcore", defence: "masked (/dev/null over it)", needs: "/proc/kcore", cmd: try("read", "/proc/kcore"), want: "ok 0",
			lifted: []lift{{flags: []string{"--privileged"}, want: "ok [1-9][0-9]*"}}},
		{attack: "read /proc/keys", defence: "masked (/dev/null over it)", needs: "/proc/keys", cmd: try("read", "/proc/keys"), want: "ok 0",
			lifted: []lift{{flags: []string{"--privileged"}, want: "ok [1-9][0-9]*"}}},
		{attack: "chroot breakout", defence: "pivot_root, old root unmounted", cmd: try("chroot_escape", hostOnly), want: "ENOENT",
			lifted: []lift{{cmd: try("chroot_escape", "/helper"), want: "ok"}}}, // the climb works: it ends at the container's root
		{attack: ":ro volume remounted rw", defence: "seccomp, then CAP_SYS_ADMIN", flags: []string{"-v", ro + ":/vol:ro"}, cmd: try("remount_rw", "/vol"), want: "remount EPERM",
			lifted: []lift{{flags: []string{"--cap-add", "SYS_ADMIN"}, want: "ok", rootless: "EACCES"}}},
		{attack: "write /proc/1/exe, the host's binary (CVE-2019-5736)", defence: "PID 1 is not dumpable", flags: []string{"--init"}, cmd: try("open_write", "/proc/1/exe"), want: "EACCES",
			lifted: []lift{{flags: []string{"--cap-add", "SYS_PTRACE"}, want: "ETXTBSY", rootless: "EACCES"}}}, // then only "running" protects it
		{attack: "setuid binary", defence: "no-new-privileges", flags: []string{"--security-opt", "no-new-privileges"}, cmd: suid, want: "euid 65534",
			lifted: []lift{{flags: []string{"--security-opt", "seccomp=unconfined"}, want: "euid 0"}}},
		{attack: "fork bomb", defence: "pids cgroup", flags: []string{"--pids-limit", "20"}, cmd: try("forks", "40"), want: "started [0-9]+ EAGAIN",
			lifted: []lift{{want: "started 40 ok"}}},
	}
}

// TestFinalEscapes runs the table: each attack in a default container
// (plus its row's flags), then with each lifting flag instead.
func TestFinalEscapes(t *testing.T) {
	m := newMD(t)
	hostOnly := t.TempDir()
	ro := t.TempDir()
	for _, e := range escapes(t, hostOnly, ro) {
		t.Run(e.attack, func(t *testing.T) { tryEscape(m.on(t), e) })
	}
	if entries, _ := os.ReadDir(hostOnly); len(entries) != 0 {
		t.Errorf("an attack reached the host's %s: %v", hostOnly, entries)
	}
}

// tryEscape runs one attack of the table with m, defended and lifted.
// Run by a rootless m (m.as), it expects e.rootless where set, and skips
// what a rootless container cannot be given: --privileged, and limits
// without a delegated cgroup.
func tryEscape(m *md, e escape) {
	t := m.t
	if e.needs != "" {
		if _, err := os.Stat(e.needs); err != nil {
			t.Logf("this kernel has no %s: nothing to defend", e.needs)
			return
		}
	}
	if m.as != nil && hasFlag(e.flags, "--pids-limit") && m.as.cgroupFD == 0 {
		t.Skip("rootless: limits need a delegated cgroup (TestRootlessLimits)")
	}
	want := e.want
	if m.as != nil && e.rootless != "" {
		want = e.rootless
	}
	if got := attempt(m, e.flags, e.cmd); !matches(want, got) {
		t.Errorf("defended by %s: got %q, want %q", e.defence, got, want)
	}
	for _, l := range e.lifted {
		if m.as != nil && hasFlag(l.flags, "--privileged") {
			continue // refused rootless: TestRootlessImagesAndRefusals
		}
		cmd := e.cmd
		if l.cmd != nil {
			cmd = l.cmd
		}
		flags := l.flags
		if len(e.flags) > 0 && e.flags[0] == "-v" {
			flags = append(append([]string{}, e.flags...), flags...) // the volume stays
		}
		want := l.want
		if want == "host" {
			want = regexp.QuoteMeta(onHost(t, cmd))
		}
		if m.as != nil && l.rootless != "" {
			want = l.rootless
		}
		if got := attempt(m, flags, cmd); !matches(want, got) {
			t.Errorf("with %v (no %s): got %q, want %q", flags, e.defence, got, want)
		}
	}
}

// hasFlag reports whether flags holds name.
func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name {
			return true
		}
	}
	return false
}

// attempt runs cmd in a container with the helper and flags; its output.
func attempt(m *md, flags, cmd []string) string {
	args := append(append([]string{"run", "--rm", "--network", "none", "-v", helperVolume(m.t)}, flags...), "base")
	return strings.TrimSpace(m.must(append(args, cmd...)...))
}

// matches says whether got is all of the regular expression want.
func matches(want, got string) bool {
	return regexp.MustCompile("^(?:" + want + ")$").MatchString(got)
}

// onHost runs the helper's attempt as root on the host: what the kernel
// answers when nothing stands in between.
func onHost(t *testing.T, cmd []string) string {
	t.Helper()
	out, err := exec.Command(helperBinary, cmd[1:]...).Output()
	if err != nil {
		t.Fatalf("helper %v on the host: %v", cmd[1:], err)
	}
	return strings.TrimSpace(string(out))
}
