//go:build linux

// Listing many containers fast. ps must show every container, and reading
// and decoding a thousand records costs a thousand opens and a thousand
// JSON documents of a few kilobytes each. So ps reads summaries instead:
// the few fields it shows, kept in one file, <root>/containers.summary,
// with the identity of the record each came from (inode, size and
// modification time; every save renames a new file into place, so a
// changed record always has a new inode). A summary whose record changed,
// or is missing from the file, is made again from the record. The records
// stay the truth: the summary file is a cache that any command may rewrite,
// and deleting it only makes the next ps slower.
//
// Checking a thousand stamps is still a thousand stat calls, so there is
// a faster path: every change of a record (Save, BeginRemove) first writes
// a new random token into <root>/containers.generation, and the summary file
// keeps the token it was made under. While the two agree, no record has
// changed since, and ps reads one file. The token is written before the
// record, so a crash between the two can only make the cache look stale,
// never fresh. The file is gob, not JSON: it is a cache for programs, and
// gob decodes a thousand summaries several times faster.

package state

import (
	"bytes"
	"encoding/gob"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// summaryFile is the cache of summaries in the state root, and
// generationFile the token that changes with every record.
const (
	summaryFile    = "containers.summary"
	generationFile = "containers.generation"
)

// summaries is the summary file: the summaries, and the generation token
// they were made under. A file of another Version (made by an older
// minidocker, with fewer fields) is never trusted.
type summaries struct {
	Version    int
	Generation string
	List       []Summary
}

// summaryVersion is the Version of the summary file this build writes:
// 2 added ImageID, Labels and Mounts.
const summaryVersion = 2

// changed writes a new generation token: the records are changing. The
// token is overwritten in place, not written to a new file renamed over
// the old: every record change pays for this, and making and renaming a
// file costs ten times what writing into one does (docs/benchmarks.md).
// Every token has the same length, so nothing of the old one is left; a
// reader that catches the write halfway reads a token that matches no
// summary file, which only makes the cache look stale.
func (s *Store) changed() {
	path := filepath.Join(s.Root, generationFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.WriteAt([]byte(NewID()), 0)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		os.Remove(path) // no token at all: the cache is never trusted
	}
}

// generation reads the current token ("" if there is none).
func (s *Store) generation() string {
	data, _ := os.ReadFile(filepath.Join(s.Root, generationFile))
	return string(data)
}

// Summary is what ps shows of a container, and what it needs to tell
// whether the container still runs.
type Summary struct {
	Stamp      stamp
	ID         string
	Name       string
	Image      string
	ImageID    string
	Labels     map[string]string
	Mounts     []Mount
	Command    []string
	Created    time.Time
	State      State
	Ports      map[string][]PortBinding
	Network    string
	AutoRemove bool
	Monitor    [2]uint64 // pid and start time of the monitor
	PidStart   uint64
}

// stamp identifies one version of a record file.
type stamp struct {
	Ino, Size uint64
	Mtime     int64
}

// stampOf reads the identity of a record file.
func stampOf(path string) (stamp, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return stamp{}, false
	}
	return stamp{Ino: st.Ino, Size: uint64(st.Size), Mtime: st.Mtim.Nano()}, true
}

// SummaryOf is what ps shows of a record.
func SummaryOf(c *Container) Summary { return summarize(c, stamp{}) }

// summarize keeps what ps needs of a record.
func summarize(c *Container, s stamp) Summary {
	return Summary{
		Stamp: s, ID: c.ID, Name: c.Name, Image: c.Config.Image, ImageID: c.Image, Labels: c.Config.Labels, Mounts: c.Mounts,
		Command: append([]string{c.Path}, c.Args...),
		Created: c.Created, State: c.State, Ports: c.NetworkSettings.Ports, Network: c.HostConfig.NetworkMode,
		AutoRemove: c.HostConfig.AutoRemove, PidStart: c.Minidocker.PidStartTime,
		Monitor: [2]uint64{uint64(c.Minidocker.MonitorPid), c.Minidocker.MonitorStartTime},
	}
}

// Record turns a summary back into a (partial) record, with the fields
// ps, Running and Stale read.
func (s Summary) Record() *Container {
	c := &Container{ID: s.ID, Name: s.Name, Created: s.Created, State: s.State}
	if len(s.Command) > 0 {
		c.Path, c.Args = s.Command[0], s.Command[1:]
	}
	c.Config.Image, c.NetworkSettings.Ports = s.Image, s.Ports
	c.Image, c.Config.Labels, c.Mounts = s.ImageID, s.Labels, s.Mounts
	c.HostConfig.NetworkMode, c.HostConfig.AutoRemove = s.Network, s.AutoRemove
	c.Minidocker.MonitorPid, c.Minidocker.MonitorStartTime = int(s.Monitor[0]), s.Monitor[1]
	c.Minidocker.PidStartTime = s.PidStart
	return c
}

// Summaries returns a summary of every container, newest first, reading
// only the records that changed since the summary file was written.
func (s *Store) Summaries() ([]Summary, error) {
	gen := s.generation() // before anything is read: a change from now on shows
	if gen == "" {
		s.changed() // a state root from before tokens, or a failed write
		gen = s.generation()
	}
	var file summaries
	if data, err := os.ReadFile(filepath.Join(s.Root, summaryFile)); err == nil {
		if gob.NewDecoder(bytes.NewReader(data)).Decode(&file) != nil || file.Version != summaryVersion {
			file = summaries{} // nothing of it can be trusted
		} else if file.Generation == gen {
			return file.List, nil
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.Root, "containers"))
	if err != nil {
		return nil, err
	}
	cached := map[string]Summary{}
	for _, sum := range file.List {
		cached[sum.ID] = sum
	}
	var out []Summary
	changed := false
	for _, e := range entries {
		st, ok := stampOf(filepath.Join(s.Root, "containers", e.Name(), "config.json"))
		if !e.IsDir() || !ok || strings.HasPrefix(e.Name(), ".") {
			continue // not a container, or one being made or removed
		}
		sum, hit := cached[e.Name()]
		if !hit || sum.Stamp != st {
			c, err := s.Get(e.Name())
			if err != nil {
				continue // removed meanwhile
			}
			sum, changed = summarize(c, st), true
		}
		delete(cached, e.Name())
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	if changed || len(cached) > 0 || file.Generation != gen {
		s.writeSummaries(summaries{Version: summaryVersion, Generation: gen, List: out})
	}
	return out, nil
}

// writeSummaries replaces the summary file; a failure only costs speed.
func (s *Store) writeSummaries(file summaries) {
	var data bytes.Buffer
	if gob.NewEncoder(&data).Encode(file) != nil {
		return
	}
	path := filepath.Join(s.Root, summaryFile)
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if os.WriteFile(tmp, data.Bytes(), 0o600) != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
	}
}
