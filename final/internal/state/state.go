//go:build linux

// Package state keeps the record of every container, under the state root:
//
//	<root>/containers/<id>/config.json      the record (this package)
//	<root>/containers/<id>/lock             the container's own lock
//	<root>/containers/<id>/<id>-json.log    its log, Docker's json-file format
//	<root>/containers/<id>/hostname, hosts, resolv.conf
//	<root>/containers/<id>/upper, work, rootfs   its writable layer and mount point
//	<root>/containers/<id>/heartbeat        touched by its monitor (container/heartbeat.go)
//	<root>/containers/<id>/waiters.lock     held shared by each wait (container/signal.go)
//	<root>/containers.lock                  the lock every record change takes
//	<root>/names/<name>                     the id of the container called name
//	<root>/removing/<id>/                   a container being removed (remove.go)
//
// There is no daemon: every minidocker command reads and changes these
// files itself. Every record is written to a temporary file and renamed
// over the old one. rename(2) is atomic, so a crash at any moment leaves
// either the old record or the new one, never half of one. (Records are
// not fsynced: a power cut may lose the last change, but never corrupts;
// the runtime repairs a record whose process is gone on the next command.)
//
// Two kinds of flock(2) keep concurrent commands apart. flock, because the
// kernel drops it when its holder dies, even by SIGKILL: a killed command
// never leaves a lock that someone must clean up.
//
//   - The root lock, containers.lock, is held for a few file operations
//     at a time: saving a record, claiming a name, making a container's
//     directory, the rename that begins a removal. It is never held while
//     waiting for a process or for another lock, so it is always short.
//
//   - Each container's lock, <id>/lock, is held across a whole change of
//     that container's state: start (until its monitor reports the command
//     runs), stop (until the record says exited), restart, rm, and the
//     repair of a record whose monitor died. Two such changes of one
//     container never interleave, so five parallel starts make one monitor,
//     and the other four find the container running; while changes of
//     different containers, and every reader, go on unhindered. A
//     root-wide lock held that long (a stop waits up to its grace period)
//     would stall every command on the machine; podman gives each
//     container a lock of its own for the same reason. A monitor inherits the lock from the
//     command that started it (the same open file, so the same lock) and
//     lets go once it has reported, so that a start killed halfway cannot
//     let a second monitor in. kill takes no lock: it only signals a
//     process it has identified by pid and start time, the monitor records
//     the effect, and it must be able to cut a stop's grace period short.
//
// Order, so that no two commands wait for each other: a container's lock
// first, then the root lock, never the reverse; one container's lock at a
// time; and under the root lock (or the image store's) a container's lock
// is only tried, never waited for. The lock file lives in the container's
// directory, so it goes with the container: a command that waited for
// the lock of a container that was removed meanwhile finds that the path
// no longer names the file it locked, and reports the container gone.
//
// A third flock, <id>/waiters.lock (the container package's), is held
// shared by each `wait` and taken exclusive by the monitor of a --rm
// container before it removes the record. It comes before the container's
// lock: a waiter never waits for a container's lock while holding it, and
// the monitor waits for the waiters only for a bounded time.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotFound is wrapped by the error for an unknown container.
var ErrNotFound = errors.New("no such container")

// Store is the containers' part of the state root.
type Store struct {
	Root string // the state root, e.g. /var/lib/minidocker
}

// Open makes the containers directory if it does not exist. The state
// root is root's alone (0700): image layers and writable layers hold files
// that root in a container made, setuid programs among them, which a user
// of the host must not be able to reach and run. The one exception is
// --userns-remap's: its containers' root, whose host group the state root
// then has, may pass through (0710, see container's searchable).
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the state directory %s: %w (set MINIDOCKER_ROOT or --root to a writable directory)", dir, err)
	}
	info, err := os.Stat(root)
	if err == nil && info.Mode().Perm()&0o067 != 0 {
		err = os.Chmod(root, info.Mode().Perm()&^0o067)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{Root: root}
	if err := s.openNames(); err != nil {
		return nil, err
	}
	return s, nil
}

