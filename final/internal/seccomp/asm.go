//go:build linux

// A small assembler for the compiler: jumps name labels, and assemble
// turns them into the relative offsets classic BPF has. A conditional jump
// reaches at most 255 instructions ahead (its offsets are 8 bits), an
// unconditional one anywhere ahead (32 bits): jumpFar pairs the two for
// targets that may be far, such as the other half of a binary search.

package seccomp

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// label names a place in the program, known once marked.
type label int

// fallThrough as a jump's target means the next instruction.
const fallThrough label = -1

// asm is a program being written.
type asm struct {
	prog   []bpf.Instruction
	places []int // label -> index of the instruction it marks; -1 until marked
	jumps  []jumpRef
}

// jumpRef is a jump whose offsets wait for its labels.
type jumpRef struct {
	at          int
	true, false label // for an unconditional jump, true is the target
}

// newLabel makes a label, to be marked later.
func (a *asm) newLabel() label {
	a.places = append(a.places, -1)
	return label(len(a.places) - 1)
}

// mark puts l at the next instruction.
func (a *asm) mark(l label) { a.places[l] = len(a.prog) }

// emit appends an instruction with no labels.
func (a *asm) emit(ins bpf.Instruction) { a.prog = append(a.prog, ins) }

// load loads the 32-bit word at off of seccomp_data into A, and masks it
// for SCMP_CMP_MASKED_EQ.
func (a *asm) load(off uint32, op string, mask uint32) {
	a.emit(bpf.LoadAbsolute{Off: off, Size: 4})
	if op == "SCMP_CMP_MASKED_EQ" {
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
}

// jumpIf goes to t when A cond val holds, to f when not (both near).
func (a *asm) jumpIf(cond bpf.JumpTest, val uint32, t, f label) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.prog), true: t, false: f})
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

// jumpFar goes to t, however far, when A cond val holds; else on.
func (a *asm) jumpFar(cond bpf.JumpTest, val uint32, t label) {
	a.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: 0, SkipFalse: 1})
	a.jumps = append(a.jumps, jumpRef{at: len(a.prog), true: t, false: fallThrough})
	a.emit(bpf.Jump{})
}

// assemble fills the jumps' offsets and encodes the program.
func (a *asm) assemble() (Program, error) {
	for _, j := range a.jumps {
		t, err := a.offset(j.at, j.true)
		if err != nil {
			return nil, err
		}
		switch ins := a.prog[j.at].(type) {
		case bpf.Jump:
			ins.Skip = t
			a.prog[j.at] = ins
		case bpf.JumpIf:
			f, err := a.offset(j.at, j.false)
			if err != nil {
				return nil, err
			}
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("seccomp: a conditional jump at %d reaches %d/%d instructions ahead, more than 255", j.at, t, f)
			}
			ins.SkipTrue, ins.SkipFalse = uint8(t), uint8(f)
			a.prog[j.at] = ins
		}
	}
	raw, err := bpf.Assemble(a.prog)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	return raw, nil
}

// offset is how many instructions after the one at `at` l is.
func (a *asm) offset(at int, l label) (uint32, error) {
	if l == fallThrough {
		return 0, nil
	}
	to := a.places[l]
	if to <= at {
		return 0, fmt.Errorf("seccomp: label %d not marked after instruction %d", l, at)
	}
	return uint32(to - at - 1), nil
}
