// mkinitramfs — pack a staging directory into an initramfs, without root.
//
// Usage:
//
//	mkinitramfs -root STAGING -o initrd.img [-gzip] [-busybox bin/busybox]
//	            [-kmods DIR -modules a,b,c]
//
// The staging directory is an ordinary tree that any user can build: files,
// directories and symlinks. It is walked in sorted order (a directory always
// before what it holds) and every entry becomes one newc cpio record (see
// cpio.go) owned by root, keeping its permission bits; symlinks stay symlinks.
// Device nodes cannot be made without root, so the one the kernel needs before
// /init runs, /dev/console, is written straight into the archive.
//
// Two helpers fill the staging tree first. With -busybox, every applet that
// `busybox --list` names becomes a symlink to busybox beside it (one process
// instead of hundreds of `ln`). With -kmods, the named kernel modules and
// everything they depend on are copied in (see kmod.go).
//
// Before packing, every ELF program in the tree is checked for a dynamic
// loader that the tree does not hold: a binary built with cgo would otherwise
// fail in the VM with a bare "not found", far from its cause.

package main

import (
	"bufio"
	"compress/gzip"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// main parses the flags and reports a failure with exit status 1.
func main() {
	root := flag.String("root", "", "staging directory to pack (required)")
	out := flag.String("o", "", "output file (required)")
	gz := flag.Bool("gzip", false, "gzip the archive")
	busybox := flag.String("busybox", "", "busybox inside the tree (e.g. bin/busybox) whose applets to link")
	kmods := flag.String("kmods", "", "lib/modules/VERSION directory of an unpacked kernel")
	modules := flag.String("modules", "", "comma-separated kernel modules to add with their dependencies")
	flag.Parse()
	if *root == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkinitramfs -root STAGING -o FILE [-gzip] [-busybox bin/busybox] [-kmods DIR -modules a,b,c]")
		os.Exit(2)
	}
	if *busybox != "" {
		if err := linkApplets(*root, *busybox); err != nil {
			fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
			os.Exit(1)
		}
	}
	if err := run(*root, *out, *gz, *kmods, *modules); err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
}

// run stages the modules, checks the programs and writes the archive.
func run(root, out string, gz bool, kmods, modules string) error {
	if kmods != "" {
		if err := stageModules(root, kmods, strings.Split(modules, ",")); err != nil {
			return err
		}
	}
	if err := checkInterpreters(root); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
		w = zw
	}
	cw := newCpioWriter(w)
	if err := packTree(cw, root); err != nil {
		return err
	}
	if err := cw.close(); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "mkinitramfs: wrote %s (%d records, %.1f MiB of cpio)\n",
		out, cw.nextIno-1, float64(cw.written)/(1<<20))
	return f.Close()
}

// packTree writes one record per entry under root, then /dev/console if the
// tree has no /dev/console of its own.
func packTree(cw *cpioWriter, root string) error {
	haveDev := false
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		haveDev = haveDev || rel == "dev"
		if rel == "dev/console" {
			return nil
		}
		e, err := entryFor(path, rel)
		if err != nil {
			return err
		}
		return cw.write(e)
	})
	if err != nil {
		return err
	}
	if !haveDev {
		if err := cw.write(cpioEntry{name: "dev", mode: 0o040755, nlink: 2}); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console as init's stdin, stdout and stderr before
	// /init runs, and devtmpfs is not mounted yet: the node must be here.
	return cw.write(cpioEntry{name: "dev/console", mode: 0o020600, rdev: [2]uint32{5, 1}})
}

// entryFor builds the record for one file, directory or symlink.
func entryFor(path, rel string) (cpioEntry, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return cpioEntry{}, err
	}
	e := cpioEntry{name: rel, mtime: fi.ModTime().Unix()}
	perm := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case fi.Mode().IsDir():
		e.mode, e.nlink = 0o040000|perm, 2
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return cpioEntry{}, err
		}
		e.mode, e.data = 0o120777, []byte(target)
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(path)
		if err != nil {
			return cpioEntry{}, err
		}
		e.mode, e.data = 0o100000|perm, data
	default:
		return cpioEntry{}, fmt.Errorf("%s: only files, directories and symlinks can be packed, not %v", path, fi.Mode().Type())
	}
	return e, nil
}

// linkApplets runs root/busybox --list (busybox must be static, as
// busybox-static is) and links each applet it names to busybox, in the same
// directory, unless that name is taken.
func linkApplets(root, busybox string) error {
	path := filepath.Join(root, busybox)
	list, err := exec.Command(path, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, applet := range strings.Fields(string(list)) {
		err := os.Symlink(filepath.Base(busybox), filepath.Join(dir, applet))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// checkInterpreters fails when an ELF program under root names a dynamic
// loader (PT_INTERP) that root does not hold.
func checkInterpreters(root string) error {
	var problems []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		interp, err := elfInterpreter(path)
		if err != nil || interp == "" {
			return nil // not an ELF program: nothing to check
		}
		if _, err := os.Stat(filepath.Join(root, interp)); errors.Is(err, fs.ErrNotExist) {
			rel, _ := filepath.Rel(root, path)
			problems = append(problems, fmt.Sprintf("/%s needs %s", rel, interp))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("dynamically linked programs cannot run in the initramfs (build them with CGO_ENABLED=0): %s",
			strings.Join(problems, "; "))
	}
	return nil
}

// elfInterpreter returns the PT_INTERP path of an ELF file, "" if it has none.
func elfInterpreter(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", nil
}
