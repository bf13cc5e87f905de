//go:build linux

// The v2 program. The kernel calls it with r1 pointing at a
// struct bpf_cgroup_dev_ctx (include/uapi/linux/bpf.h):
//
//	u32 access_type   the device type in the low 16 bits (1 block, 2 char),
//	                  the access in the high 16 (1 mknod, 2 read, 4 write)
//	u32 major
//	u32 minor
//
// and reads r0 when it exits: 1 allows the access, 0 refuses it (the
// caller of mknod or open gets EPERM). The program has three parts:
//
//	prologue  r2 = type, r3 = access, r4 = major, r5 = minor   (6 insns)
//	one block per rule, the LAST rule first, so the first block that
//	matches is the last matching rule, as the list means:
//	    if r2 != TYPE goto next           (left out for type a)
//	    r1 = r3; r1 &= ~ACCESS            (allow: left out for rwm)
//	    if r1 != 0 goto next                request not covered whole
//	  or
//	    r1 = r3; r1 &= ACCESS             (deny: left out for rwm)
//	    if r1 == 0 goto next                request not touched at all
//	    if r4 != MAJOR goto next          (left out for *)
//	    if r5 != MINOR goto next          (left out for *)
//	    r0 = 1 (allow) or 0 (deny); exit
//	epilogue  r0 = 0; exit                no rule matched: deny
//
// A block with no condition left (the rule "a *:* rwm") matches
// everything, so the rules before it, and the epilogue, are never reached;
// they are not emitted, because the kernel's verifier refuses a program
// with an instruction that no path reaches. Comparisons use the 32-bit
// jumps (BPF_JMP32, kernel 5.1 and later): the fields are 32-bit numbers.

package devices

import (
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"
)

// Insn is one eBPF instruction (the kernel's struct bpf_insn).
type Insn struct {
	Op       uint8 // class | operation | source
	Dst, Src uint8 // registers r0 to r10
	Off      int16 // a jump's distance, in instructions after the next; a load's offset
	Imm      int32 // the constant operand
}

// Registers the program uses.
const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5
)

// The operations used, each the OR of a class, an operation and a source
// (unix.BPF_K: the constant Imm; unix.BPF_X: the register Src).
const (
	opLoadWord  = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opAnd32     = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K   // dst &= imm (32 bits)
	opRsh32     = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K   // dst >>= imm
	opMov32     = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_K   // dst = imm
	opMov32Reg  = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X   // dst = src
	opJumpNE    = unix.BPF_JMP32 | unix.BPF_JNE | unix.BPF_K // if dst != imm: skip off
	opJumpEQ    = unix.BPF_JMP32 | unix.BPF_JEQ | unix.BPF_K // if dst == imm: skip off
	opExit      = unix.BPF_JMP | unix.BPF_EXIT               // return r0
	accessShift = 16
	typeMask    = 0xffff
)

// prologue loads the context's fields into r2 to r5.
var prologue = []Insn{
	{Op: opLoadWord, Dst: r2, Src: r1, Off: 0},
	{Op: opAnd32, Dst: r2, Imm: typeMask},
	{Op: opLoadWord, Dst: r3, Src: r1, Off: 0},
	{Op: opRsh32, Dst: r3, Imm: accessShift},
	{Op: opLoadWord, Dst: r4, Src: r1, Off: 4},
	{Op: opLoadWord, Dst: r5, Src: r1, Off: 8},
}

// Program compiles a rule list (see Allows) into the v2 program.
func Program(rules []Rule) []Insn {
	prog := append([]Insn{}, prologue...)
	for i := len(rules) - 1; i >= 0; i-- {
		block, always := ruleBlock(rules[i])
		prog = append(prog, block...)
		if always {
			return prog // nothing after an unconditional block is reachable
		}
	}
	return append(prog, Insn{Op: opMov32, Dst: r0, Imm: 0}, Insn{Op: opExit})
}

// ruleBlock is one rule's block; always reports that it has no condition.
func ruleBlock(r Rule) (block []Insn, always bool) {
	var tests []Insn // each jumps to the next block when the rule does not apply
	if r.Type != 'a' {
		tests = append(tests, Insn{Op: opJumpNE, Dst: r2, Imm: int32(deviceType(r.Type))})
	}
	if bits := accessBits(r.Access); bits != accessBits("rwm") {
		if r.Allow {
			tests = append(tests, Insn{Op: opMov32Reg, Dst: r1, Src: r3}, Insn{Op: opAnd32, Dst: r1, Imm: int32(^bits)},
				Insn{Op: opJumpNE, Dst: r1, Imm: 0})
		} else {
			tests = append(tests, Insn{Op: opMov32Reg, Dst: r1, Src: r3}, Insn{Op: opAnd32, Dst: r1, Imm: int32(bits)},
				Insn{Op: opJumpEQ, Dst: r1, Imm: 0})
		}
	}
	if r.Major != Wildcard {
		tests = append(tests, Insn{Op: opJumpNE, Dst: r4, Imm: int32(uint32(r.Major))})
	}
	if r.Minor != Wildcard {
		tests = append(tests, Insn{Op: opJumpNE, Dst: r5, Imm: int32(uint32(r.Minor))})
	}
	verdict := int32(0)
	if r.Allow {
		verdict = 1
	}
	block = append(tests, Insn{Op: opMov32, Dst: r0, Imm: verdict}, Insn{Op: opExit})
	for i := range block {
		if block[i].Op == opJumpNE || block[i].Op == opJumpEQ {
			block[i].Off = int16(len(block) - i - 1) // to the first instruction after the block
		}
	}
	return block, len(tests) == 0
}

// deviceType is the context's number for a rule's type letter.
func deviceType(t byte) uint32 {
	if t == 'b' {
		return unix.BPF_DEVCG_DEV_BLOCK
	}
	return unix.BPF_DEVCG_DEV_CHAR
}

// accessBits is the context's access bits for letters of "rwm".
func accessBits(access string) uint32 {
	var bits uint32
	if strings.Contains(access, "m") {
		bits |= unix.BPF_DEVCG_ACC_MKNOD
	}
	if strings.Contains(access, "r") {
		bits |= unix.BPF_DEVCG_ACC_READ
	}
	if strings.Contains(access, "w") {
		bits |= unix.BPF_DEVCG_ACC_WRITE
	}
	return bits
}

// Encode lays the program out as the kernel reads it: 8 bytes an
// instruction, the two registers sharing one byte (dst in the low half).
func Encode(prog []Insn) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = append(out, in.Op, in.Dst|in.Src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(in.Off))
		out = binary.LittleEndian.AppendUint32(out, uint32(in.Imm))
	}
	return out
}
