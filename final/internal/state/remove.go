//go:build linux

// Removing a container, so that a crash at any moment leaves something
// the next command can finish. Removal has two steps:
//
//  1. BeginRemove renames <root>/containers/<id> to <root>/removing/<id>,
//     under the root lock. One rename(2): before it the container is
//     whole, after it no listing, ps, inspect or name lookup finds it.
//     Its name stays taken: NameInUse counts a removal in progress, so
//     no second container gets the name while the first still has files
//     (or a cgroup, a lease, a mount) on this host.
//  2. FinishRemove deletes removing/<id> and then gives the name back.
//
// The caller (the container package) releases what the record still
// names between the two steps. If a command dies anywhere in between,
// removing/<id> stays; every command begins by finishing such removals
// (Removals, TryLockRemoval), so a killed rm leaves no ghost: the
// container is gone from every listing at once, and its files, its name
// and what it held follow at the next command. The lock file moves with
// the directory, so a removal whose command is still alive (and holds the
// lock) is left to it.

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// legacyRemoving is how removals in progress were named before removing/
// existed: a directory in containers/ that ps then listed as a ghost.
const legacyRemoving = ".removing-"

// RemovingDir is where container id's files are while it is being removed.
func (s *Store) RemovingDir(id string) string {
	return filepath.Join(s.Root, "removing", id)
}

// BeginRemove takes container id out of every listing and lookup, in one
// rename under the root lock; its name stays taken until FinishRemove.
// The caller holds the container's lock and has stopped it.
func (s *Store) BeginRemove(id string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.beginRemove(id)
}

// beginRemove is BeginRemove with the root lock held.
func (s *Store) beginRemove(id string) error {
	if err := os.MkdirAll(filepath.Join(s.Root, "removing"), 0o700); err != nil {
		return fmt.Errorf("remove container %s: %w", Short(id), err)
	}
	s.changed()
	if err := os.Rename(s.Dir(id), s.RemovingDir(id)); err != nil {
		return fmt.Errorf("remove container %s: rename %s: %w", Short(id), s.Dir(id), err)
	}
	return nil
}

// RemoveIncomplete begins the removal of a directory that has no record:
// a create killed before its first save. Under the root lock (which a
// create holds from making the directory to saving the record), a
// directory without a record is never a create still at work.
func (s *Store) RemoveIncomplete(id string) error {
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(filepath.Join(s.Dir(id), "config.json")); !errors.Is(err, os.ErrNotExist) {
		return nil // it has its record now, or is not ours to judge
	}
	f, err := os.OpenFile(s.lockPath(id), os.O_CREATE|os.O_RDONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("remove the incomplete container %s: %w", Short(id), err)
	}
	f.Close() // a create of an older minidocker made none (see TryLockRemoval)
	return s.beginRemove(id)
}

// Removals lists the containers whose removal began and has not finished.
func (s *Store) Removals() []string {
	entries, _ := os.ReadDir(filepath.Join(s.Root, "removing"))
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// TryLockRemoval takes the lock of a container being removed; ok is
// false while a live command holds it (it is still removing the
// container), or when the removal is complete. A removal deletes the
// lock file only when nothing is left but the record: with no lock file,
// whoever finishes the removal deletes the record and the directory,
// which two can do at once.
func (s *Store) TryLockRemoval(id string) (unlock func(), ok bool) {
	unlock, ok, err := lockFile(filepath.Join(s.RemovingDir(id), "lock"), lockOpts{})
	if errors.Is(err, os.ErrNotExist) {
		_, err := os.Lstat(s.RemovingDir(id))
		return func() {}, err == nil
	}
	if err != nil {
		return nil, false
	}
	return unlock, ok
}

// RemovingRecord reads the record of a container being removed, so that
// what it names can be released; an error if it was deleted already.
func (s *Store) RemovingRecord(id string) (*Container, error) {
	return readRecord(filepath.Join(s.RemovingDir(id), "config.json"), id)
}

// RemovingName is the name of container id, being removed: from its
// record, or, once a killed command has deleted the record (FinishRemove
// deletes it last but for the directory itself), from the names index.
func (s *Store) RemovingName(id string) string {
	if c, err := s.RemovingRecord(id); err == nil {
		return c.Name
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root, "names"))
	for _, e := range entries {
		if data, err := os.ReadFile(s.namePath(e.Name())); err == nil && string(data) == id {
			return e.Name()
		}
	}
	return ""
}

// FinishRemove deletes what is left of container id, its lock file and
// its record last, then gives its name back. The caller holds its lock
// (or found the lock file gone) and has released what the record names.
// While the lock file exists, another command knows by its lock whether
// the removal's command is alive; while the record exists, it says what
// to release and which name to give back.
func (s *Store) FinishRemove(id string) error {
	name := s.RemovingName(id)
	dir := s.RemovingDir(id)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", Short(id), err)
	}
	for _, e := range entries {
		if e.Name() != "lock" && e.Name() != "config.json" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove container %s: %w", Short(id), err)
			}
		}
	}
	os.Remove(filepath.Join(dir, "lock"))
	os.Remove(filepath.Join(dir, "config.json"))
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", Short(id), err)
	}
	if name == "" {
		return nil // no record and no index entry: nothing to give back
	}
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if data, err := os.ReadFile(s.namePath(name)); err == nil && string(data) == id {
		os.Remove(s.namePath(name))
	}
	return nil
}

// adoptLegacy moves a removal in progress of the old kind into removing/,
// where the next command finishes it.
func (s *Store) adoptLegacy(entry string) {
	id := strings.TrimPrefix(entry, legacyRemoving)
	if id == entry || id == "" || strings.ContainsAny(id, "/.") {
		return
	}
	old := filepath.Join(s.Root, "containers", entry)
	if f, err := os.OpenFile(filepath.Join(old, "lock"), os.O_CREATE|os.O_RDONLY|unix.O_CLOEXEC, 0o600); err == nil {
		f.Close() // every removal has its lock file (see TryLockRemoval)
	}
	if os.MkdirAll(filepath.Join(s.Root, "removing"), 0o700) == nil {
		_ = os.Rename(old, s.RemovingDir(id))
	}
}
