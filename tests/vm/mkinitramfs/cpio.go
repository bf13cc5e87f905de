// cpio.go — the "newc" cpio format the kernel unpacks as an initramfs.
//
// An initramfs is a list of records, each a 110-byte ASCII header, the
// NUL-terminated path, padding to a 4-byte boundary, the file's bytes and
// padding again; a record named "TRAILER!!!" ends the archive. The header is
// the magic "070701" then thirteen 8-digit hex numbers: ino, mode, uid, gid,
// nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize
// and check (always 0 for newc). A symlink's target is its "file" content; a
// device node is a record with S_IFCHR or S_IFBLK in mode and its number in
// rdevmajor/rdevminor, so no root is needed to put one in an archive. See
// Documentation/driver-api/early-userspace/buffer-format.rst in the kernel.
//
// Everything is written as owned by root (uid 0, gid 0), whoever builds it.

package main

import (
	"fmt"
	"io"
)

// cpioWriter appends newc records to w and numbers their inodes.
type cpioWriter struct {
	w       io.Writer
	nextIno uint32
	written int64
}

// cpioEntry is one record: a path inside the archive and what it holds.
type cpioEntry struct {
	name  string // path without a leading "/", e.g. "bin/busybox"
	mode  uint32 // file type bits (S_IF*) | permission bits
	mtime int64
	nlink uint32
	rdev  [2]uint32 // major, minor of a device node
	data  []byte    // file content, or a symlink's target
}

// newCpioWriter returns a writer that starts numbering inodes at 1.
func newCpioWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, nextIno: 1}
}

// write appends one record and its padding.
func (c *cpioWriter) write(e cpioEntry) error {
	if e.nlink == 0 {
		e.nlink = 1
	}
	name := e.name + "\x00"
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.nextIno, e.mode, 0, 0, e.nlink, uint32(e.mtime), len(e.data),
		0, 0, e.rdev[0], e.rdev[1], len(name), 0)
	c.nextIno++
	for _, chunk := range [][]byte{[]byte(hdr), []byte(name), c.pad(len(hdr) + len(name)), e.data, c.pad(len(e.data))} {
		n, err := c.w.Write(chunk)
		c.written += int64(n)
		if err != nil {
			return fmt.Errorf("write cpio record %q: %w", e.name, err)
		}
	}
	return nil
}

// pad returns the zero bytes that bring a field of length n to a 4-byte boundary.
func (c *cpioWriter) pad(n int) []byte {
	return make([]byte, (4-n%4)%4)
}

// close appends the TRAILER!!! record that ends the archive.
func (c *cpioWriter) close() error {
	return c.write(cpioEntry{name: "TRAILER!!!"})
}
