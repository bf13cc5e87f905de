package state

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// otherHolder takes container id's lock as another process would: on an
// open file of its own (flock belongs to the open file, not the process).
func otherHolder(t *testing.T, s *Store, id string, wait bool) (*os.File, bool) {
	t.Helper()
	f, err := os.Open(s.lockPath(id))
	if err != nil {
		t.Fatal(err)
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false
		}
		t.Fatal(err)
	}
	return f, true
}

// TestContainerLock checks the container lock: exclusive against others,
// reentrant within the process, and a wait for the lock of a container
// removed meanwhile (before or after the wait began) ends in ErrNotFound,
// not in a lock on a dead file; and a name stays taken until its
// container's removal is finished.
func TestContainerLock(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockContainer("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lock of a container that does not exist: %v", err)
	}
	unlock, err := s.MakeDir("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimName("x", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&Container{ID: "a", Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := otherHolder(t, s, "a", false); ok {
		t.Fatal("another holder got the lock of a new container")
	}
	again, ok, err := s.TryLockContainer("a")
	if err != nil || !ok {
		t.Fatalf("the holder could not take its own lock again: %v, %v", ok, err)
	}
	again()
	if _, ok := otherHolder(t, s, "a", false); ok {
		t.Fatal("an inner release let go of the lock")
	}
	unlock()
	other, ok := otherHolder(t, s, "a", false)
	if !ok {
		t.Fatal("the lock is still held after the last release")
	}
	if _, ok, _ := s.TryLockContainer("a"); ok {
		t.Error("TryLockContainer took a lock another holds")
	}
	got := make(chan error)
	go func() {
		unlock, err := s.LockContainer("a")
		if err == nil {
			unlock()
		}
		got <- err
	}()
	if err := s.BeginRemove("a"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if err := <-got; !errors.Is(err, ErrNotFound) {
		t.Errorf("a wait for the lock of a container removed meanwhile gave %v, want ErrNotFound", err)
	}
	if list, _, _ := s.List(); len(list) != 0 {
		t.Errorf("a container being removed is listed: %v", list[0])
	}
	if id := s.NameInUse("x"); id != "a" {
		t.Errorf("while its container is being removed, the name is in use by %q", id)
	}
	if err := s.FinishRemove("a"); err != nil {
		t.Fatal(err)
	}
	if id := s.NameInUse("x"); id != "" {
		t.Errorf("after the removal, the name is in use by %q", id)
	}
	if entries, _ := os.ReadDir(s.RemovingDir("a")); len(entries) != 0 {
		t.Errorf("left: %v", entries)
	}
}
