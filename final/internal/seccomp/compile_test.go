//go:build linux

package seccomp

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is a crafted seccomp_data.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// bytes lays c out for x/net/bpf's VM. The VM loads words big-endian and
// the kernel in the machine's order, so each 32-bit word is written
// big-endian, and each 64-bit argument as the kernel has it on x86_64:
// its low half first.
func (c call) bytes() []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], c.nr)
	binary.BigEndian.PutUint32(b[4:], c.arch)
	for i, v := range c.args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(v))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(v>>32))
	}
	return b
}

// run runs prog on c and returns the action.
func run(t *testing.T, prog Program, c call) uint32 {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("the program does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	ret, err := vm.Run(c.bytes())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return uint32(ret)
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	x64   = unix.AUDIT_ARCH_X86_64
	i386  = unix.AUDIT_ARCH_I386
)

// small is a profile with one rule of each kind.
const small = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
  "syscalls": [
    {"names": ["getpid", "read", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_LT"}]},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}], "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 4096, "op": "SCMP_CMP_LE"}, {"index": 0, "value": 2, "op": "SCMP_CMP_NE"}]},
    {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 4294967296, "op": "SCMP_CMP_GE"}]}
  ]
}`

// TestCompileSmall runs the program of a small profile on crafted calls.
func TestCompileSmall(t *testing.T) {
	p, err := Parse([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Compile(p, []string{"CAP_CHOWN"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := Compile(p, []string{"CAP_SYS_ADMIN"})
	if err != nil {
		t.Fatal(err)
	}
	x32 := func(nr uint32) uint32 { return nr | x32Bit }
	tests := []struct {
		name string
		prog Program
		c    call
		want uint32
	}{
		{"allowed call", plain, call{arch: x64, nr: unix.SYS_GETPID}, allow},
		{"unlisted call gets the default", plain, call{arch: x64, nr: unix.SYS_GETPPID}, eperm},
		{"errnoRet", plain, call{arch: x64, nr: unix.SYS_MKDIR}, unix.SECCOMP_RET_ERRNO | 28},
		{"i386 number of getpid", plain, call{arch: i386, nr: 20}, allow},
		{"i386 number of mkdir", plain, call{arch: i386, nr: 39}, unix.SECCOMP_RET_ERRNO | 28},
		{"x86_64 getpid (39) is i386 mkdir", plain, call{arch: i386, nr: unix.SYS_GETPID}, unix.SECCOMP_RET_ERRNO | 28},
		{"x32 not listed: killed", plain, call{arch: x64, nr: x32(unix.SYS_GETPID)}, unix.SECCOMP_RET_KILL_PROCESS},
		{"foreign arch: killed", plain, call{arch: unix.AUDIT_ARCH_AARCH64, nr: unix.SYS_GETPID}, unix.SECCOMP_RET_KILL_PROCESS},
		{"personality query", plain, call{arch: x64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0xffffffff}}, allow},
		{"personality change", plain, call{arch: x64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x0040000}}, eperm},
		{"personality, high half differs", plain, call{arch: x64, nr: unix.SYS_PERSONALITY, args: [6]uint64{0x1ffffffff}}, eperm},
		{"socket AF_INET", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_INET}}, allow},
		{"socket AF_ALG", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_ALG}}, eperm},
		{"socket 39", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{39}}, eperm},
		{"socket AF_VSOCK", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{unix.AF_VSOCK}}, eperm},
		{"socket 41", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{41}}, allow},
		{"socket, high half set", plain, call{arch: x64, nr: unix.SYS_SOCKET, args: [6]uint64{1 << 32}}, allow},
		{"clone of a thread", plain, call{arch: x64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD}}, allow},
		{"clone of a user namespace", plain, call{arch: x64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER}}, eperm},
		{"unshare without CAP_SYS_ADMIN", plain, call{arch: x64, nr: unix.SYS_UNSHARE}, eperm},
		{"clone of a user namespace, CAP_SYS_ADMIN", admin, call{arch: x64, nr: unix.SYS_CLONE, args: [6]uint64{unix.CLONE_NEWUSER}}, allow},
		{"unshare with CAP_SYS_ADMIN", admin, call{arch: x64, nr: unix.SYS_UNSHARE}, allow},
		{"write small to stdout", plain, call{arch: x64, nr: unix.SYS_WRITE, args: [6]uint64{1, 0, 4096}}, allow},
		{"write too big", plain, call{arch: x64, nr: unix.SYS_WRITE, args: [6]uint64{1, 0, 4097}}, eperm},
		{"write to stderr", plain, call{arch: x64, nr: unix.SYS_WRITE, args: [6]uint64{2, 0, 1}}, eperm},
		{"write, length's high half set", plain, call{arch: x64, nr: unix.SYS_WRITE, args: [6]uint64{1, 0, 1<<32 + 1}}, eperm},
		{"lseek to 4 GiB", plain, call{arch: x64, nr: unix.SYS_LSEEK, args: [6]uint64{0, 1 << 32}}, allow},
		{"lseek below 4 GiB", plain, call{arch: x64, nr: unix.SYS_LSEEK, args: [6]uint64{0, 1<<32 - 1}}, eperm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, tt.prog, tt.c); got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
		})
	}
}

// TestCompileX32 checks that an x32 call is judged by x32's numbers: a
// profile that blocks mkdir blocks mkdir|0x40000000 too.
// TestSyscallTables checks what number's binary search needs: every
// table sorted by name, no name twice, and each known call found.
func TestSyscallTables(t *testing.T) {
	for table, calls := range syscallTables {
		for i := 1; i < len(calls); i++ {
			if calls[i-1].name >= calls[i].name {
				t.Errorf("%s: %q before %q: the table must be sorted, each name once", table, calls[i-1].name, calls[i].name)
			}
		}
	}
	for _, c := range []struct {
		table, name string
		nr          uint32
	}{
		{"x86_64", "_sysctl", 156}, {"x86_64", "mkdir", unix.SYS_MKDIR}, {"x86_64", "setxattrat", 463},
		{"x32", "mkdir", x32Bit | unix.SYS_MKDIR}, {"aarch64", "mkdirat", 34},
	} {
		if nr, ok := number(c.table, c.name); !ok || nr != c.nr {
			t.Errorf("number(%q, %q) = %d, %v; want %d", c.table, c.name, nr, ok, c.nr)
		}
	}
	if _, ok := number("aarch64", "mkdir"); ok {
		t.Errorf("number(aarch64, mkdir) found a call that arm64 does not have")
	}
}

func TestCompileX32(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X32"]}],
		"syscalls": [{"names": ["mkdir", "execve"], "action": "SCMP_ACT_ERRNO"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		nr   uint32
		want uint32
	}{
		{unix.SYS_MKDIR, eperm}, {unix.SYS_MKDIR | x32Bit, eperm}, {unix.SYS_GETPID | x32Bit, allow},
		{520 | x32Bit, eperm}, // x32's own execve
	} {
		if got := run(t, prog, call{arch: x64, nr: c.nr}); got != c.want {
			t.Errorf("nr %#x: got %#x, want %#x", c.nr, got, c.want)
		}
	}
}

// TestDefaultProfile checks Docker's profile on the calls issue 11 names.
func TestDefaultProfile(t *testing.T) {
	if _, err := Parse(defaultJSON); err != nil {
		t.Fatalf("the embedded default.json: %v", err)
	}
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(p, []string{"CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_CHROOT"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d instructions", len(prog))
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	for _, c := range []struct {
		name string
		c    call
		want uint32
	}{
		{"keyctl", call{arch: x64, nr: unix.SYS_KEYCTL}, eperm},
		{"add_key", call{arch: x64, nr: unix.SYS_ADD_KEY}, eperm},
		{"keyctl on i386", call{arch: i386, nr: 288}, eperm},
		{"clone3", call{arch: x64, nr: unix.SYS_CLONE3}, enosys},
		{"unshare", call{arch: x64, nr: unix.SYS_UNSHARE}, eperm},
		{"perf_event_open", call{arch: x64, nr: unix.SYS_PERF_EVENT_OPEN}, eperm},
		{"chroot with CAP_SYS_CHROOT", call{arch: x64, nr: unix.SYS_CHROOT}, allow},
		{"getppid", call{arch: x64, nr: unix.SYS_GETPPID}, allow},
		{"execve", call{arch: x64, nr: unix.SYS_EXECVE}, allow},
		{"x32 execve", call{arch: x64, nr: 520 | x32Bit}, allow},
		{"x32 keyctl", call{arch: x64, nr: unix.SYS_KEYCTL | x32Bit}, eperm},
	} {
		if got := run(t, prog, c.c); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestParseErrors checks that a bad profile is refused with a reason.
func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ profile, want string }{
		{`{`, "not a seccomp profile"},
		{`{"syscalls": []}`, `no "defaultAction"`},
		{`{"defaultAction": "SCMP_ACT_NOPE"}`, `unknown action "SCMP_ACT_NOPE"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BLOCK"}]}`, `syscalls[0] (read): unknown action`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]}`, "argument index 6"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "op": "EQ"}]}]}`, `unknown op "EQ"`},
		{`{"defaultAction": "SCMP_ACT_NOTIFY"}`, "listener"},
	} {
		_, err := Parse([]byte(tt.profile))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.profile, err, tt.want)
		}
	}
}

