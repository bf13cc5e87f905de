//go:build linux

// Root filesystem: a directory tree with just enough in it to run a shell,
// built from the host, offline. Where the host has busybox, that one binary
// and a link per applet are a whole userland; MINIDOCKER_BUSYBOX can choose
// otherwise. Without busybox, each host command is copied together with
// the shared libraries it needs, found the way ldd
// finds them: the ELF file names its loader (PT_INTERP) and its libraries
// (DT_NEEDED); each library is looked up in its RUNPATH and the loader's
// standard directories, and its own needs are followed in turn.

package main

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// rootfsCommands are the host commands copied when there is no busybox.
var rootfsCommands = []string{
	"sh", "ls", "cat", "echo", "ps", "mount", "umount", "hostname", "id", "mkdir", "rm", "touch",
	"sleep", "grep", "head", "wc", "env", "uname", "ipcs", "df", "stat", "readlink", "true", "false",
}

// rootfsDirs are created in every rootfs: mount points and the usual homes.
var rootfsDirs = []string{"bin", "dev", "etc", "proc", "root", "sys", "tmp"}

// libraryDirs are where the dynamic loader looks when RUNPATH does not say, see ld.so(8).
var libraryDirs = []string{
	"/lib/" + multiarch(), "/usr/lib/" + multiarch(), "/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// multiarch is Debian's directory name for this machine's libraries.
func multiarch() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64-linux-gnu"
	}
	return "x86_64-linux-gnu"
}

// buildRootfs fills dir with a small userland taken from the host.
func buildRootfs(dir string) error {
	host("building a root filesystem from the host's binaries in %s", dir)
	for _, d := range rootfsDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	busybox, err := chooseBusybox()
	if err != nil {
		return err
	}
	if busybox != "" {
		return installBusybox(dir, busybox)
	}
	return installHostCommands(dir)
}

// chooseBusybox says which busybox to install, "" for the host's commands.
// MINIDOCKER_BUSYBOX chooses for the user: "none" for the host's commands
// even where busybox is installed, or the path of a busybox binary.
// Unset, busybox is used when the host has one on its PATH. A choice
// makes the rootfs, and so a program's output, the same on every host.
func chooseBusybox() (string, error) {
	switch choice := os.Getenv("MINIDOCKER_BUSYBOX"); choice {
	case "none":
		return "", nil
	case "":
		busybox, _ := exec.LookPath("busybox")
		return busybox, nil
	default:
		if !filepath.IsAbs(choice) {
			return "", fmt.Errorf("MINIDOCKER_BUSYBOX=%s: give the absolute path of a busybox binary, or none", choice)
		}
		if _, err := exec.LookPath(choice); err != nil {
			return "", fmt.Errorf("MINIDOCKER_BUSYBOX=%s: %w (give the path of a busybox binary, or none)", choice, err)
		}
		return choice, nil
	}
}

// installBusybox copies busybox and links every applet it lists to it.
func installBusybox(dir, busybox string) error {
	if err := copyWithLibraries(dir, busybox, "/bin/busybox"); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	applets := strings.Fields(string(out))
	for _, applet := range applets {
		link := filepath.Join(dir, "bin", applet)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink("busybox", link); err != nil {
			return err
		}
	}
	host("copied %s and linked its %d applets into /bin", busybox, len(applets))
	return nil
}

// installHostCommands copies each of rootfsCommands the host has into /bin.
func installHostCommands(dir string) error {
	var copied []string
	for _, name := range rootfsCommands {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if err := copyWithLibraries(dir, path, "/bin/"+name); err != nil {
			return err
		}
		copied = append(copied, name)
	}
	if len(copied) == 0 || copied[0] != "sh" {
		return fmt.Errorf("the host has no sh to copy into the rootfs: install busybox, or give --rootfs DIR")
	}
	host("copied %d host commands into /bin, with their libraries: %s", len(copied), strings.Join(copied, " "))
	return nil
}

