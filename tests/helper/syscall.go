package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// calls are the raw system calls "helper errno" can make, by name; each
// returns the errno (0: it succeeded).
var calls = map[string]func() unix.Errno{
	"keyctl": func() unix.Errno {
		return raw(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(^uint32(0)-2), 0) // KEY_SPEC_SESSION_KEYRING
	},
	"add_key": func() unix.Errno {
		typ, desc, data := cstr("user"), cstr("minidocker-test"), []byte("x")
		return raw(unix.SYS_ADD_KEY, ptr(typ), ptr(desc), ptr(data), 1, uintptr(^uint32(0)-1)) // KEY_SPEC_PROCESS_KEYRING
	},
	"request_key": func() unix.Errno {
		typ, desc := cstr("user"), cstr("minidocker-no-such-key")
		return raw(unix.SYS_REQUEST_KEY, ptr(typ), ptr(desc), 0, 0)
	},
	"unshare_user": func() unix.Errno { return raw(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0) },
	"clone_user": func() unix.Errno {
		cmd := exec.Command("/proc/self/exe", "noop")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
		return errnoOf(cmd.Run())
	},
	"clone3": func() unix.Errno { return raw(unix.SYS_CLONE3, 0, 0, 0) },
	"perf_event_open": func() unix.Errno {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errnoOf(err)
	},
	"personality_query": func() unix.Errno { return raw(unix.SYS_PERSONALITY, 0xffffffff, 0, 0) },
	"personality_set":   func() unix.Errno { return raw(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0) },
	"socket_inet":       func() unix.Errno { return socket(unix.AF_INET, unix.SOCK_DGRAM) },
	"socket_alg":        func() unix.Errno { return socket(unix.AF_ALG, unix.SOCK_SEQPACKET) },
	"socket_vsock":      func() unix.Errno { return socket(unix.AF_VSOCK, unix.SOCK_STREAM) },
	"mkdir":             func() unix.Errno { return errnoOf(unix.Mkdir("/tmp/helper-mkdir", 0o755)) },
	"getppid":           func() unix.Errno { return raw(unix.SYS_GETPPID, 0, 0, 0) },
}

// tryCall makes the named call and says how it went: "ok" or the errno's name.
func tryCall(name string) string {
	call, ok := calls[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown call", name)
		os.Exit(2)
	}
	errno := call()
	if errno == 0 {
		return "ok"
	}
	return unix.ErrnoName(errno)
}

// raw makes a system call with up to six arguments and returns its errno.
func raw(nr uintptr, args ...uintptr) unix.Errno {
	var a [6]uintptr
	copy(a[:], args)
	_, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	return errno
}

// socket opens (and closes) a socket of family and type.
func socket(family, typ int) unix.Errno {
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.Close(fd)
	}
	return errnoOf(err)
}

// errnoOf is the errno inside err (0 for nil; EIO for another error).
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var errno unix.Errno
	if ok := asErrno(err, &errno); ok {
		return errno
	}
	return unix.EIO
}

// asErrno unwraps err to an errno.
func asErrno(err error, target *unix.Errno) bool {
	for err != nil {
		if e, ok := err.(unix.Errno); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// cstr is s as a NUL-terminated byte slice.
func cstr(s string) []byte { return append([]byte(s), 0) }

// ptr is the address of b's first byte.
func ptr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// sessionKeyring prints the id of the calling process's session keyring.
func sessionKeyring() {
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING):", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

// timeGetppid makes n getppid calls and prints the nanoseconds one took,
// in CPU time of the calling thread (user and system): what the calls
// cost, whatever else the machine's cores were busy with.
func timeGetppid(n int) {
	runtime.LockOSThread()
	start := threadTime()
	for i := 0; i < n; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	fmt.Printf("%.1f\n", float64(threadTime()-start)/float64(n))
}

// threadTime is the calling thread's CPU time, in nanoseconds.
func threadTime() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		fmt.Fprintln(os.Stderr, "clock_gettime(CLOCK_THREAD_CPUTIME_ID):", err)
		os.Exit(1)
	}
	return ts.Nano()
}

// addrNoRandomize is ADDR_NO_RANDOMIZE of personality(2), a persona
// Docker's profile does not allow.
const addrNoRandomize = 0x0040000
