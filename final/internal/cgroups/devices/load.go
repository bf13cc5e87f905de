//go:build linux

// Loading and attaching the v2 program with bpf(2). The kernel checks a
// program (its verifier) when it is loaded and answers with a file
// descriptor; attaching it to a cgroup's directory makes it run for every
// process in that cgroup and its children. The cgroup holds the program
// from then on, so the descriptor is closed, and the program goes when the
// cgroup is removed. BPF_F_ALLOW_MULTI, as runc attaches: programs on the
// cgroups above run too, and every one of them must allow an access.

package devices

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// progLoadAttr is the BPF_PROG_LOAD part of the kernel's union bpf_attr,
// up to the fields used here.
type progLoadAttr struct {
	progType           uint32
	insnCount          uint32
	insns              uint64 // address of the instructions
	license            uint64 // address of a NUL-terminated string
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr.
type progAttachAttr struct {
	targetFd     uint32 // the cgroup's directory
	attachBpfFd  uint32 // the program
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// Attach loads the program for rules and attaches it to the cgroup
// directory dir.
func Attach(dir string, rules []Rule) error {
	for _, r := range rules {
		if err := r.Check(); err != nil {
			return err
		}
	}
	prog, err := Load(Program(rules))
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	cg, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(cg)
	attr := progAttachAttr{targetFd: uint32(cg), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("bpf(BPF_PROG_ATTACH) of the device program to %s: %w", dir, err)
	}
	return nil
}

// Load hands a device program to the kernel and returns its descriptor.
// When the verifier refuses it, the load is made again with the
// verifier's log, and the error carries the log.
func Load(prog []Insn) (int, error) {
	fd, err := load(prog, nil)
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.EPERM) {
		return -1, fmt.Errorf("bpf(BPF_PROG_LOAD) of the device program: %w (loading eBPF needs root, CAP_BPF or CAP_SYS_ADMIN)", err)
	}
	log := make([]byte, 1<<16)
	if _, again := load(prog, log); again != nil {
		err = fmt.Errorf("%w; verifier: %s", err, unix.ByteSliceToString(log))
	}
	return -1, fmt.Errorf("bpf(BPF_PROG_LOAD) of the device program (%d instructions): %w", len(prog), err)
}

// load is BPF_PROG_LOAD, with a log buffer when log is not nil. The
// verifier gives up with EAGAIN when a signal arrives while it works, and
// the Go runtime signals its threads (preemption): so EAGAIN is tried
// again, as cilium/ebpf does.
func load(prog []Insn, log []byte) (int, error) {
	var fd int
	var err error
	for try := 0; try < 100; try++ {
		if fd, err = loadOnce(prog, log); !errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	return fd, err
}

// loadOnce is one BPF_PROG_LOAD.
func loadOnce(prog []Insn, log []byte) (int, error) {
	code := Encode(prog)
	license := []byte("Apache\x00")
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCount:          uint32(len(prog)),
		insns:              uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "minidocker_dev")
	if log != nil {
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
	}
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	return fd, err
}

// bpf is the bpf(2) system call.
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, os.NewSyscallError("bpf", errno)
	}
	return int(fd), nil
}
