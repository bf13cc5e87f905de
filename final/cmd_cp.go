//go:build linux

// cp: files between a container and the host, in either direction, as
// docker cp copies them: through a tar stream, which "-" reads from stdin
// or writes to stdout. The container's side goes through its root as the
// kernel shows it (cp.go), the host's side is unpacked with the same
// rules as a layer (overlay.ApplyCopy), below the directory copied into.
//
// Where a copy lands (SRC to DEST): into DEST when DEST is a directory
// (DEST/NAME, or DEST's contents for SRC/.); over DEST when it is a file
// and SRC is one; as DEST when it does not exist but its parent does.

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/overlay"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// cpCommand is the cp verb.
var cpCommand = &command{
	name: "cp", usage: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tminidocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
	short: "Copy files/folders between a container and the local filesystem", interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		o := &cpOptions{}
		fs.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
		fs.BoolVarP(&o.follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
		fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy (it is shown only on a terminal)")
		return func(s *session, args []string) error { return runCp(s, o, args) }
	},
}

// cpOptions are cp's flags.
type cpOptions struct{ archive, follow, quiet bool }

// cpArg is one side of a copy: a container's path, or a local one.
type cpArg struct{ container, path string }

// splitCpArg reads CONTAINER:PATH; a path that starts with / or . is
// local, whatever colons it has, as docker reads it.
func splitCpArg(arg string) cpArg {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return cpArg{path: arg}
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok {
		return cpArg{path: arg}
	}
	return cpArg{container: ctr, path: p}
}

// runCp checks the arguments and copies in the direction they say.
func runCp(s *session, o *cpOptions, args []string) error {
	if len(args) != 2 {
		return usagef("requires exactly 2 arguments")
	}
	src, dst := splitCpArg(args[0]), splitCpArg(args[1])
	switch {
	case src.container != "" && dst.container != "":
		return usagef("copying between containers is not supported")
	case src.container == "" && dst.container == "":
		return usagef("must specify at least one container source")
	case src.path == "" || dst.path == "":
		return usagef("source and destination paths must not be empty")
	}
	if err := s.open(); err != nil {
		return err
	}
	var size int64
	var err error
	if src.container != "" {
		size, err = copyFromContainer(s, o, src, dst.path)
	} else {
		size, err = copyToContainer(s, o, src.path, dst)
	}
	if err == nil && !o.quiet && dst.path != "-" && tty.IsTerminal(os.Stderr) {
		fmt.Fprintf(os.Stderr, "Successfully copied %s to %s\n", humanSize(size), args[1])
	}
	return err
}

// containerPath is a path in a container as docker reads it: relative
// to its root.
func containerPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// copyFromContainer copies src out of its container to the local dst
// ("-": a tar on stdout).
func copyFromContainer(s *session, o *cpOptions, src cpArg, dst string) (int64, error) {
	c, err := s.rt.Find(src.container)
	if err != nil {
		return 0, err
	}
	p := containerPath(src.path)
	if dst == "-" {
		if tty.IsTerminal(os.Stdout) {
			return 0, usagef("cowardly refusing to write a tar to a terminal: redirect the output")
		}
		return 0, withRoot(s, c, false, func(root int) error {
			if _, err := statIn(src.container, root, p); err != nil {
				return err
			}
			return overlay.WriteCopy(os.Stdout, root, p, overlay.ArchiveName(p), o.follow)
		})
	}
	var size int64
	err = withRoot(s, c, false, func(root int) error {
		st, err := statIn(src.container, root, p)
		if err != nil {
			return err
		}
		into, name, err := localTarget(dst, p, st.IsDir() || (o.follow && followsToDir(root, p)))
		if err != nil {
			return err
		}
		size, err = pipeCopy(root, p, name, o.follow, into, &overlay.Owner{UID: os.Geteuid(), GID: os.Getegid()})
		return err
	})
	return size, err
}

