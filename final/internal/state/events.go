//go:build linux

// Events: what happened to containers, as `docker events` reports it
// (create, start, die, destroy, pause, unpause, rename, kill). There is no
// daemon to keep them in memory, so every command that changes a
// container appends one JSON line to <root>/events.log, with one write(2)
// on a file opened O_APPEND: the kernel puts each line at the end whole,
// whichever commands write at once. Readers read the lines, and follow the
// file for new ones. The log is kept small: past a size it is renamed to
// events.log.old (replacing the previous one) and a new one begun, so
// roughly the last maxEventsLog to twice that of history is kept.

package state

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxEventsLog is the size past which the log is rotated.
const maxEventsLog = 1 << 20

// Event is one event, in the Engine API's shape (with the older fields
// status, id and from that clients before API 1.22 read).
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is what an event happened to.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// eventsPath is the log, and the rotated one.
func (s *Store) eventsPath() (string, string) {
	p := filepath.Join(s.Root, "events.log")
	return p, p + ".old"
}

// Emit appends an event about c (its image and name are attributes, as
// Docker gives them, with extra). A failure to write is not the
// command's failure: it is reported on no one's behalf, and lost.
func (s *Store) Emit(c *Container, action string, extra map[string]string) {
	attrs := map[string]string{"image": c.Config.Image, "name": c.Name}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	now := time.Now()
	e := Event{Status: action, ID: c.ID, From: c.Config.Image, Type: "container", Action: action,
		Actor: Actor{ID: c.ID, Attributes: attrs}, Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano()}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	path, old := s.eventsPath()
	if info, err := os.Stat(path); err == nil && info.Size() > maxEventsLog {
		_ = os.Rename(path, old)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	_, _ = f.Write(append(line, '\n'))
	f.Close()
}

// Events sends the events between since and until (zero: no bound) to
// fn, oldest first; with follow it then waits for new ones until ctx is
// done or until passes.
func (s *Store) Events(ctx context.Context, since, until time.Time, follow bool, fn func(Event) error) error {
	path, old := s.eventsPath()
	pass := func(e Event) (bool, error) {
		t := time.Unix(0, e.TimeNano)
		if !until.IsZero() && t.After(until) {
			return true, nil
		}
		if since.IsZero() || !t.Before(since) {
			return false, fn(e)
		}
		return false, nil
	}
	if _, err := readEvents(old, 0, pass); errors.Is(err, errStop) {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r := &eventReader{path: path}
	for {
		done, err := r.next(pass)
		if done || err != nil || !follow {
			return err
		}
		if !until.IsZero() && time.Now().After(until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(eventsPoll):
		}
	}
}

// eventsPoll is how often a follower looks for new lines.
const eventsPoll = 50 * time.Millisecond

// eventReader follows the log across rotations: it remembers the file
// (by inode) and how far it has read.
type eventReader struct {
	path   string
	ino    uint64
	offset int64
}

// next reads what was appended since the last call.
func (r *eventReader) next(pass func(Event) (bool, error)) (bool, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(r.path, &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("stat %s: %w", r.path, err)
	}
	if st.Ino != r.ino { // a new log: the old one was rotated away
		r.ino, r.offset = st.Ino, 0
	}
	n, err := readEvents(r.path, r.offset, pass)
	r.offset += n
	if errors.Is(err, errStop) {
		return true, nil
	}
	return false, err
}

// errStop ends a read: an event after until was met.
var errStop = errors.New("past until")

// readEvents reads whole lines from offset on and returns how many bytes
// they took (a line being written, without its newline, is left for the
// next read).
func readEvents(path string, offset int64, pass func(Event) (bool, error)) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return 0, err
	}
	br := bufio.NewReader(f)
	var read int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return read, nil // EOF: a partial line waits
		}
		read += int64(len(line))
		var e Event
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		stop, err := pass(e)
		if err != nil {
			return read, err
		}
		if stop {
			return read, errStop
		}
	}
}
