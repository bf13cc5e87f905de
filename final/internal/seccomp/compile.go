//go:build linux

// The compiler: a profile, for one container's capabilities, becomes a
// classic BPF program over struct seccomp_data (seccomp(2)):
//
//	offset 0  nr    the call's number      offset 16+8*i  args[i], 64 bits
//	offset 4  arch  AUDIT_ARCH_*           (low half first on little-endian)
//
// The program first checks arch: a number means nothing without it (the
// i386 numbers differ from x86_64's, and an x86_64 process may make i386
// calls through int 0x80). A call of an architecture the profile does not
// list kills the process, as libseccomp's default does. On x86_64, a
// number with bit 0x40000000 set is an x32 call, with numbers of its own:
// were it looked up as x86_64, mkdir|0x40000000 would slip past a rule
// for mkdir.
//
// Within an architecture, a binary search (JGE) on the call's number
// finds its segment: a run of numbers with one action, such as the
// hundred-odd calls in a row that Docker's profile allows, or a single
// call with argument conditions; every path ends in a RET. A call's rules are
// tried in the profile's order, the first whose argument conditions hold
// decides; none: the default action. Classic BPF compares 32 bits, so an
// argument is tested as two halves, high first.
//
// Names this architecture does not have are skipped, as libseccomp does
// (the default profile names calls of every architecture).

package seccomp

