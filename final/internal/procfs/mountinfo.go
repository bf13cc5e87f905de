//go:build linux

package procfs

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of a mountinfo file, see proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	      dev  root  point options   optional  - type source superoptions
type Mount struct {
	Dev          string // field 3, major:minor of the filesystem
	Root         string // field 4, the directory of the filesystem mounted (a bind mount's source within it)
	Point        string // field 5, the mount point
	Options      string // field 6, per-mount options
	FSType       string // the first field after "-"
	Source       string // the second, e.g. a device, "overlay", "proc"
	SuperOptions string // the third, per-filesystem options (an overlay's layers)
}

// Mountinfo reads a mountinfo file: /proc/self/mountinfo for this
// process's mount namespace, /proc/PID/mountinfo for another's.
func Mountinfo(path string) ([]Mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var mounts []Mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m, ok := parseMount(s.Text()); ok {
			mounts = append(mounts, m)
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return mounts, nil
}

// parseMount parses one mountinfo line; false when it is malformed.
func parseMount(line string) (Mount, bool) {
	before, after, ok := strings.Cut(line, " - ")
	fields, tail := strings.Fields(before), strings.Fields(after)
	if !ok || len(fields) < 6 || len(tail) < 2 {
		return Mount{}, false
	}
	m := Mount{Dev: fields[2], Root: unescape(fields[3]), Point: unescape(fields[4]), Options: fields[5],
		FSType: tail[0], Source: unescape(tail[1])}
	if len(tail) > 2 {
		m.SuperOptions = tail[2]
	}
	return m, true
}

// unescape undoes the octal escapes (\040 for a space, \011, \012, \134)
// the kernel writes in mountinfo's paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