// TestKernelVersion checks the minKernel comparison's parser.
func TestKernelVersion(t *testing.T) {
	if v := versionOf("6.18.44-fc-v1252"); v != [2]int{6, 18} {
		t.Errorf("versionOf = %v", v)
	}
	if v := versionOf("4.8"); v != [2]int{4, 8} {
		t.Errorf("versionOf = %v", v)
	}
	if !kernelAtLeast("3.0") || kernelAtLeast("999.0") {
		t.Errorf("kernelAtLeast is wrong")
	}
}

// decide is what the profile says of c, worked out directly in Go: the
// reference the compiled program must agree with.
func decide(p *Profile, table string, caps map[string]bool, c call) uint32 {
	def, _ := action(p.DefaultAction, p.DefaultErrnoRet)
	for _, s := range p.Syscalls {
		if !s.applies(caps) {
			continue
		}
		for _, name := range s.names() {
			if nr, ok := number(table, name); !ok || nr != c.nr || !holds(s.Args, c.args) {
				continue
			}
			ret, _ := action(s.Action, s.ErrnoRet)
			return ret
		}
	}
	return def
}

// holds tells whether every condition holds for args, in 64 bits.
func holds(conds []Arg, args [6]uint64) bool {
	for _, a := range conds {
		v := args[a.Index]
		ok := map[string]bool{
			"SCMP_CMP_EQ": v == a.Value, "SCMP_CMP_NE": v != a.Value, "SCMP_CMP_LT": v < a.Value,
			"SCMP_CMP_LE": v <= a.Value, "SCMP_CMP_GT": v > a.Value, "SCMP_CMP_GE": v >= a.Value,
			"SCMP_CMP_MASKED_EQ": v&a.Value == a.ValueTwo,
		}[a.Op]
		if !ok {
			return false
		}
	}
	return true
}

// TestCompileAgreesWithProfile runs Docker's profile's program on every
// call number of each architecture, with a few argument values, and
// compares each decision with decide's.
func TestCompileAgreesWithProfile(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, caps := range [][]string{{"CAP_CHOWN"}, {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}} {
		have := map[string]bool{}
		for _, c := range caps {
			have[c] = true
		}
		prog, err := Compile(p, caps)
		if err != nil {
			t.Fatal(err)
		}
		argSets := [][6]uint64{{}, {0xffffffff}, {40}, {38}, {39}, {41}, {unix.CLONE_NEWUSER}, {unix.CLONE_VM}, {1 << 32}}
		for _, arch := range []struct {
			audit uint32
			table string
			bit   uint32
		}{{x64, "x86_64", 0}, {i386, "x86", 0}, {x64, "x32", x32Bit}} {
			for nr := uint32(0); nr < 600; nr++ {
				for _, args := range argSets {
					c := call{arch: arch.audit, nr: nr | arch.bit, args: args}
					if got, want := run(t, prog, c), decide(p, arch.table, have, c); got != want {
						t.Fatalf("caps %v, %s call %d, args %v: program %#x, profile %#x", caps, arch.table, nr, args, got, want)
					}
				}
			}
		}
	}
}