// copyWithLibraries copies the program at src to dst inside the rootfs dir,
// then its loader and every library it needs, each at its own path.
func copyWithLibraries(dir, src, dst string) error {
	if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
		return err
	}
	needed, err := libraries(src)
	if err != nil {
		return err
	}
	for _, lib := range needed {
		if _, err := os.Stat(filepath.Join(dir, lib)); err == nil {
			continue
		}
		if err := copyFile(lib, filepath.Join(dir, lib)); err != nil {
			return err
		}
	}
	return nil
}

// libraries lists the loader and all shared libraries that the ELF file at
// path needs, directly or through other libraries; none for a static file.
func libraries(path string) ([]string, error) {
	var found []string
	seen := map[string]bool{}
	queue := []string{path}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		f, err := elf.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read ELF file %s: %w", file, err)
		}
		interp, needed, runpath := dynamicInfo(f)
		machine := f.Machine
		f.Close()
		if interp != "" && !seen[interp] {
			seen[interp] = true
			found = append(found, interp)
		}
		for _, name := range needed {
			lib, err := findLibrary(name, machine, runpath)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", file, name, err)
			}
			if !seen[lib] {
				seen[lib] = true
				found = append(found, lib)
				queue = append(queue, lib)
			}
		}
	}
	return found, nil
}

// dynamicInfo reads an ELF file's loader, needed libraries and RUNPATH dirs.
func dynamicInfo(f *elf.File) (interp string, needed, runpath []string) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data, _ := io.ReadAll(p.Open())
			interp = strings.TrimRight(string(data), "\x00")
		}
	}
	needed, _ = f.DynString(elf.DT_NEEDED)
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		paths, _ := f.DynString(tag)
		for _, p := range paths {
			runpath = append(runpath, filepath.SplitList(p)...)
		}
	}
	return interp, needed, runpath
}

// findLibrary finds a library by name for the given machine, as ld.so would.
func findLibrary(name string, machine elf.Machine, runpath []string) (string, error) {
	for _, dir := range append(runpath, libraryDirs...) {
		path := filepath.Join(dir, name)
		f, err := elf.Open(path)
		if err != nil {
			continue
		}
		ok := f.Machine == machine
		f.Close()
		if ok {
			return path, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(libraryDirs, ":"))
}

// copyFile copies src (following symlinks) to dst with src's permissions.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// prepareRootfs returns the rootfs to use and how to undo it: the user's
// directory, untouched, or a fresh one built from the host and removed after.
func prepareRootfs(given string) (string, func() error, error) {
	if given != "" {
		dir, err := filepath.Abs(given)
		if err != nil {
			return "", nil, err
		}
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return "", nil, fmt.Errorf("--rootfs %s: not a directory", given)
		}
		host("using the root filesystem in %s", dir)
		return dir, func() error { return nil }, nil
	}
	dir, err := lockedTempDir("minidocker-rootfs-")
	if err != nil {
		return "", nil, fmt.Errorf("make a directory for the rootfs: %w", err)
	}
	remove := func() error { return removeRootfs(dir) }
	// It is made 0700; root of a user namespace is not the host's root.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = remove()
		return "", nil, err
	}
	if err := buildRootfs(dir); err != nil {
		_ = remove()
		return "", nil, fmt.Errorf("build the rootfs: %w", err)
	}
	return dir, remove, nil
}

// lockedTempDir makes a new directory in $TMPDIR, named pattern plus a
// random suffix, and holds an exclusive flock(2) on it until this program
// exits: the descriptor is never closed, and the kernel drops the lock
// when the process ends, even by kill -9. "minidocker cleanup" removes a
// step's leftover directory only when it can take that lock itself, so
// never one that a running step is still filling.
func lockedTempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Flock(fd, unix.LOCK_EX)
	}
	if err == nil {
		_, err = os.Stat(dir) // a cleanup may have removed it before we locked it
	}
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	return dir, nil
}

// removeRootfs deletes a rootfs this program built, but never while
// something is still mounted beneath it.
func removeRootfs(dir string) error {
	if mounted := mountsUnder(dir); len(mounted) > 0 {
		return fmt.Errorf("not removing %s: %s is still mounted", dir, mounted[0])
	}
	host("removing %s", dir)
	return os.RemoveAll(dir)
}