// openNames makes the names index. A state root from before the index
// existed gets one from its records, once.
func (s *Store) openNames() error {
	dir := filepath.Join(s.Root, "names")
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	list, _, err := s.List()
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("make the names index %s: %w", dir, err)
	}
	for _, c := range list {
		if err := os.WriteFile(filepath.Join(tmp, c.Name), []byte(c.ID), 0o600); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("make the names index %s: %w", dir, err)
	}
	os.RemoveAll(tmp) // left only when another command made the index first
	return nil
}

// Dir is the directory of container id.
func (s *Store) Dir(id string) string {
	return filepath.Join(s.Root, "containers", id)
}

// Lock takes the store's exclusive lock; call the returned function to
// release it. Hold it briefly: every command waits for it.
func (s *Store) Lock() (func(), error) {
	path := filepath.Join(s.Root, "containers.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// NewID returns a fresh container id: 64 hex digits, as Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Short is an id as ps shows it: its first 12 hex digits.
func Short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Save writes a record: to a temporary file, then renamed into place.
// The caller holds the lock.
func (s *Store) Save(c *Container) error {
	s.changed()
	return WriteJSON(filepath.Join(s.Dir(c.ID), "config.json"), c)
}

// WriteJSON writes v as JSON to path through a temporary file and rename.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// Get reads one record by its full id.
func (s *Store) Get(id string) (*Container, error) {
	return readRecord(filepath.Join(s.Dir(id), "config.json"), id)
}

// readRecord reads the record at path, container id's.
func readRecord(path, id string) (*Container, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, &CorruptError{ID: id, Path: path, Err: err}
	}
	return c, nil
}

// CorruptError is a record that cannot be decoded. It carries the id, so
// that rm -f can remove the container without its record.
type CorruptError struct {
	ID, Path string
	Err      error
}

// Error says which record, why, and how to get rid of it.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("container %s: corrupt record %s: %v (remove it with: minidocker rm -f %s)", Short(e.ID), e.Path, e.Err, Short(e.ID))
}

// Unwrap is the decoding error.
func (e *CorruptError) Unwrap() error { return e.Err }

// MakeDir makes a new container's directory and takes its lock, which no
// one else can hold yet. The caller holds the root lock and saves the
// record before letting go of it, so that no one sees the directory
// without its record.
func (s *Store) MakeDir(id string) (unlock func(), err error) {
	if err := os.Mkdir(s.Dir(id), 0o755); err != nil {
		return nil, fmt.Errorf("make the container's directory: %w", err)
	}
	unlock, ok, err := s.TryLockContainer(id)
	if err == nil && !ok {
		err = fmt.Errorf("lock %s: held by another process", s.lockPath(id))
	}
	if err != nil {
		os.RemoveAll(s.Dir(id))
		return nil, err
	}
	return unlock, nil
}

// List reads every record, newest first. A directory without a record
// (a create that crashed before its first save) is skipped and listed in
// incomplete, for the caller to remove. Names that begin with a dot are
// not containers (a removal of the old kind is moved to removing/). A
// corrupt record is an error (see ListAll).
func (s *Store) List() (list []*Container, incomplete []string, err error) {
	list, incomplete, corrupt, err := s.ListAll()
	if err == nil && len(corrupt) > 0 {
		err = corrupt[0]
	}
	if err != nil {
		return nil, nil, err
	}
	return list, incomplete, nil
}

