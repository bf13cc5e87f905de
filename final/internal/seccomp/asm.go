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

// jumpRef is a jump whose offsets wait for its labels: a conditional
// one (at is its index), or a jumpFar pair (at is its JumpIf).
type jumpRef struct {
	at          int
	true, false label
	far         bool
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

// jumpFar goes to t, however far, when A cond val holds; else on. It is
// a conditional jump over an unconditional one (ja t); assemble makes it
// one conditional jump when t turns out to be near enough.
func (a *asm) jumpFar(cond bpf.JumpTest, val uint32, t label) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.prog), true: t, false: fallThrough, far: true})
	a.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: 0, SkipFalse: 1})
	a.emit(bpf.Jump{})
}

// assemble shortens the far jumps that can be, fills every jump's
// offsets and encodes the program.
func (a *asm) assemble() (Program, error) {
	short := a.relax()
	pos := a.layout(short)
	for _, j := range a.jumps {
		if err := a.fill(j, pos, short[j.at]); err != nil {
			return nil, err
		}
	}
	var out []bpf.Instruction
	for i, ins := range a.prog {
		if i == 0 || !short[i-1] { // the ja of a shortened pair goes
			out = append(out, ins)
		}
	}
	raw, err := bpf.Assemble(out)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	return raw, nil
}

// relax finds the far jumps that fit in a conditional jump's 8 bits.
// Dropping a ja only brings targets nearer, so it repeats until no more
// fit.
func (a *asm) relax() map[int]bool {
	short := map[int]bool{}
	for changed := true; changed; {
		changed = false
		pos := a.layout(short)
		for _, j := range a.jumps {
			if j.far && !short[j.at] && pos[a.places[j.true]]-pos[j.at]-1 <= 255 {
				short[j.at], changed = true, true
			}
		}
	}
	return short
}

// layout is where each instruction lands once the ja of every shortened
// pair is dropped (one entry more, for the end).
func (a *asm) layout(short map[int]bool) []int {
	pos := make([]int, len(a.prog)+1)
	n := 0
	for i := range a.prog {
		pos[i] = n
		if i == 0 || !short[i-1] {
			n++
		}
	}
	pos[len(a.prog)] = n
	return pos
}

// fill sets the offsets of jump j, placed as pos says.
func (a *asm) fill(j jumpRef, pos []int, short bool) error {
	t, err := a.offset(j.at, j.true, pos)
	if err != nil {
		return err
	}
	ins := a.prog[j.at].(bpf.JumpIf)
	switch {
	case j.far && short:
		ins.SkipTrue, ins.SkipFalse = uint8(t), 0
	case j.far:
		ja := a.prog[j.at+1].(bpf.Jump)
		ja.Skip = uint32(pos[a.places[j.true]] - pos[j.at+1] - 1)
		a.prog[j.at+1] = ja
		return nil
	default:
		f, err := a.offset(j.at, j.false, pos)
		if err != nil {
			return err
		}
		if t > 255 || f > 255 {
			return fmt.Errorf("seccomp: a conditional jump at %d reaches %d/%d instructions ahead, more than 255", j.at, t, f)
		}
		ins.SkipTrue, ins.SkipFalse = uint8(t), uint8(f)
	}
	a.prog[j.at] = ins
	return nil
}

// offset is how many instructions after the one at `at` l is.
func (a *asm) offset(at int, l label, pos []int) (int, error) {
	if l == fallThrough {
		return 0, nil
	}
	if a.places[l] <= at {
		return 0, fmt.Errorf("seccomp: label %d not marked after instruction %d", l, at)
	}
	return pos[a.places[l]] - pos[at] - 1, nil
}