// followsToDir reports whether p, its final symlink followed inside the
// root, is a directory.
func followsToDir(root int, p string) bool {
	fd, err := overlay.OpenIn(root, p, true)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// localTarget decides where on the host a copy of src lands: the
// directory to unpack into and the name the copy gets there.
func localTarget(dst, src string, srcIsDir bool) (into, name string, err error) {
	info, err := os.Stat(dst)
	switch {
	case err == nil && info.IsDir():
		return dst, overlay.ArchiveName(src), nil
	case err == nil && srcIsDir:
		return "", "", fmt.Errorf("cannot copy a directory to a file: %s is not a directory", dst)
	case err == nil:
		return filepath.Dir(dst), filepath.Base(dst), nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", err
	case strings.HasSuffix(dst, "/"):
		return "", "", fmt.Errorf("destination directory %s does not exist: make it first", dst)
	}
	parent := filepath.Dir(dst)
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		return "", "", fmt.Errorf("no such directory: %s (the parent of %s)", parent, dst)
	}
	return parent, filepath.Base(dst), nil
}

// pipeCopy tars p of the root srcRoot under the name name and unpacks
// the stream into the local directory into.
func pipeCopy(srcRoot int, p, name string, follow bool, into string, owner *overlay.Owner) (int64, error) {
	dirFd, err := unix.Open(into, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", into, err)
	}
	defer unix.Close(dirFd)
	return streamInto(srcRoot, p, name, follow, dirFd, into, owner)
}

// streamInto tars p of srcRoot as name and unpacks it below dirFd.
func streamInto(srcRoot int, p, name string, follow bool, dirFd int, dir string, owner *overlay.Owner) (int64, error) {
	pr, pw := io.Pipe()
	wrote := make(chan error, 1)
	go func() {
		err := overlay.WriteCopy(pw, srcRoot, p, name, follow)
		pw.CloseWithError(err)
		wrote <- err
	}()
	size, err := overlay.ApplyCopy(pr, dirFd, dir, owner)
	pr.CloseWithError(errors.New("the copy's unpack ended")) // the writer stops if the unpack failed
	if werr := <-wrote; err == nil {                         // the writer uses srcRoot: wait for it
		err = werr
	}
	return size, err
}

// copyToContainer copies the local src ("-": a tar from stdin) into
// the container's dst.
func copyToContainer(s *session, o *cpOptions, src string, dst cpArg) (int64, error) {
	c, err := s.rt.Find(dst.container)
	if err != nil {
		return 0, err
	}
	p := containerPath(dst.path)
	owner := rootOwner(c)
	if o.archive {
		owner = nil
	}
	if src == "-" {
		var size int64
		err := withRoot(s, c, true, func(root int) error {
			fd, err := openDirIn(dst.container, root, p)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			size, err = overlay.ApplyCopy(os.Stdin, fd, p, owner)
			return err
		})
		return size, err
	}
	host, abs, srcIsDir, err := openLocalSource(src, o.follow)
	if err != nil {
		return 0, err
	}
	defer unix.Close(host)
	var size int64
	err = withRoot(s, c, true, func(root int) error {
		into, name, err := containerTarget(dst.container, root, p, src, srcIsDir)
		if err != nil {
			return err
		}
		fd, err := openDirIn(dst.container, root, into)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		size, err = streamInto(host, abs, name, o.follow, fd, into, owner)
		return err
	})
	return size, err
}

// openLocalSource checks the local source and returns an fd of the
// host's "/", the source's absolute path, and whether it is a directory.
func openLocalSource(src string, follow bool) (host int, abs string, isDir bool, err error) {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	info, err := stat(src)
	if err != nil {
		return -1, "", false, err
	}
	if abs, err = filepath.Abs(src); err != nil {
		return -1, "", false, err
	}
	host, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", false, fmt.Errorf("open /: %w", err)
	}
	return host, abs, info.IsDir(), nil
}

// containerTarget is localTarget's twin inside the container's root.
func containerTarget(ref string, root int, dst, src string, srcIsDir bool) (into, name string, err error) {
	st, err := overlay.StatIn(root, dst)
	if err == nil && st.Mode&os.ModeSymlink != 0 && followsToDir(root, dst) {
		st.Mode |= os.ModeDir
	}
	switch {
	case err == nil && st.IsDir():
		return dst, overlay.ArchiveName(src), nil
	case err == nil && srcIsDir:
		return "", "", fmt.Errorf("cannot copy a directory to a file: %s is not a directory in container %s", dst, ref)
	case err == nil:
		return path.Dir(dst), path.Base(dst), nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", err
	case strings.HasSuffix(dst, "/"):
		return "", "", errNoFile(ref, dst)
	}
	return path.Dir(path.Clean(dst)), path.Base(path.Clean(dst)), nil
}
