package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// attempts are the escape attempts "helper try NAME ARG..." makes, by name
// (tests/escape_test.go runs each in a container); each returns "ok" or
// the errno's name of the step that failed, sometimes with a detail.
var attempts = map[string]func(args []string) string{
	"bpf":            func([]string) string { return result(bpfMapCreate()) },
	"unshare_mount":  func([]string) string { return result(raw(unix.SYS_UNSHARE, unix.CLONE_NEWNS)) },
	"mount":          func(a []string) string { return result(errnoOf(unix.Mount("none", arg(a, 0), "tmpfs", 0, ""))) },
	"mount_disk":     func(a []string) string { return result(errnoOf(unix.Mount(arg(a, 0), arg(a, 1), "ext4", 0, ""))) },
	"kexec_load":     func([]string) string { return result(raw(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xdead0000)) },
	"init_module":    func([]string) string { return result(raw(unix.SYS_INIT_MODULE, 0, 0, ptr(cstr("")))) },
	"open_by_handle": func(a []string) string { return openByHandle(arg(a, 0)) },
	"ptrace":         func(a []string) string { return ptraceSeize(arg(a, 0)) },
	"mknod_open":     func(a []string) string { return mknodOpen(arg(a, 0), arg(a, 1), arg(a, 2)) },
	"mknod_rw":       func(a []string) string { return mknodReadWrite(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3)) },
	"open_write":     func(a []string) string { return openWrite(arg(a, 0)) },
	"read":           func(a []string) string { return readSize(arg(a, 0)) },
	"chroot_escape":  func(a []string) string { return chrootEscape(arg(a, 0)) },
	"remount_rw":     func(a []string) string { return remountWrite(arg(a, 0)) },
	"forks":          func(a []string) string { return forks(arg(a, 0)) },
	"drop_exec":      func(a []string) string { return dropExec(arg(a, 0), a[1:]) },
	"euid":           func([]string) string { return fmt.Sprint("euid ", os.Geteuid()) },
	"write":          func(a []string) string { return result(errnoOf(os.WriteFile(arg(a, 0), []byte("x"), 0o644))) },
	"chown":          func(a []string) string { return result(errnoOf(os.Chown(arg(a, 0), 0, 0))) },
}

// try makes the attempt named by os.Args[2] (or the raw call of that
// name, see syscall.go) and prints its result.
func try() {
	if len(os.Args) >= 3 && calls[os.Args[2]] != nil {
		fmt.Println(result(calls[os.Args[2]]()))
		return
	}
	if len(os.Args) < 3 || attempts[os.Args[2]] == nil {
		fmt.Fprintln(os.Stderr, "unknown attempt; known:", knownAttempts())
		os.Exit(2)
	}
	fmt.Println(attempts[os.Args[2]](os.Args[3:]))
}

// knownAttempts lists the attempts' names.
func knownAttempts() string {
	var names []string
	for name := range attempts {
		names = append(names, name)
	}
	return strings.Join(names, " ")
}

// arg is a[i], or exits 2 when the attempt lacks it.
func arg(a []string, i int) string {
	if i >= len(a) {
		fmt.Fprintln(os.Stderr, "the attempt needs", i+1, "arguments")
		os.Exit(2)
	}
	return a[i]
}

// result is "ok" or the errno's name.
func result(errno unix.Errno) string {
	if errno == 0 {
		return "ok"
	}
	return unix.ErrnoName(errno)
}

// bpfMapCreate asks for the smallest array map (and closes it).
func bpfMapCreate() unix.Errno {
	attr := [5]uint32{unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0} // type, key size, value size, entries, flags
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	if errno == 0 {
		unix.Close(int(fd))
	}
	return errno
}

// openByHandle is the shocker's call: open a file by a handle (here the
// handle of path itself) with open_by_handle_at, which needs
// CAP_DAC_READ_SEARCH because a handle bypasses every directory's checks.
func openByHandle(path string) string {
	handle, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
	if err != nil {
		return "name_to_handle_at " + result(errnoOf(err))
	}
	mount, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return "open " + result(errnoOf(err))
	}
	defer unix.Close(mount)
	fd, err := unix.OpenByHandleAt(mount, handle, unix.O_RDONLY)
	if err == nil {
		unix.Close(fd)
	}
	return result(errnoOf(err))
}

