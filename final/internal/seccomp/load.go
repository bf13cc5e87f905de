//go:build linux

// Installing a filter. seccomp(SECCOMP_SET_MODE_FILTER) asks either
// no_new_privs or CAP_SYS_ADMIN of the caller, and applies the filter to
// the calling thread only: the Go runtime's other threads stay free, and
// execve(2) or fork(2) from this thread carry the filter into the
// command, for good. A process that lives on with its other threads (the
// tiny init of --init) asks for SECCOMP_FILTER_FLAG_TSYNC: every thread.

package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs prog on the calling thread (nil: nothing to do), and on
// every thread of the process with allThreads. The caller must be locked
// to its OS thread and must execve or fork the command from it; every
// call it makes until then must pass prog.
func Load(prog Program, allThreads bool) error {
	if len(prog) == 0 {
		return nil
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	var flags uintptr
	if allThreads {
		flags = unix.SECCOMP_FILTER_FLAG_TSYNC
	}
	tid, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno == 0 && tid != 0 {
		return fmt.Errorf("seccomp(SECCOMP_FILTER_FLAG_TSYNC): thread %d could not take the filter", tid)
	}
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, flags %#x, %d instructions): %w", flags, len(filter), errno)
	}
	return nil
}
