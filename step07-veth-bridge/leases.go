//go:build linux

// Leases: which container has which address. The containers on the
// bridge share one small JSON file, /run/minidocker/net-INODE/minidocker0.json,
// where INODE names the network namespace the bridge lives in (the inode
// of /proc/self/ns/net); /run is a tmpfs, emptied at boot, when the
// bridges are gone too. Every run that reads or changes it holds flock(2)
// on it meanwhile, so two runs never take one address.
//
// A lease records its owner: the pid of the host side that took it and
// the time that process started. A pid alone may be reused by an unrelated
// process after a crash; pid and start time together cannot be. A lease
// whose owner is gone was left by a killed run, and the next run (or
// "minidocker cleanup") reclaims it. The file also records whether a run
// of ours made the bridge and what ip_forward was before, so that the
// last container can undo both; with nothing left to undo, it is removed.
//
// final/internal/network reads and writes the same file, so that a run of
// this step and minidocker can share the bridge. It keeps its allocator
// apart from the file, so that it is tested without root (ipam.go and
// state.go there), and adds what this step leaves out: other subnets and
// bridges, host port ranges and addresses for -p, and a check that the
// subnet is not routed on the host already.

package main

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
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// leaseDir keeps the lease files, one directory per network namespace.
const leaseDir = "/run/minidocker"

// owner identifies the process that holds a lease.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // field 22 of /proc/PID/stat, see proc(5)
}

// allocation is one container's lease.
type allocation struct {
	Owner owner         `json:"owner"`
	Addr  netip.Addr    `json:"addr"`
	Veth  string        `json:"veth"` // the host end of its veth pair
	Ports []portMapping `json:"ports,omitempty"`
}

// leases is the lease file, open and locked, with what it says.
type leases struct {
	file        *os.File
	path        string
	Subnet      netip.Prefix `json:"subnet"`
	OwnBridge   bool         `json:"ownBridge"`            // we created the bridge, so we delete it
	ForwardWas  string       `json:"forwardWas,omitempty"` // ip_forward before the first container
	Allocations []allocation `json:"allocations"`
}

// lockLeases opens the lease file, creating it, locks it and reads it.
func lockLeases() (*leases, error) {
	netns, err := os.Readlink("/proc/self/ns/net") // net:[4026531840]
	if err != nil {
		return nil, err
	}
	path := filepath.Join(leaseDir, "net-"+strings.Trim(netns, "net:[]"), bridgeName+".json")
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
		// The last run to leave removes the file. If it did so while we
		// waited for the lock, we hold a lock nobody else will ask for.
		var held, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &named) != nil || held.Ino != named.Ino {
			f.Close()
			continue
		}
		return readLeases(f, path)
	}
	return nil, fmt.Errorf("lock %s: it keeps disappearing", path)
}

// readLeases reads the locked file f; a new, empty one holds no lease.
func readLeases(f *os.File, path string) (*leases, error) {
	l := &leases{file: f, path: path, Subnet: subnet}
	data, err := io.ReadAll(f)
	if err == nil && len(bytes.TrimSpace(data)) > 0 {
		err = json.Unmarshal(data, l)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is damaged (%w): remove it, and the bridge and nft table it names", path, err)
	}
	return l, nil
}

// save writes the file, still holding the lock.
func (l *leases) save() error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err == nil {
		err = l.file.Truncate(0)
	}
	if err == nil {
		_, err = l.file.WriteAt(append(data, '\n'), 0)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return nil
}

// unlock saves the file and lets go of the lock; a file with nothing left
// to undo is removed instead, with its directory if that is empty.
func (l *leases) unlock() error {
	defer l.file.Close() // which releases the flock
	if len(l.Allocations) > 0 || l.OwnBridge || l.ForwardWas != "" {
		return l.save()
	}
	err := os.Remove(l.path)
	_ = os.Remove(filepath.Dir(l.path)) // fails while minidocker has another bridge there
	_ = os.Remove(leaseDir)
	return err
}

// take gives o the lowest free address of the subnet, after checking that
// no other container publishes the same host ports.
func (l *leases) take(o owner, veth string, ports []portMapping) (netip.Addr, error) {
	used := map[netip.Addr]bool{gateway: true}
	taken := map[portMapping]int{}
	for _, a := range l.Allocations {
		used[a.Addr] = true
		for _, p := range a.Ports {
			taken[portMapping{Proto: p.Proto, Host: p.Host}] = a.Owner.PID
		}
	}
	for _, p := range ports {
		if pid, ok := taken[portMapping{Proto: p.Proto, Host: p.Host}]; ok {
			return netip.Addr{}, fmt.Errorf("host port %d/%s is already published by the container of pid %d", p.Host, p.Proto, pid)
		}
		taken[portMapping{Proto: p.Proto, Host: p.Host}] = o.PID
	}
	// From .2 up; the last address of the subnet is its broadcast address.
	for addr := gateway.Next(); subnet.Contains(addr.Next()); addr = addr.Next() {
		if !used[addr] {
			l.Allocations = append(l.Allocations, allocation{Owner: o, Addr: addr, Veth: veth, Ports: ports})
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s: all %d are in use", subnet, len(l.Allocations))
}

// drop removes o's lease and returns it; ok is false if o had none.
func (l *leases) drop(o owner) (a allocation, ok bool) {
	for i, a := range l.Allocations {
		if a.Owner == o {
			l.Allocations = append(l.Allocations[:i:i], l.Allocations[i+1:]...)
			return a, true
		}
	}
	return allocation{}, false
}

// dropDead removes the leases whose owner is gone and returns them.
func (l *leases) dropDead() (dead []allocation) {
	kept := l.Allocations[:0:0]
	for _, a := range l.Allocations {
		if now, err := ownerOf(a.Owner.PID); err == nil && now == a.Owner {
			kept = append(kept, a)
		} else {
			dead = append(dead, a)
		}
	}
	l.Allocations = kept
	return dead
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
