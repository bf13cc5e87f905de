//go:build linux

// export: a container's whole filesystem as one tar, as it looks from
// inside (image layers plus its changes), for `import` or any other tool.
//
// The union is mounted where only this process sees it: the main thread
// (locked, see main.go) unshares its mount namespace, so the mount goes
// away with the process, even if it is killed. It is a read-only overlay
// whose top layer is the container's upper dir, given as one more lower
// dir: a lower dir honours whiteouts too, and a read-only overlay needs
// no work dir, so this works while the container itself runs.

package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// exportCommand is the export verb.
var exportCommand = &command{
	name: "export", usage: "export [OPTIONS] CONTAINER", short: "Write a container's filesystem as a tar archive",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		output := fs.StringP("output", "o", "", "write to a file instead of stdout")
		return func(s *session, args []string) error { return runExport(s, *output, args) }
	},
}

// runExport writes the container's merged filesystem as a tar.
func runExport(s *session, output string, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument")
	}
	w, done, err := outputFile(output)
	if err != nil {
		return err
	}
	if err := s.open(); err != nil {
		done(false)
		return err
	}
	c, err := s.rt.Find(args[0])
	if err == nil {
		p := container.PathsIn(s.rt.State.Dir(c.ID))
		layers := append([]string{p.Upper}, c.Minidocker.Layers...)
		if filter := unmapFilter(c); filter != nil {
			err = filter(w, func(w io.Writer) error { return exportUnion(w, layers, p.Rootfs) })
		} else {
			err = exportUnion(w, layers, p.Rootfs)
		}
	}
	done(err == nil)
	return err
}

// exportUnion mounts the layers read-only on mnt in a private mount
// namespace of this thread and tars the result into w.
func exportUnion(w io.Writer, layers []string, mnt string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := rootfs.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := overlay.Mount(layers, "", "", mnt, unix.MS_RDONLY); err != nil {
		return err
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	return overlay.WriteTree(w, mnt)
}

// outputFile opens where a tar goes: the file (written to a temporary
// name, renamed into place only when complete), or stdout, which must not
// be a terminal. done(ok) finishes or discards it.
func outputFile(path string) (io.Writer, func(ok bool), error) {
	if path == "" || path == "-" {
		if tty.IsTerminal(os.Stdout) {
			return nil, nil, usagef("cowardly refusing to write a tar to a terminal: use -o FILE or redirect the output")
		}
		return os.Stdout, func(bool) {}, nil
	}
	tmp := path + ".minidocker-tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func(ok bool) {
		err := f.Close()
		if ok && err == nil {
			err = os.Rename(tmp, path)
		}
		if !ok || err != nil {
			os.Remove(tmp)
		}
	}, nil
}
