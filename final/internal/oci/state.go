//go:build linux

// The OCI runtime's records: one directory per container under the root
// (--root, /run/minidocker-runc by default, on tmpfs like runc's /run/runc:
// a reboot ends every container, so their records go too). It holds
// state.json and, between create and start, exec.fifo. Each command locks
// the container's directory (flock) while it reads or changes it.
//
// The status is not stored, it is observed: no process yet is "creating",
// a dead (or reused) pid is "stopped", a live one is "created" while
// exec.fifo exists (start removes it) and "running" after.

package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// DefaultRoot is where records live without --root.
const DefaultRoot = "/run/minidocker-runc"

// Record is one container, as state.json holds it.
type Record struct {
	ID          string              `json:"id"`
	Bundle      string              `json:"bundle"`
	Rootfs      string              `json:"rootfs"`
	Pid         int                 `json:"pid"`
	StartTime   uint64              `json:"startTime"` // the pid's, in clock ticks after boot: tells a reused pid
	Created     time.Time           `json:"created"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	Cgroup      string              `json:"cgroup"` // its path below the cgroup root(s)
	Hooks       *specs.Hooks        `json:"hooks,omitempty"`
	Process     *specs.Process      `json:"process"`           // exec's defaults; no args: the config had none
	Seccomp     *specs.LinuxSeccomp `json:"seccomp,omitempty"` // the filter exec's processes get too
}

// Store is the records under one root.
type Store struct{ Root string }

// validID is what a container id may be: it names a directory.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]*$`)

// CheckID refuses an id that could not name a directory of its own.
func CheckID(id string) error {
	if !validID.MatchString(id) || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '.', '+' and '-'", id)
	}
	return nil
}

// Dir is a container's directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Fifo is the container's exec.fifo.
func (s *Store) Fifo(id string) string { return filepath.Join(s.Root, id, "exec.fifo") }

// Make makes a new container's directory, locked, and its FIFO; the
// caller unlocks.
func (s *Store) Make(id string) (unlock func(), err error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("make the state root %s: %w", s.Root, err)
	}
	if err := os.Mkdir(s.Dir(id), 0o711); errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("container %q already exists: delete it first, or choose another id", id)
	} else if err != nil {
		return nil, fmt.Errorf("make %s: %w", s.Dir(id), err)
	}
	unlock, err = s.Lock(id)
	if err == nil {
		err = unix.Mkfifo(s.Fifo(id), 0o600)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("make %s: %w", s.Fifo(id), err), os.RemoveAll(s.Dir(id)))
	}
	return unlock, nil
}

// Lock takes the container's lock: an flock on its directory.
func (s *Store) Lock(id string) (func(), error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	fd, err := unix.Open(s.Dir(id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Dir(id), err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", s.Dir(id), err)
	}
	return func() { unix.Close(fd) }, nil
}

// Save writes the record: a temporary file, then rename.
func (s *Store) Save(r *Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	path := filepath.Join(s.Dir(r.ID), "state.json")
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(path+".tmp", path)
}

// Get reads a container's record.
func (s *Store) Get(id string) (*Record, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Stat(s.Dir(id)); statErr == nil {
			return &Record{ID: id}, nil // create has not written it yet
		}
		return nil, fmt.Errorf("container %q does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	r := &Record{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("record of %s: %w", id, err)
	}
	return r, nil
}

// List are the ids of every container under the root.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && CheckID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, err
}

// Remove deletes a container's directory.
func (s *Store) Remove(id string) error {
	return os.RemoveAll(s.Dir(id))
}

// Status observes what state a container is in (see the file comment).
func (s *Store) Status(r *Record) specs.ContainerState {
	switch {
	case r.Pid == 0:
		return specs.StateCreating
	case !procfs.Alive(r.Pid, r.StartTime):
		return specs.StateStopped
	}
	if _, err := os.Stat(s.Fifo(r.ID)); err == nil {
		return specs.StateCreated
	}
	if cgroups.LoadPath(r.Cgroup).Frozen() {
		return StatePaused
	}
	return specs.StateRunning
}

// StatePaused is a running container whose cgroup is frozen (`pause`).
// The runtime-spec names no such status; runc reports it, and podman and
// containerd read it.
const StatePaused specs.ContainerState = "paused"

// State is the record as the runtime-spec's state (`state`, and the hooks' stdin).
func (s *Store) State(r *Record) specs.State {
	st := specs.State{
		Version: specs.Version, ID: r.ID, Status: s.Status(r), Bundle: r.Bundle, Annotations: r.Annotations,
	}
	if st.Status == specs.StateCreated || st.Status == specs.StateRunning {
		st.Pid = r.Pid
	}
	return st
}