// ptraceSeize tries to attach to pid (and lets go of it).
func ptraceSeize(pid string) string {
	n, _ := strconv.Atoi(pid)
	errno := raw(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(n), 0, 0)
	if errno == 0 {
		raw(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(n), 0, 0)
	}
	return result(errno)
}

// mknodOpen makes a block device node at path and opens it for reading.
func mknodOpen(path, major, minor string) string {
	maj, _ := strconv.Atoi(major)
	min, _ := strconv.Atoi(minor)
	if err := unix.Mknod(path, unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(maj), uint32(min)))); err != nil {
		return "mknod " + result(errnoOf(err))
	}
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err == nil {
		unix.Close(fd)
	}
	return result(errnoOf(err))
}

// mknodReadWrite makes a node of type kind ("b" or "c") at path, then
// opens it for reading and, apart, for writing (writing nothing): "read
// ERR write ERR", what the device rules answer to each.
func mknodReadWrite(path, kind, major, minor string) string {
	maj, _ := strconv.Atoi(major)
	min, _ := strconv.Atoi(minor)
	mode := uint32(unix.S_IFCHR)
	if kind == "b" {
		mode = unix.S_IFBLK
	}
	if err := unix.Mknod(path, mode|0o600, int(unix.Mkdev(uint32(maj), uint32(min)))); err != nil {
		return "mknod " + result(errnoOf(err))
	}
	open := func(flags int) string {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return result(errnoOf(err))
	}
	return "read " + open(unix.O_RDONLY) + " write " + open(unix.O_WRONLY)
}

// openWrite opens path for writing and closes it, writing nothing.
func openWrite(path string) string {
	fd, err := unix.Open(path, unix.O_WRONLY, 0)
	if err == nil {
		unix.Close(fd)
	}
	return result(errnoOf(err))
}

// readSize reads up to 4 KiB of path: "ok N" with the bytes read.
func readSize(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return result(errnoOf(err))
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := f.Read(buf)
	if err != nil && n == 0 && err.Error() != "EOF" {
		return result(errnoOf(err))
	}
	return fmt.Sprint("ok ", n)
}

// chrootEscape is the classic breakout: chroot into a subdirectory while
// the working directory stays above it, climb "..", chroot there. It
// then looks for marker, a path that exists only on the host: "ENOENT"
// means the climb ended at the container's own root.
func chrootEscape(marker string) string {
	if err := os.MkdirAll("/chroot-escape", 0o755); err != nil {
		return "mkdir " + result(errnoOf(err))
	}
	if err := unix.Chroot("/chroot-escape"); err != nil {
		return "chroot " + result(errnoOf(err))
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		return "chroot . " + result(errnoOf(err))
	}
	var st unix.Stat_t
	return result(errnoOf(unix.Stat(marker, &st)))
}

// remountWrite remounts the bind mount at dir without MS_RDONLY and
// writes a file into it.
func remountWrite(dir string) string {
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		return "remount " + result(errnoOf(err))
	}
	return result(errnoOf(os.WriteFile(dir+"/remounted", []byte("x"), 0o644)))
}

// forks starts up to n children that sleep (sleep(1), one thread each), then kills them: "started
// K EAGAIN" when the kernel refused the next one, "started n ok" if not.
func forks(count string) string {
	n, _ := strconv.Atoi(count)
	var started []*exec.Cmd
	defer func() {
		for _, c := range started {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for len(started) < n {
		c := exec.Command("sleep", "1000")
		if err := c.Start(); err != nil {
			return fmt.Sprint("started ", len(started), " ", result(errnoOf(err)))
		}
		started = append(started, c)
	}
	return fmt.Sprint("started ", n, " ok")
}

// dropExec becomes uid (all its ids) and executes argv, as a user who
// then runs a setuid program would.
func dropExec(uid string, argv []string) string {
	n, _ := strconv.Atoi(uid)
	if err := syscall.Setresgid(n, n, n); err != nil {
		return "setresgid " + result(errnoOf(err))
	}
	if err := syscall.Setresuid(n, n, n); err != nil {
		return "setresuid " + result(errnoOf(err))
	}
	return "exec " + result(errnoOf(syscall.Exec(argv[0], argv, os.Environ())))
}
