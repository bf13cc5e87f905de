//go:build linux

// Package seccomp turns a seccomp profile, in the JSON shape Docker and
// moby use, into the classic BPF program the kernel runs on every system
// call a container makes (compile.go), and installs it (load.go).
//
// A profile is a default action and a list of rules; a rule names calls,
// an action, and optional conditions: on the call's arguments, on the
// container's capabilities, on the architecture, on the kernel version.
// The capability, architecture and kernel conditions are settled once,
// when the program is made for one container; only the argument
// conditions are left for the program to test.
//
// Docker's default profile is embedded: default.json is a copy of
// seccomp/default.json of github.com/moby/profiles at commit cd3bed8061c7
// (2026-06-30; the file last changed in 3c28324314729dbade8287e868eef6338c42807a,
// 2026-05-06), the profile `docker run` applies when given no other.
package seccomp

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultJSON is moby's default profile (see the package comment).
//
//go:embed default.json
var defaultJSON []byte

// Profile is a seccomp profile as Docker reads it.
type Profile struct {
	DefaultAction   string    `json:"defaultAction"`
	DefaultErrnoRet *uint     `json:"defaultErrnoRet,omitempty"`
	Architectures   []string  `json:"architectures,omitempty"`
	ArchMap         []ArchMap `json:"archMap,omitempty"`
	Syscalls        []Syscall `json:"syscalls"`
}

// ArchMap names an architecture and the ones its processes may also use
// (an x86_64 process can make i386 and x32 calls).
type ArchMap struct {
	Architecture     string   `json:"architecture"`
	SubArchitectures []string `json:"subArchitectures"`
}

// Syscall is one rule: the calls it names get Action when every Arg
// condition holds, if the container matches Includes and not Excludes.
type Syscall struct {
	Names    []string `json:"names,omitempty"`
	Name     string   `json:"name,omitempty"` // the older, one-name form
	Action   string   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
	Includes Filter   `json:"includes"`
	Excludes Filter   `json:"excludes"`
	Comment  string   `json:"comment,omitempty"`
}

// Arg compares argument Index (0 to 5) of a call with Value; for
// SCMP_CMP_MASKED_EQ, the argument masked with Value must equal ValueTwo.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

// Filter is a rule's condition on the container: its capabilities, its
// architecture (Go's names: amd64, arm64, ...) and the kernel's version.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// actions are the kernel's return values for libseccomp's action names;
// ERRNO and TRACE carry a number in the low 16 bits.
var actions = map[string]uint32{
	"SCMP_ACT_KILL":         unix.SECCOMP_RET_KILL_THREAD,
	"SCMP_ACT_KILL_THREAD":  unix.SECCOMP_RET_KILL_THREAD,
	"SCMP_ACT_KILL_PROCESS": unix.SECCOMP_RET_KILL_PROCESS,
	"SCMP_ACT_TRAP":         unix.SECCOMP_RET_TRAP,
	"SCMP_ACT_ERRNO":        unix.SECCOMP_RET_ERRNO,
	"SCMP_ACT_TRACE":        unix.SECCOMP_RET_TRACE,
	"SCMP_ACT_ALLOW":        unix.SECCOMP_RET_ALLOW,
	"SCMP_ACT_LOG":          unix.SECCOMP_RET_LOG,
}

// ops are the argument comparisons a profile may use.
var ops = map[string]bool{
	"SCMP_CMP_NE": true, "SCMP_CMP_LT": true, "SCMP_CMP_LE": true, "SCMP_CMP_EQ": true,
	"SCMP_CMP_GE": true, "SCMP_CMP_GT": true, "SCMP_CMP_MASKED_EQ": true,
}

// Default is Docker's default profile (the package's tests check that
// the embedded copy parses).
func Default() (*Profile, error) {
	p, err := Parse(defaultJSON)
	if err != nil {
		return nil, fmt.Errorf("the built-in default profile: %w", err)
	}
	return p, nil
}

// Parse reads a profile and checks its actions and conditions, so that a
// bad profile is refused before any container is made.
func Parse(data []byte) (*Profile, error) {
	p := &Profile{}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("not a seccomp profile: %w", err)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// check refuses what the compiler could not honour.
func (p *Profile) check() error {
	if p.DefaultAction == "" {
		return errors.New(`no "defaultAction"`)
	}
	if _, err := action(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return errors.New(`use either "architectures" or "archMap", not both`)
	}
	for i, s := range p.Syscalls {
		if len(s.Names) == 0 && s.Name == "" {
			return fmt.Errorf("syscalls[%d]: no names", i)
		}
		if _, err := action(s.Action, s.ErrnoRet); err != nil {
			return fmt.Errorf("syscalls[%d] (%s): %w", i, s.names()[0], err)
		}
		for _, a := range s.Args {
			if a.Index > 5 {
				return fmt.Errorf("syscalls[%d] (%s): argument index %d: a call has arguments 0 to 5", i, s.names()[0], a.Index)
			}
			if !ops[a.Op] {
				return fmt.Errorf("syscalls[%d] (%s): unknown op %q", i, s.names()[0], a.Op)
			}
		}
	}
	return nil
}

// names are the calls a rule names, in either form.
func (s *Syscall) names() []string {
	if len(s.Names) > 0 {
		return s.Names
	}
	return []string{s.Name}
}

// action is the kernel's return value for an action name; errnoRet (EPERM
// when absent, as runc) fills ERRNO's and TRACE's data.
func action(name string, errnoRet *uint) (uint32, error) {
	ret, ok := actions[name]
	if !ok {
		if name == "SCMP_ACT_NOTIFY" {
			return 0, errors.New("action SCMP_ACT_NOTIFY needs a listener, which minidocker does not have")
		}
		return 0, fmt.Errorf("unknown action %q", name)
	}
	if ret == unix.SECCOMP_RET_ERRNO || ret == unix.SECCOMP_RET_TRACE {
		data := uint(unix.EPERM)
		if errnoRet != nil {
			data = *errnoRet
		}
		if data > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errnoRet %d: more than %d", data, unix.SECCOMP_RET_DATA)
		}
		ret |= uint32(data)
	}
	return ret, nil
}

// applies tells whether a rule is for a container with these capabilities,
// on this machine: Includes all hold, and no Excludes does.
func (s *Syscall) applies(caps map[string]bool) bool {
	inc, exc := s.Includes, s.Excludes
	for _, c := range inc.Caps {
		if !caps[c] {
			return false
		}
	}
	if len(inc.Arches) > 0 && !contains(inc.Arches, runtime.GOARCH) {
		return false
	}
	if inc.MinKernel != "" && !kernelAtLeast(inc.MinKernel) {
		return false
	}
	for _, c := range exc.Caps {
		if caps[c] {
			return false
		}
	}
	if contains(exc.Arches, runtime.GOARCH) {
		return false
	}
	return exc.MinKernel == "" || !kernelAtLeast(exc.MinKernel)
}

// contains tells whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kernelAtLeast tells whether the running kernel is version want
// ("4.8") or later.
func kernelAtLeast(want string) bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false
	}
	have := versionOf(unix.ByteSliceToString(uts.Release[:]))
	need := versionOf(want)
	for i := range need {
		if have[i] != need[i] {
			return have[i] > need[i]
		}
	}
	return true
}

// versionOf reads the major and minor numbers of "6.18.44-fc".
func versionOf(release string) [2]int {
	var v [2]int
	for i, part := range strings.SplitN(release, ".", 3) {
		if i == 2 {
			break
		}
		end := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if end >= 0 {
			part = part[:end]
		}
		v[i], _ = strconv.Atoi(part)
	}
	return v
}
