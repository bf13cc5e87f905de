//go:build linux

// Installing a filter. seccomp(SECCOMP_SET_MODE_FILTER) asks either
// no_new_privs or CAP_SYS_ADMIN of the caller, and applies the filter to
// the calling thread only (no SECCOMP_FILTER_FLAG_TSYNC): the Go runtime's
// other threads stay free, and execve(2) or fork(2) from this thread
// carry the filter into the command, for good.

package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs prog on the calling thread (nil: nothing to do). The
// caller must be locked to its OS thread and must execve or fork the
// command from it; every call it makes until then must pass prog.
func Load(prog Program) error {
	if len(prog) == 0 {
		return nil
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, %d instructions): %w", len(filter), errno)
	}
	return nil
}
