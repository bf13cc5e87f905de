//go:build linux

package devices

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// run interprets prog, the subset of eBPF that Program emits, on one
// device context, and returns r0 at exit. It fails the test on anything
// outside the subset, on a jump out of the program and on a register read
// before it is written.
func run(t *testing.T, prog []Insn, typ, access, major, minor uint32) uint32 {
	t.Helper()
	ctx := [3]uint32{typ | access<<accessShift, major, minor}
	var reg [11]uint32
	set := [11]bool{r1: true}
	use := func(r uint8) uint32 {
		if !set[r] {
			t.Fatalf("program reads r%d before writing it", r)
		}
		return reg[r]
	}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Op {
		case opLoadWord:
			if in.Src != r1 || in.Off%4 != 0 || in.Off < 0 || in.Off > 8 {
				t.Fatalf("insn %d: load outside the context: %+v", pc, in)
			}
			reg[in.Dst], set[in.Dst] = ctx[in.Off/4], true
		case opAnd32:
			reg[in.Dst] = use(in.Dst) & uint32(in.Imm)
		case opRsh32:
			reg[in.Dst] = use(in.Dst) >> uint32(in.Imm)
		case opMov32:
			reg[in.Dst], set[in.Dst] = uint32(in.Imm), true
		case opMov32Reg:
			reg[in.Dst], set[in.Dst] = use(in.Src), true
		case opJumpNE, opJumpEQ:
			if (use(in.Dst) != uint32(in.Imm)) == (in.Op == opJumpNE) {
				pc += int(in.Off)
			}
			if pc+1 >= len(prog) {
				t.Fatalf("insn %d jumps out of the program", pc)
			}
		case opExit:
			return use(r0)
		default:
			t.Fatalf("insn %d: op %#x is not in the subset", pc, in.Op)
		}
	}
	t.Fatal("the program runs off its end")
	return 0
}

// letters is an access as the context's bits, back to "rwm" letters.
func letters(bits uint32) string {
	s := ""
	for _, l := range "rwm" {
		if accessBits(string(l))&bits != 0 {
			s += string(l)
		}
	}
	return s
}

// randomRules is a list of n rules over a small space of numbers, so that
// rules and requests meet.
func randomRules(rng *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	pick := func() int64 { return int64(rng.Intn(4)) - 1 } // Wildcard, 0, 1, 2
	for i := range rules {
		access := letters(uint32(1 + rng.Intn(7)))
		rules[i] = Rule{Allow: rng.Intn(2) == 0, Type: "abc"[rng.Intn(3)], Major: pick(), Minor: pick(), Access: access}
	}
	return rules
}

// TestProgramDecidesAsTheList runs the compiled program of random lists on
// every request of the small space and compares it with Allows.
func TestProgramDecidesAsTheList(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	lists := [][]Rule{nil, Default, {DenyAll}, {DenyAll, Default[3]}}
	for i := 0; i < 500; i++ {
		lists = append(lists, randomRules(rng, rng.Intn(8)))
	}
	for _, rules := range lists {
		prog := Program(rules)
		for _, typ := range []byte{'b', 'c'} {
			for access := uint32(1); access < 8; access++ {
				for major := uint32(0); major < 3; major++ {
					for minor := uint32(0); minor < 3; minor++ {
						want := Allows(rules, typ, major, minor, letters(access))
						got := run(t, prog, deviceType(typ), access, major, minor) == 1
						if got != want {
							t.Fatalf("rules %v, %c %d:%d %s: program says %v, the list %v", rules, typ, major, minor, letters(access), got, want)
						}
					}
				}
			}
		}
	}
}

// TestDefaultList checks Docker's list: mknod of anything, open of
// /dev/null and a pty, not of a disk or /dev/mem.
func TestDefaultList(t *testing.T) {
	for _, c := range []struct {
		typ          byte
		major, minor uint32
		access       string
		want         bool
	}{
		{'b', 8, 0, "m", true}, {'b', 8, 0, "r", false}, {'b', 8, 0, "rw", false},
		{'c', 1, 3, "rw", true}, {'c', 136, 7, "rw", true}, {'c', 1, 1, "r", false}, {'c', 10, 200, "rwm", true},
	} {
		if got := Allows(Default, c.typ, c.major, c.minor, c.access); got != c.want {
			t.Errorf("%c %d:%d %s: allowed %v, want %v", c.typ, c.major, c.minor, c.access, got, c.want)
		}
	}
}

// TestProgramLayout pins the layout the package comment describes: the
// prologue, one block per rule from the last, the epilogue; and a rule
// that matches everything ends the program.
func TestProgramLayout(t *testing.T) {
	rules := []Rule{DenyAll, {Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"}, {Allow: false, Type: 'b', Major: Wildcard, Minor: Wildcard, Access: "w"}}
	prog := Program(rules)
	// 6 prologue; deny b w: type, 3 access, verdict (5); allow c 1:3: type, major, minor, verdict (5); DenyAll: verdict only (2), no epilogue
	if len(prog) != 6+6+5+2 {
		t.Fatalf("%d instructions, want 19:\n%v", len(prog), prog)
	}
	if got := len(Program(Default)); got != 69 {
		t.Errorf("Docker's list: %d instructions; docs/final.md says 69", got)
	}
	if got := len(Program(nil)); got != 6+2 {
		t.Errorf("empty list: %d instructions, want the prologue and the epilogue (8)", got)
	}
	if got := len(Encode(prog)); got != 8*len(prog) {
		t.Errorf("encoded to %d bytes, want 8 an instruction", got)
	}
	if b := Encode([]Insn{{Op: opLoadWord, Dst: r2, Src: r1, Off: 4, Imm: -1}}); fmt.Sprintf("% x", b) != "61 12 04 00 ff ff ff ff" {
		t.Errorf("encoding: % x", b)
	}
}

// TestKernelAcceptsThePrograms loads the programs of the lists above for
// real, when the test runs as root: the kernel's verifier is the judge of
// what is a valid program (jumps in range, no unreachable instruction).
func TestKernelAcceptsThePrograms(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF needs root")
	}
	rng := rand.New(rand.NewSource(2))
	lists := [][]Rule{nil, Default, {DenyAll}}
	for i := 0; i < 50; i++ {
		lists = append(lists, randomRules(rng, rng.Intn(8)))
	}
	for _, rules := range lists {
		fd, err := Load(Program(rules))
		if errors.Is(err, unix.EPERM) {
			t.Skipf("this machine refuses bpf(2): %v", err)
		}
		if err != nil {
			t.Fatalf("rules %v: %v", rules, err)
		}
		unix.Close(fd)
	}
}
