//go:build linux

// IPAM, IP address management: which address each container gets, and
// which host ports it publishes. The allocator here is pure: it works on a
// state value and knows nothing of files, locks or links, so that it can be
// tested without root (ipam_test.go). network.go loads the state from a
// file under a lock, lets the allocator change it, and saves it.
//
// Addresses come from one subnet per bridge. Its first address names the
// network and its last is the broadcast address, so neither is a host; the
// first host address (.1 in a /24) is the bridge's own, the containers'
// gateway. Every container gets the lowest address still free, so that an
// address is reused as soon as its container has ended.
//
// Each allocation records its owner: the pid of the host side that made it
// and the time that process started. After a crash, a pid alone may have
// been reused by an unrelated process; pid and start time together cannot
// be. An allocation whose owner is gone is stale, and is reclaimed.
//
// The state is also the bridge's reference count: when its last
// allocation goes, the bridge, the NAT table and ip_forward go with it.

package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// defaultSubnet is where containers get their addresses unless --subnet
// says otherwise: clear of Docker's 172.17.0.0/16 and podman's 10.88.0.0/16.
const defaultSubnet = "10.99.0.0/24"

// owner identifies the process that holds an allocation.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // field 22 of /proc/PID/stat, see proc(5)
}

// portMapping is one published port: traffic to Host on the host goes to
// Container in the container.
type portMapping struct {
	Proto     string `json:"proto"` // "tcp" or "udp"
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
}

// allocation is one container's share of the network.
type allocation struct {
	Owner owner         `json:"owner"`
	Addr  netip.Addr    `json:"addr"`
	Veth  string        `json:"veth"` // the host end of its veth pair
	Ports []portMapping `json:"ports,omitempty"`
}

// ipamState is what the containers on one bridge share.
type ipamState struct {
	Subnet      netip.Prefix `json:"subnet"`
	OwnBridge   bool         `json:"ownBridge"`            // we created the bridge, so we delete it
	ForwardWas  string       `json:"forwardWas,omitempty"` // ip_forward before the first container
	Allocations []allocation `json:"allocations"`
}

// parseSubnet accepts an IPv4 network with room for a gateway and at
// least one container, written as its network address.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("want an IPv4 network such as %s: %w", defaultSubnet, err)
	}
	if !p.Addr().Is4() {
		return p, fmt.Errorf("%s is not IPv4: this step gives containers IPv4 addresses only", s)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return p, fmt.Errorf("a /%d leaves no room for a gateway and a container: use /8 to /30", p.Bits())
	}
	if p.Masked() != p {
		return p, fmt.Errorf("%s is not a network address: did you mean %s?", s, p.Masked())
	}
	return p, nil
}

// gatewayOf is the first host address of a subnet: the bridge's own.
func gatewayOf(p netip.Prefix) netip.Addr {
	return p.Addr().Next()
}

// broadcastOf is the last address of an IPv4 subnet.
func broadcastOf(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	for i := 0; i < 4; i++ {
		a[3-i] |= byte(host >> (8 * i))
	}
	return netip.AddrFrom4(a)
}

// parsePortMapping reads -p HOSTPORT:CONTAINERPORT[/tcp|udp], as Docker spells it.
func parsePortMapping(spec string) (portMapping, error) {
	m := portMapping{Proto: "tcp"}
	ports, proto, hasProto := strings.Cut(spec, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return m, fmt.Errorf("%q: protocol must be tcp or udp", spec)
		}
		m.Proto = proto
	}
	hostPort, containerPort, ok := strings.Cut(ports, ":")
	if !ok {
		return m, fmt.Errorf("%q: want HOSTPORT:CONTAINERPORT[/tcp|udp], e.g. 8080:80", spec)
	}
	var err error
	if m.Host, err = parsePort(hostPort); err != nil {
		return m, fmt.Errorf("%q: host port: %w", spec, err)
	}
	if m.Container, err = parsePort(containerPort); err != nil {
		return m, fmt.Errorf("%q: container port: %w", spec, err)
	}
	return m, nil
}

// parsePort reads a port number from 1 to 65535.
func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port from 1 to 65535", s)
	}
	return uint16(n), nil
}

// String spells a port mapping as -p takes it.
func (m portMapping) String() string {
	return fmt.Sprintf("%d:%d/%s", m.Host, m.Container, m.Proto)
}

// reclaim removes the allocations whose owner is no longer alive and
// returns them, so that the caller can remove what they left behind.
func (s *ipamState) reclaim(alive func(owner) bool) []allocation {
	var kept, stale []allocation
	for _, a := range s.Allocations {
		if alive(a.Owner) {
			kept = append(kept, a)
		} else {
			stale = append(stale, a)
		}
	}
	s.Allocations = kept
	return stale
}

// allocate gives o the lowest free address of the subnet, after checking
// that no other container publishes the same host ports.
func (s *ipamState) allocate(o owner, veth string, ports []portMapping) (netip.Addr, error) {
	if err := s.checkPorts(ports); err != nil {
		return netip.Addr{}, err
	}
	used := map[netip.Addr]bool{gatewayOf(s.Subnet): true}
	for _, a := range s.Allocations {
		used[a.Addr] = true
	}
	last := broadcastOf(s.Subnet)
	for addr := gatewayOf(s.Subnet).Next(); addr.Less(last); addr = addr.Next() {
		if !used[addr] {
			s.Allocations = append(s.Allocations, allocation{Owner: o, Addr: addr, Veth: veth, Ports: ports})
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s: all %d are in use", s.Subnet, len(s.Allocations))
}

// checkPorts refuses host ports that are published twice, by these
// ports or by a container that holds them already.
func (s *ipamState) checkPorts(ports []portMapping) error {
	taken := map[string]int{}
	for _, a := range s.Allocations {
		for _, p := range a.Ports {
			taken[fmt.Sprintf("%d/%s", p.Host, p.Proto)] = a.Owner.PID
		}
	}
	asked := map[string]bool{}
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.Host, p.Proto)
		if pid, ok := taken[key]; ok {
			return fmt.Errorf("host port %s is already published by the container of pid %d", key, pid)
		}
		if asked[key] {
			return fmt.Errorf("host port %s is published twice", key)
		}
		asked[key] = true
	}
	return nil
}

// release removes o's allocation and returns it; ok is false if o had none.
func (s *ipamState) release(o owner) (a allocation, ok bool) {
	for i, a := range s.Allocations {
		if a.Owner == o {
			s.Allocations = append(s.Allocations[:i:i], s.Allocations[i+1:]...)
			return a, true
		}
	}
	return allocation{}, false
}
