//go:build linux

// Each container's own lock: an flock(2) on <root>/containers/<id>/lock
// (the package comment says what it guards and in which order locks are
// taken). Within one process it is reentrant: code that needs a
// container's lock takes it whether or not its caller holds it already,
// and only the outermost release lets go. A monitor inherits the lock of
// the command that started it, as an open file, and adopts it here.

package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// heldLock is a lock this process holds: its open file, and how many
// takers have not released it yet.
type heldLock struct {
	f     *os.File
	depth int
}

// held are the container locks this process holds, by lock file path.
var (
	heldMu sync.Mutex
	held   = map[string]*heldLock{}
)

// lockPath is the lock file of container id.
func (s *Store) lockPath(id string) string {
	return filepath.Join(s.Dir(id), "lock")
}

// LockContainer waits for container id's lock and returns the function
// that releases it. A container that does not exist, or that was removed
// while we waited, is ErrNotFound. The caller reads the record again once
// it holds the lock: what it read before may have changed meanwhile.
func (s *Store) LockContainer(id string) (func(), error) {
	unlock, _, err := lockFile(s.lockPath(id), lockOpts{wait: true, create: true})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return unlock, err
}

// TryLockContainer is LockContainer without waiting: ok is false, and
// nothing is held, while another process holds the lock.
func (s *Store) TryLockContainer(id string) (unlock func(), ok bool, err error) {
	unlock, ok, err = lockFile(s.lockPath(id), lockOpts{create: true})
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return unlock, ok, err
}

// LockFile is the open file of container id's lock, which this process
// holds, for a child to inherit (see AdoptLock); nil if it holds none.
func (s *Store) LockFile(id string) *os.File {
	heldMu.Lock()
	defer heldMu.Unlock()
	if h := held[s.lockPath(id)]; h != nil {
		return h.f
	}
	return nil
}

// AdoptLock records that f, inherited from the parent, holds container
// id's lock; the returned function lets go of this process's share (the
// lock itself ends once every process sharing the open file has closed it).
func (s *Store) AdoptLock(id string, f *os.File) func() {
	path := s.lockPath(id)
	heldMu.Lock()
	defer heldMu.Unlock()
	held[path] = &heldLock{f: f, depth: 1}
	return releaser(path)
}

// lockOpts say how lockFile takes a lock.
type lockOpts struct {
	wait   bool // wait while another process holds it; else ok is false at once
	create bool // make the lock file if it is missing
}

// lockFile takes the flock on path. It fails with ErrNotExist when path is
// missing (and not to be made), or when, once the lock is ours, path no
// longer names the file we locked: its container was removed (renamed
// away) meanwhile.
func lockFile(path string, opts lockOpts) (unlock func(), ok bool, err error) {
	heldMu.Lock()
	if h := held[path]; h != nil {
		h.depth++
		heldMu.Unlock()
		return releaser(path), true, nil
	}
	heldMu.Unlock()
	flags := os.O_RDWR | unix.O_CLOEXEC
	if opts.create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open lock %s: %w", path, err)
	}
	how := unix.LOCK_EX
	if !opts.wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("flock %s: %w", path, err)
	}
	if !sameFile(f, path) {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w (removed meanwhile)", path, os.ErrNotExist)
	}
	heldMu.Lock()
	held[path] = &heldLock{f: f, depth: 1}
	heldMu.Unlock()
	return releaser(path), true, nil
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	var open, named unix.Stat_t
	if unix.Fstat(int(f.Fd()), &open) != nil || unix.Stat(path, &named) != nil {
		return false
	}
	return open.Dev == named.Dev && open.Ino == named.Ino
}

// releaser returns the function that releases one take of path's lock;
// calling it again does nothing.
func releaser(path string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			heldMu.Lock()
			defer heldMu.Unlock()
			h := held[path]
			if h == nil {
				return
			}
			if h.depth--; h.depth == 0 {
				h.f.Close()
				delete(held, path)
			}
		})
	}
}
