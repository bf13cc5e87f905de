//go:build linux

// The state on disk: one JSON file per bridge, in a directory per network
// namespace, /run/minidocker/net-INODE/BRIDGE.json, in step 07's format
// (fileState below), so that both programs read and write the same file.
// A bridge lives in one network namespace, so its record does too; /run
// is a tmpfs, emptied at boot, when the bridges are gone as well.
//
// What step 07 does not know, a published port's host address, goes to
// BRIDGE.hostip beside it (see the package doc). It is written under the
// lock of BRIDGE.json, and an entry whose owner has no lease is dropped.
//
// Every change holds flock(2) on BRIDGE.json. A record with nothing left
// to undo is removed (a kept bridge is something to undo); a run that was waiting for the lock meanwhile then
// holds it on a file nobody else will open, so lockState checks, once it
// has the lock, that the path still names the file it locked.

package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
)

// stateDir keeps the network state, one directory per network namespace.
const stateDir = "/run/minidocker"

// fileState is step 07's ipamState, field for field and tag for tag.
type fileState struct {
	Subnet      netip.Prefix `json:"subnet"`
	OwnBridge   bool         `json:"ownBridge"`
	ForwardWas  string       `json:"forwardWas,omitempty"`
	Allocations []fileLease  `json:"allocations"`
}

// fileLease is step 07's allocation.
type fileLease struct {
	Owner owner      `json:"owner"`
	Addr  netip.Addr `json:"addr"`
	Veth  string     `json:"veth"`
	Ports []filePort `json:"ports,omitempty"`
}

// filePort is step 07's portMapping.
type filePort struct {
	Proto     string `json:"proto"`
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
}

// hostIPEntry is one line of BRIDGE.hostip: an owner's ports with their host addresses.
type hostIPEntry struct {
	Owner owner         `json:"owner"`
	Ports []PortMapping `json:"ports"`
}

// lockedState is the state file of one bridge, open and locked.
type lockedState struct {
	file *os.File
	path string
	s    ipamState
}

// netnsDir is the state directory of the calling thread's network namespace.
func netnsDir() (string, error) {
	link, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		return "", fmt.Errorf("readlink /proc/thread-self/ns/net: %w", err)
	}
	inode := strings.Trim(strings.TrimPrefix(link, "net:"), "[]") // net:[4026531840]
	return filepath.Join(stateDir, "net-"+inode), nil
}

// statePath is the state file of bridge in the calling thread's network namespace.
func statePath(bridge string) (string, error) {
	dir, err := netnsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, bridge+".json"), nil
}

// hostIPPath is the file beside a state file with its ports' host addresses.
func hostIPPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".hostip"
}

// lockState opens the state file at path, creating it, takes its lock and
// reads it; unlock saves it and lets go.
func lockState(path string) (*lockedState, error) {
	for try := 0; try < 100; try++ {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("mkdir %s: %w", filepath.Dir(path), err)
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
			return nil, fmt.Errorf("flock %s LOCK_EX: %w", path, err)
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

// read loads the state and the host addresses; a new, empty file is an empty state.
func (l *lockedState) read() error {
	data, err := io.ReadAll(l.file)
	if err != nil {
		return fmt.Errorf("read %s: %w", l.path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var fst fileState
	if err := json.Unmarshal(data, &fst); err != nil {
		bridge := strings.TrimSuffix(filepath.Base(l.path), ".json")
		return fmt.Errorf("%s is damaged (%w): remove it, and the bridge and nft table it names (ip link del %s; nft delete table ip %s)", l.path, err, bridge, bridge)
	}
	var extra []hostIPEntry
	if data, err := os.ReadFile(hostIPPath(l.path)); err == nil {
		_ = json.Unmarshal(data, &extra) // damaged: ports answer on every address, as with step 07
	}
	l.s = fromFile(fst, extra)
	return nil
}

// fromFile makes the state from step 07's record and our host addresses.
func fromFile(fst fileState, extra []hostIPEntry) ipamState {
	s := ipamState{Subnet: fst.Subnet, OwnBridge: fst.OwnBridge, ForwardWas: fst.ForwardWas}
	for _, a := range fst.Allocations {
		l := lease{Owner: a.Owner, Addr: a.Addr, Veth: a.Veth}
		for _, p := range a.Ports {
			m := PortMapping{HostPort: p.Host, ContainerPort: p.Container, Proto: p.Proto}
			m.HostIP = hostIPOf(extra, a.Owner, m)
			l.Ports = append(l.Ports, m)
		}
		s.Leases = append(s.Leases, l)
	}
	return s
}

// hostIPOf finds the host address that extra records for o's mapping m.
func hostIPOf(extra []hostIPEntry, o owner, m PortMapping) string {
	for _, e := range extra {
		for _, p := range e.Ports {
			if e.Owner == o && p.HostPort == m.HostPort && p.ContainerPort == m.ContainerPort && p.Proto == m.Proto {
				return p.HostIP
			}
		}
	}
	return ""
}

// toFile splits the state into step 07's record and our host addresses.
func toFile(s ipamState) (fileState, []hostIPEntry) {
	fst := fileState{Subnet: s.Subnet, OwnBridge: s.OwnBridge, ForwardWas: s.ForwardWas, Allocations: []fileLease{}}
	var extra []hostIPEntry
	for _, l := range s.Leases {
		a := fileLease{Owner: l.Owner, Addr: l.Addr, Veth: l.Veth}
		var withIP []PortMapping
		for _, p := range l.Ports {
			a.Ports = append(a.Ports, filePort{Proto: p.Proto, Host: p.HostPort, Container: p.ContainerPort})
			if p.HostIP != "" {
				withIP = append(withIP, p)
			}
		}
		if len(withIP) > 0 {
			extra = append(extra, hostIPEntry{Owner: l.Owner, Ports: withIP})
		}
		fst.Allocations = append(fst.Allocations, a)
	}
	return fst, extra
}

// save writes the state back, still holding the lock.
func (l *lockedState) save() error {
	fst, extra := toFile(l.s)
	data, err := json.MarshalIndent(fst, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", l.path, err)
	}
	if err := l.file.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", l.path, err)
	}
	if _, err := l.file.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return saveHostIPs(hostIPPath(l.path), extra)
}

// saveHostIPs writes BRIDGE.hostip, or removes it when no port has a host address.
func saveHostIPs(path string, extra []hostIPEntry) error {
	if len(extra) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	data, err := json.MarshalIndent(extra, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}

// empty reports whether the state has nothing left to undo.
func (l *lockedState) empty() bool {
	return len(l.s.Leases) == 0 && !l.s.OwnBridge && l.s.ForwardWas == ""
}

// unlock saves the state and lets go of the lock. A state with nothing
// left to undo is removed instead, with its directory if that is empty.
func (l *lockedState) unlock() error {
	defer l.file.Close() // which releases the flock
	if !l.empty() {
		return l.save()
	}
	err := saveHostIPs(hostIPPath(l.path), nil)
	if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", l.path, rmErr))
	}
	_ = os.Remove(filepath.Dir(l.path)) // fails while another bridge has a file there
	_ = os.Remove(stateDir)             // fails while another namespace, or anything else, has one
	return err
}

// ownerOf identifies a live process by its pid and start time.
func ownerOf(pid int) (owner, error) {
	st, err := procfs.ReadStat(pid)
	return owner{PID: pid, Start: st.Start}, err
}

// ownerAlive reports whether the process that holds a lease still runs;
// a zombie has ended, whoever has yet to reap it.
func ownerAlive(o owner) bool {
	return procfs.Alive(o.PID, o.Start)
}
