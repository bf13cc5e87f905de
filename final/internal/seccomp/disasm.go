//go:build linux

// A listing of a program for people: one instruction a line, jumps to
// absolute line numbers, seccomp_data fields and actions by name, and
// call numbers with the name the given table has for them.

package seccomp

import (
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// jumpNames spell the conditional jumps.
var jumpNames = map[bpf.JumpTest]string{
	bpf.JumpEqual: "jeq", bpf.JumpNotEqual: "jne", bpf.JumpGreaterThan: "jgt", bpf.JumpLessOrEqual: "jle",
	bpf.JumpGreaterOrEqual: "jge", bpf.JumpLessThan: "jlt", bpf.JumpBitsSet: "jset", bpf.JumpBitsNotSet: "jnset",
}

// Listing prints prog; numbers compared with seccomp_data.nr are named
// as this machine's architecture numbers its calls (x86_64 on amd64).
func Listing(prog Program) string {
	names := map[uint32]string{}
	for _, c := range syscallTables[arches[native[runtime.GOARCH]].table] {
		names[c.nr] = c.name
	}
	ins, _ := bpf.Disassemble(prog)
	loaded := loads(ins)
	var b strings.Builder
	for i, in := range ins {
		text := fmt.Sprint(in)
		switch in := in.(type) {
		case bpf.LoadAbsolute:
			text = "ld    " + field(in.Off)
		case bpf.JumpIf:
			val := fmt.Sprintf("%#x", in.Val)
			if loaded[i] == "nr" && in.Val < x32Bit {
				val = callNumber(in.Val, names)
			}
			text = fmt.Sprintf("%-5s %s ? %d : %d", jumpNames[in.Cond], val, i+1+int(in.SkipTrue), i+1+int(in.SkipFalse))
		case bpf.Jump:
			text = fmt.Sprintf("ja    %d", i+1+int(in.Skip))
		case bpf.ALUOpConstant:
			text = fmt.Sprintf("and   %#x", in.Val)
		case bpf.RetConstant:
			text = "ret   " + actionName(in.Val)
		}
		fmt.Fprintf(&b, "%4d  %s\n", i, text)
	}
	return b.String()
}

// loads tells, for each instruction, which field of seccomp_data A holds
// when it runs (jumps only go forward, so one pass sees every way in).
func loads(ins []bpf.Instruction) []string {
	in := make([]string, len(ins)+1)
	for i, x := range ins {
		out := in[i]
		var next []int
		switch x := x.(type) {
		case bpf.LoadAbsolute:
			out, next = field(x.Off), []int{i + 1}
		case bpf.JumpIf:
			next = []int{i + 1 + int(x.SkipTrue), i + 1 + int(x.SkipFalse)}
		case bpf.Jump:
			next = []int{i + 1 + int(x.Skip)}
		case bpf.RetConstant:
		default:
			out, next = "", []int{i + 1}
		}
		for _, n := range next {
			if n < len(in) {
				in[n] = out
			}
		}
	}
	return in
}

// callNumber spells a call number with its name, or as the number after
// a call (where a run of calls with one action ends).
func callNumber(nr uint32, names map[uint32]string) string {
	if n, ok := names[nr]; ok {
		return fmt.Sprintf("%d (%s)", nr, n)
	}
	if n, ok := names[nr-1]; ok && nr > 0 {
		return fmt.Sprintf("%d (%s+1)", nr, n)
	}
	return fmt.Sprint(nr)
}

// field names the 32-bit word of seccomp_data at off.
func field(off uint32) string {
	switch {
	case off == 0:
		return "nr"
	case off == 4:
		return "arch"
	case off >= 16 && off < 64:
		half := "low"
		if (off-16)%8 == 4 {
			half = "high"
		}
		return fmt.Sprintf("args[%d].%s", (off-16)/8, half)
	}
	return fmt.Sprintf("[%d]", off)
}

// actionName spells a return value as the profile would.
func actionName(ret uint32) string {
	data := ret & unix.SECCOMP_RET_DATA
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "ALLOW"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("ERRNO(%d %s)", data, unix.ErrnoName(unix.Errno(data)))
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "TRAP"
	case unix.SECCOMP_RET_TRACE:
		return fmt.Sprintf("TRACE(%d)", data)
	case unix.SECCOMP_RET_LOG:
		return "LOG"
	}
	return fmt.Sprintf("%#x", ret)
}