// ListAll is List, with the records that cannot be decoded listed in
// corrupt instead of failing: for cleanup, which must remove every
// container whatever one record holds.
func (s *Store) ListAll() (list []*Container, incomplete []string, corrupt []*CorruptError, err error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "containers"))
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), legacyRemoving) {
			s.adoptLegacy(e.Name())
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, err := s.Get(e.Name())
		bad := (*CorruptError)(nil)
		switch {
		case errors.Is(err, ErrNotFound):
			incomplete = append(incomplete, e.Name())
		case errors.As(err, &bad):
			corrupt = append(corrupt, bad)
		case err != nil:
			return nil, nil, nil, err
		default:
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	return list, incomplete, corrupt, nil
}

// Find resolves what a user typed: a name, a full id, or a unique prefix of
// an id. An ambiguous prefix is refused, naming the candidates. It reads
// at most the records it may return: a full id's, a name's through the
// names index, or those whose directory name starts with the prefix; so
// that `rm` of a thousand containers costs a thousand lookups, not a
// thousand listings of every record.
func (s *Store) Find(ref string) (*Container, error) {
	ref = strings.TrimPrefix(ref, "/")
	if ref == "" || strings.ContainsAny(ref, "/") || strings.HasPrefix(ref, ".") {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	for _, id := range []string{ref, s.NameInUse(ref)} { // a full id, then a name
		if id == "" {
			continue
		}
		if c, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			return c, err
		}
	}
	matches, corrupt, err := s.withPrefix(ref)
	if err != nil {
		return nil, err
	}
	switch {
	case len(matches)+len(corrupt) > 1:
		var ids []string
		for _, c := range matches {
			ids = append(ids, Short(c.ID))
		}
		for _, bad := range corrupt {
			ids = append(ids, Short(bad.ID))
		}
		return nil, fmt.Errorf("%q matches %d containers (%s): give more of the id", ref, len(ids), strings.Join(ids, ", "))
	case len(corrupt) == 1:
		return nil, corrupt[0]
	case len(matches) == 1:
		return matches[0], nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// withPrefix reads the records whose id starts with prefix, newest first,
// and lists apart those that cannot be read (so that a prefix that also
// matches a corrupt record stays ambiguous); only their directory names
// are read of the others.
func (s *Store) withPrefix(prefix string) ([]*Container, []*CorruptError, error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "containers"))
	if err != nil {
		return nil, nil, err
	}
	var list []*Container
	var corrupt []*CorruptError
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		c, err := s.Get(e.Name())
		bad := (*CorruptError)(nil)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // a create that has not saved its record, or a removal
		case errors.As(err, &bad):
			corrupt = append(corrupt, bad)
		case err != nil:
			return nil, nil, err
		default:
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	return list, corrupt, nil
}

// NameInUse returns the id of the container called name, or "". It reads
// one file of the names index, not every record, so that run costs the
// same with ten containers or a thousand. A name whose record is gone (a
// crash between claiming the name and writing the record) is free again;
// one whose container is being removed is not, until the removal is
// finished (remove.go).
func (s *Store) NameInUse(name string) string {
	data, err := os.ReadFile(s.namePath(name))
	if err != nil {
		return ""
	}
	id := string(data)
	if id == "" || strings.ContainsAny(id, "/.") {
		return ""
	}
	for _, path := range []string{filepath.Join(s.Dir(id), "config.json"), s.RemovingDir(id)} {
		if _, err := os.Lstat(path); err == nil {
			return id
		}
	}
	return ""
}

// ClaimName records that name is id's. The caller holds the lock and has
// checked NameInUse; the record itself comes next, with Save.
func (s *Store) ClaimName(name, id string) error {
	path := s.namePath(name)
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(id), 0o600); err != nil {
		return fmt.Errorf("claim the name %q: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("claim the name %q: %w", name, err)
	}
	return nil
}

// namePath is the names index's file for name (a valid container name
// has no '/' and does not start with '.').
func (s *Store) namePath(name string) string {
	return filepath.Join(s.Root, "names", name)
}

// now is the time records use, in UTC as Docker writes it.
func now() time.Time { return time.Now().UTC() }

// ErrNameInUse is wrapped by Rename's error for a name another container has.
var ErrNameInUse = errors.New("name in use")

// Rename gives container id the name name, in its record and in the names
// index, under the root lock: the new name is claimed first, the record
// saved, and only then is the old name given back, so that no moment
// leaves the container without a name or lets two containers share one.
// (A crash before the last step leaves the old name pointing at id: still
// taken, as if reserved, until the container is removed.)
func (s *Store) Rename(id, name string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.Get(id)
	if err != nil {
		return err
	}
	if other := s.NameInUse(name); other != "" && other != id {
		return fmt.Errorf("%w: %s", ErrNameInUse, other)
	}
	old := c.Name
	if err := s.ClaimName(name, id); err != nil {
		return err
	}
	c.Name = name
	if err := s.Save(c); err != nil {
		os.Remove(s.namePath(name))
		return err
	}
	if data, err := os.ReadFile(s.namePath(old)); err == nil && string(data) == id {
		if err := os.Remove(s.namePath(old)); err != nil {
			return fmt.Errorf("give back the name %q: %w", old, err)
		}
	}
	s.Emit(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}
