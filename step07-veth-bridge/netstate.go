//go:build linux

// The network state on disk: one JSON file per bridge, in a directory per
// network namespace, /run/minidocker/net-INODE/BRIDGE.json. A bridge lives
// in one network namespace, so its record does too: the inode of
// /proc/self/ns/net names the namespace as long as it exists. /run is a
// tmpfs, emptied at boot, when the bridges are gone as well.
//
// Every run that changes the state holds flock(2) on the file while it
// does. The last run to leave removes the file; a run that was waiting
// for the lock meanwhile then holds it on a file nobody else will open,
// and so checks, once it has the lock, that the path still names the
// file it locked (as a lock-file loop in any careful program does).

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockedState is the state file of one bridge, open and locked.
type lockedState struct {
	file *os.File
	path string
	s    ipamState
}

// statePath is the state file of bridge in this process's network namespace.
func statePath(bridge string) (string, error) {
	link, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return "", err
	}
	inode := strings.Trim(strings.TrimPrefix(link, "net:"), "[]") // net:[4026531840]
	return filepath.Join(stateDir, "net-"+inode, bridge+".json"), nil
}

// lockState opens the state file at path, creating it, takes its lock and
// reads it; unlock saves it and lets go.
func lockState(path string) (*lockedState, error) {
	for try := 0; try < 100; try++ {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the last run removed the directory just now
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("flock(%s, LOCK_EX): %w", path, err)
		}
		if !stillNamed(f, path) {
			f.Close() // removed while we waited: lock the new one
			continue
		}
		l := &lockedState{file: f, path: path}
		if err := l.read(); err != nil {
			f.Close()
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("lock %s: it keeps disappearing", path)
}

// stillNamed reports whether path still names the open file f.
func stillNamed(f *os.File, path string) bool {
	var held, named unix.Stat_t
	return unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &named) == nil &&
		held.Dev == named.Dev && held.Ino == named.Ino
}

// read loads the state; a new, empty file is an empty state.
func (l *lockedState) read() error {
	data, err := io.ReadAll(l.file)
	if err != nil {
		return fmt.Errorf("read %s: %w", l.path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, &l.s); err != nil {
		return fmt.Errorf("%s is damaged (%w): remove it, and any bridge and nft table it names", l.path, err)
	}
	return nil
}

// save writes the state back, still holding the lock.
func (l *lockedState) save() error {
	data, err := json.MarshalIndent(l.s, "", "  ")
	if err != nil {
		return err
	}
	if err := l.file.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", l.path, err)
	}
	if _, err := l.file.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return nil
}

// unlock saves the state and lets go of the lock. A state with nothing
// left to undo is removed instead, with its directory if that is empty.
func (l *lockedState) unlock() error {
	defer l.file.Close() // which releases the flock
	if len(l.s.Allocations) > 0 || l.s.OwnBridge || l.s.ForwardWas != "" {
		return l.save()
	}
	err := os.Remove(l.path)
	_ = os.Remove(filepath.Dir(l.path)) // fails while another bridge has a file there
	_ = os.Remove(stateDir)
	return err
}

// ownerOf identifies a live process by its pid and start time.
func ownerOf(pid int) (owner, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return owner{}, err
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 20 {
		return owner{}, fmt.Errorf("%s: too few fields", path)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64) // field 22, starttime
	if err != nil {
		return owner{}, fmt.Errorf("%s: starttime: %w", path, err)
	}
	return owner{PID: pid, Start: start}, nil
}

// ownerAlive reports whether the process that made an allocation still runs.
func ownerAlive(o owner) bool {
	now, err := ownerOf(o.PID)
	return err == nil && now == o
}