import (
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter, as the kernel takes it.
type Program []bpf.RawInstruction

// x32Bit marks an x32 call in seccomp_data.nr.
const x32Bit = 0x40000000

// badArch is the action for a call of an architecture the profile does
// not list. libseccomp's default, SCMP_ACT_KILL, kills only the thread;
// seccomp(2) advises killing the process.
const badArch = unix.SECCOMP_RET_KILL_PROCESS

// arch is one architecture a filter can serve.
type arch struct {
	audit uint32 // seccomp_data.arch
	table string // its syscallTables entry
}

// syscallNumber is one call of an architecture's table (syscalls.go).
type syscallNumber struct {
	name string
	nr   uint32
}

// number is the number of the call name in table, if it has one there.
// The tables are slices sorted by name, not maps, so that no process
// builds them when it starts: the linker lays a slice literal out in the
// binary, while a map literal is made on the heap by code at start, and
// a monitor would carry its 80 kB for its container's life
// (docs/benchmarks.md, "A monitor's memory").
func number(table, name string) (uint32, bool) {
	calls := syscallTables[table]
	i := sort.Search(len(calls), func(i int) bool { return calls[i].name >= name })
	if i < len(calls) && calls[i].name == name {
		return calls[i].nr, true
	}
	return 0, false
}

// arches are the architectures known by their libseccomp names.
var arches = map[string]arch{
	"SCMP_ARCH_X86_64":  {unix.AUDIT_ARCH_X86_64, "x86_64"},
	"SCMP_ARCH_X86":     {unix.AUDIT_ARCH_I386, "x86"},
	"SCMP_ARCH_X32":     {unix.AUDIT_ARCH_X86_64, "x32"},
	"SCMP_ARCH_AARCH64": {unix.AUDIT_ARCH_AARCH64, "aarch64"},
	"SCMP_ARCH_ARM":     {unix.AUDIT_ARCH_ARM, "arm"},
}

// native is this machine's architecture, by Go's name.
var native = map[string]string{"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}

// rule is one rule of one call, ready to compile.
type rule struct {
	ret  uint32
	args []Arg
}

// Compile makes the program for a container with capabilities caps
// ("CAP_SYS_ADMIN", ...) on this machine.
func Compile(p *Profile, caps []string) (Program, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	names, err := p.archNames()
	if err != nil {
		return nil, err
	}
	def, _ := action(p.DefaultAction, p.DefaultErrnoRet)
	have := map[string]bool{}
	for _, c := range caps {
		have[c] = true
	}
	c := &compiler{def: def}
	if err := c.program(p, names, have); err != nil {
		return nil, err
	}
	raw, err := c.asm.assemble()
	if err != nil {
		return nil, err
	}
	if len(raw) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("the profile compiles to %d instructions, more than the kernel's %d", len(raw), unix.BPF_MAXINSNS)
	}
	return raw, nil
}

// archNames are the architectures the filter serves: the native one
// first, then those the profile adds for it.
func (p *Profile) archNames() ([]string, error) {
	nat, ok := native[runtime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no seccomp syscall table for %s: use --security-opt seccomp=unconfined", runtime.GOARCH)
	}
	out := []string{nat}
	add := p.Architectures
	for _, m := range p.ArchMap {
		if m.Architecture == nat {
			add = m.SubArchitectures
		}
	}
	for _, a := range add {
		if _, known := arches[a]; known && !contains(out, a) && compatible(nat, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// compatible tells whether a process of architecture nat can make calls
// of architecture a (others cannot run here: their rules are dropped).
func compatible(nat, a string) bool {
	switch nat {
	case "SCMP_ARCH_X86_64":
		return a == "SCMP_ARCH_X86" || a == "SCMP_ARCH_X32"
	case "SCMP_ARCH_AARCH64":
		return a == "SCMP_ARCH_ARM"
	}
	return false
}

// compiler holds the program being written.
type compiler struct {
	asm asm
	def uint32 // the default action
}

// program writes the whole filter: the dispatch on arch, then one
// section per AUDIT_ARCH value.
func (c *compiler) program(p *Profile, names []string, caps map[string]bool) error {
	a := &c.asm
	a.emit(bpf.LoadAbsolute{Off: 4, Size: 4}) // seccomp_data.arch
	sections := map[uint32]label{}
	var order []uint32
	for _, n := range names {
		audit := arches[n].audit
		if _, ok := sections[audit]; !ok {
			sections[audit] = a.newLabel()
			order = append(order, audit)
			a.jumpFar(bpf.JumpEqual, audit, sections[audit])
		}
	}
	a.emit(bpf.RetConstant{Val: badArch})
	for _, audit := range order {
		a.mark(sections[audit])
		if err := c.section(p, names, audit, caps); err != nil {
			return err
		}
	}
	return nil
}

// section writes the part for one AUDIT_ARCH value; x86_64's splits off
// the x32 calls first.
func (c *compiler) section(p *Profile, names []string, audit uint32, caps map[string]bool) error {
	a := &c.asm
	a.emit(bpf.LoadAbsolute{Off: 0, Size: 4}) // seccomp_data.nr
	if audit != unix.AUDIT_ARCH_X86_64 {
		return c.search(p.rulesFor(tableOf(names, audit), caps))
	}
	x32 := a.newLabel()
	a.jumpFar(bpf.JumpBitsSet, x32Bit, x32)
	if err := c.search(p.rulesFor("x86_64", caps)); err != nil {
		return err
	}
	a.mark(x32)
	if !contains(names, "SCMP_ARCH_X32") {
		a.emit(bpf.RetConstant{Val: badArch})
		return nil
	}
	return c.search(p.rulesFor("x32", caps))
}

// tableOf is the table of the architecture of names with this AUDIT_ARCH
// value (x86_64 and x32 share one; section treats them apart).
func tableOf(names []string, audit uint32) string {
	for _, n := range names {
		if arches[n].audit == audit {
			return arches[n].table
		}
	}
	return ""
}

// rulesFor resolves the rules that apply to this container against one
// architecture's table: call number -> its rules, in the profile's order.
func (p *Profile) rulesFor(table string, caps map[string]bool) map[uint32][]rule {
	out := map[uint32][]rule{}
	for _, s := range p.Syscalls {
		if !s.applies(caps) {
			continue
		}
		ret, _ := action(s.Action, s.ErrnoRet)
		for _, name := range s.names() {
			if nr, ok := number(table, name); ok {
				out[nr] = append(out[nr], rule{ret: ret, args: s.Args})
			}
		}
	}
	return out
}

// segment is a run of call numbers from lo on (up to the next segment)
// that the program treats alike: one action for all, or, for a single
// call with argument conditions, its rules.
type segment struct {
	lo    uint32
	ret   uint32 // when rules is nil
	rules []rule
}

// search writes a binary search over the segments of the number line
// that rules make: consecutive calls with the same unconditional action
// (most of a profile) and the gaps between them (the default action)
// become one segment each, so the search is short and the program small.
func (c *compiler) search(rules map[uint32][]rule) error {
	nrs := make([]uint32, 0, len(rules))
	for nr := range rules {
		nrs = append(nrs, nr)
	}
	sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
	segs := []segment{{lo: 0, ret: c.def}}
	add := func(s segment) {
		if last := segs[len(segs)-1]; last.lo == s.lo && len(segs) > 1 {
			segs = segs[:len(segs)-1] // s replaces a gap of no numbers
		}
		last := &segs[len(segs)-1]
		switch {
		case s.rules == nil && last.rules == nil && last.ret == s.ret:
			// the same action goes on
		case last.lo == s.lo:
			*last = s
		default:
			segs = append(segs, s)
		}
	}
	for _, nr := range nrs {
		rs := rules[nr]
		if len(rs[0].args) == 0 {
			add(segment{lo: nr, ret: rs[0].ret})
		} else {
			add(segment{lo: nr, rules: rs})
		}
		if nr != ^uint32(0) {
			add(segment{lo: nr + 1, ret: c.def})
		}
	}
	return c.tree(segs)
}

// tree writes the search over segs: split in two halves on the middle
// segment's first number until one segment is left, whose action (or
// rules) ends the path. Every path ends in a RET.
func (c *compiler) tree(segs []segment) error {
	a := &c.asm
	if len(segs) == 1 {
		if segs[0].rules == nil {
			a.emit(bpf.RetConstant{Val: segs[0].ret})
			return nil
		}
		return c.calls(segs[0].rules)
	}
	mid := len(segs) / 2
	upper := a.newLabel()
	a.jumpFar(bpf.JumpGreaterOrEqual, segs[mid].lo, upper)
	if err := c.tree(segs[:mid]); err != nil {
		return err
	}
	a.mark(upper)
	return c.tree(segs[mid:])
}

// calls writes one call's rules, tried in order, then the default.
func (c *compiler) calls(rules []rule) error {
	a := &c.asm
	for _, r := range rules {
		next := a.newLabel()
		for _, arg := range r.args {
			c.condition(arg, next)
		}
		a.emit(bpf.RetConstant{Val: r.ret})
		a.mark(next)
		if len(r.args) == 0 {
			return nil // the rules after an unconditional one never apply
		}
	}
	a.emit(bpf.RetConstant{Val: c.def})
	return nil
}

// condition writes one argument test: it falls through when the test
// holds and jumps to fail when not. The 64-bit comparison is done on the
// high halves first; only when they are equal do the low halves decide.
func (c *compiler) condition(arg Arg, fail label) {
	a := &c.asm
	lo := uint32(16 + 8*arg.Index)
	hi := lo + 4
	v, w := arg.Value, arg.ValueTwo
	vhi, vlo := uint32(v>>32), uint32(v)
	pass := a.newLabel()
	switch arg.Op {
	case "SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ":
		if arg.Op == "SCMP_CMP_MASKED_EQ" {
			// the argument AND Value (the mask) must equal ValueTwo
			vhi, vlo = uint32(w>>32), uint32(w)
		}
		a.load(hi, arg.Op, uint32(v>>32))
		a.jumpIf(bpf.JumpEqual, vhi, fallThrough, fail)
		a.load(lo, arg.Op, uint32(v))
		a.jumpIf(bpf.JumpEqual, vlo, pass, fail)
	case "SCMP_CMP_NE":
		a.load(hi, "", 0)
		a.jumpIf(bpf.JumpEqual, vhi, fallThrough, pass)
		a.load(lo, "", 0)
		a.jumpIf(bpf.JumpEqual, vlo, fail, pass)
	case "SCMP_CMP_GT", "SCMP_CMP_GE":
		a.load(hi, "", 0)
		a.jumpIf(bpf.JumpGreaterThan, vhi, pass, fallThrough)
		a.jumpIf(bpf.JumpEqual, vhi, fallThrough, fail)
		a.load(lo, "", 0)
		cond := bpf.JumpGreaterThan
		if arg.Op == "SCMP_CMP_GE" {
			cond = bpf.JumpGreaterOrEqual
		}
		a.jumpIf(cond, vlo, pass, fail)
	case "SCMP_CMP_LT", "SCMP_CMP_LE":
		a.load(hi, "", 0)
		a.jumpIf(bpf.JumpGreaterThan, vhi, fail, fallThrough)
		a.jumpIf(bpf.JumpEqual, vhi, fallThrough, pass)
		a.load(lo, "", 0)
		cond := bpf.JumpGreaterOrEqual // LT fails on lo >= v
		if arg.Op == "SCMP_CMP_LE" {
			cond = bpf.JumpGreaterThan
		}
		a.jumpIf(cond, vlo, fail, pass)
	}
	a.mark(pass)
}
