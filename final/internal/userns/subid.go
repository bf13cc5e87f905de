//go:build linux

// Package userns is --userns-remap's host side: the subordinate id
// ranges a container's root is mapped to, read from (and, for minidocker's
// own entry, added to) /etc/subuid and /etc/subgid.
//
// "default" means an entry named minidocker in both files, as Docker's
// "default" means dockremap: created when missing, with 65536 ids that
// overlap no other entry, appended without rewriting any other line,
// under a lock (flock on the file, which minidocker's own writers honour;
// shadow's tools use a separate lock file, see docs/12-user-namespaces.md).
package userns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Name is the entry --userns-remap=default uses in /etc/subuid and /etc/subgid.
const Name = "minidocker"

// Size is the number of ids an entry made by minidocker holds: every
// 16-bit id, so that any image's users fit.
const Size = 65536

// firstStart is where the first range starts (ids below it belong to
// the host's own users, as useradd's SUB_UID_MIN).
const firstStart = 100000

// Files are the subordinate id files.
var Files = struct{ UID, GID string }{"/etc/subuid", "/etc/subgid"}

// Range is one subordinate range: Size ids from Start.
type Range struct {
	Start, Size uint32
}

// Default returns minidocker's ranges of uids and gids, adding the
// entries when missing.
func Default() (uids, gids Range, err error) {
	if uids, err = Ensure(Files.UID); err != nil {
		return Range{}, Range{}, err
	}
	gids, err = Ensure(Files.GID)
	return uids, gids, err
}

// Ensure returns minidocker's first range in the subordinate id file at
// path, appending a new one (after every other entry's end) when the file
// has none. The file is locked (flock) while it is read and written.
func Ensure(path string) (Range, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Range{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return Range{}, fmt.Errorf("lock %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return Range{}, fmt.Errorf("read %s: %w", path, err)
	}
	if r, ok := Find(data, Name); ok {
		return r, nil
	}
	r, err := next(data)
	if err != nil {
		return Range{}, fmt.Errorf("%s: %w", path, err)
	}
	line := fmt.Sprintf("%s:%d:%d\n", Name, r.Start, r.Size)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return Range{}, err
	}
	if _, err := f.WriteString(line); err != nil {
		return Range{}, fmt.Errorf("add %q to %s: %w", strings.TrimSpace(line), path, err)
	}
	return r, f.Sync()
}

// Find returns the first range of name in a subordinate id file's text.
func Find(data []byte, name string) (Range, bool) {
	for _, e := range entries(data) {
		if e.name == name {
			return e.Range, true
		}
	}
	return Range{}, false
}

// entry is one line of a subordinate id file.
type entry struct {
	name string
	Range
}

// entries parses the well-formed lines of a subordinate id file
// (name:start:count); others are left alone, and never rewritten.
func entries(data []byte) []entry {
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		size, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, entry{fields[0], Range{uint32(start), uint32(size)}})
		}
	}
	return out
}

// next is a new range after every range of the file (and not below
// firstStart), so that it overlaps none.
func next(data []byte) (Range, error) {
	end := uint64(firstStart)
	for _, e := range entries(data) {
		if e.Size > 0 {
			end = max(end, uint64(e.Start)+uint64(e.Size))
		}
	}
	if end+Size > 1<<32-1 {
		return Range{}, fmt.Errorf("no room for %d more ids after the last range (ends at %d): remove unused entries", Size, end)
	}
	return Range{uint32(end), Size}, nil
}
