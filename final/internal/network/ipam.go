// IPAM, IP address management: which address each container gets, and
// which host ports it publishes. The allocator is pure: it works on a
// state value and knows nothing of files, locks or links, so that it is
// tested without root. state.go loads the value under a lock and saves it.
//
// Addresses come from one subnet per bridge. Its first address names the
// network and its last is the broadcast address, so neither is a host;
// the first host address (.1 in a /24) is the bridge's own, the gateway.
// Every lease gets the lowest address still free, as in step 07, and
// whose host veth is gone: the veth is named after the address
// (vethName), and one that the kernel has yet to delete keeps its address
// from being handed out again, so that two containers never answer for
// one address on the bridge.

package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// DefaultSubnet is the containers' network unless Options say otherwise:
// clear of Docker's 172.17.0.0/16 and podman's 10.88.0.0/16.
const DefaultSubnet = "10.99.0.0/24"

// owner identifies the process that holds a lease.
type owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // field 22 of /proc/PID/stat, see proc(5)
}

// lease is one container's share of the network.
type lease struct {
	Owner owner
	Addr  netip.Addr
	Veth  string // the host end of its veth pair
	Ports []PortMapping
}

// ipamState is what the containers on one bridge share.
type ipamState struct {
	Subnet     netip.Prefix
	OwnBridge  bool   // a run of ours created the bridge, so cleanup deletes it
	ForwardWas string // ip_forward before the first container, "" if untouched
	Leases     []lease
}

// PortInUseError refuses a host port that another container publishes
// or that a program on the host is bound to.
type PortInUseError struct {
	Port  uint16
	Proto string
}

// Error says which port, and what to do.
func (e *PortInUseError) Error() string {
	suffix := ""
	if e.Proto == "udp" {
		suffix = "/udp"
	}
	return fmt.Sprintf("port %d%s is already in use: choose another host port with -p", e.Port, suffix)
}

// ErrNoAddress is wrapped by the error of an allocation in a full subnet.
var ErrNoAddress = errors.New("no free address")

// parseSubnet accepts an IPv4 network with room for a gateway and at
// least one container, written as its network address.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("invalid subnet %q: want an IPv4 network such as %s", s, DefaultSubnet)
	}
	if !p.Addr().Is4() {
		return p, fmt.Errorf("invalid subnet %s: containers get IPv4 addresses only", s)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return p, fmt.Errorf("invalid subnet %s: a /%d leaves no room for a gateway and a container, use /8 to /30", s, p.Bits())
	}
	if p.Masked() != p {
		return p, fmt.Errorf("invalid subnet %s: not a network address, did you mean %s?", s, p.Masked())
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
	hostBits := uint32(1)<<(32-p.Bits()) - 1
	for i := 0; i < 4; i++ {
		a[3-i] |= byte(hostBits >> (8 * i))
	}
	return netip.AddrFrom4(a)
}

// allocate gives o the lowest free address of the subnet that lingering
// does not report (nil: none does), after checking that no other lease
// publishes the same host ports.
func (s *ipamState) allocate(o owner, ports []PortMapping, lingering func(netip.Addr) bool) (netip.Addr, error) {
	if _, ok := s.leaseOf(o); ok {
		return netip.Addr{}, fmt.Errorf("pid %d holds a lease already", o.PID)
	}
	if err := s.checkPorts(ports); err != nil {
		return netip.Addr{}, err
	}
	used := map[netip.Addr]bool{gatewayOf(s.Subnet): true}
	for _, l := range s.Leases {
		used[l.Addr] = true
	}
	last := broadcastOf(s.Subnet)
	for addr := gatewayOf(s.Subnet).Next(); addr.Less(last); addr = addr.Next() {
		if !used[addr] && (lingering == nil || !lingering(addr)) {
			s.Leases = append(s.Leases, lease{Owner: o, Addr: addr, Veth: vethName(addr), Ports: ports})
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w in %s: all %d are leased, stop a container first", ErrNoAddress, s.Subnet, len(s.Leases))
}

// vethName is the name of the host end of the veth pair of the container
// at addr: "veth" and the address in hex, veth0a630002 for 10.99.0.2.
func vethName(addr netip.Addr) string {
	a := addr.As4()
	return fmt.Sprintf("veth%02x%02x%02x%02x", a[0], a[1], a[2], a[3])
}

// checkPorts refuses host ports that are asked twice, or that a lease
// publishes already; a port number with no host port yet is skipped.
func (s *ipamState) checkPorts(ports []PortMapping) error {
	for i, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		if s.published(p) || clashes(p, ports[:i]) {
			return &PortInUseError{Port: p.HostPort, Proto: p.Proto}
		}
	}
	return nil
}

// published reports whether a lease publishes p's host port already.
func (s *ipamState) published(p PortMapping) bool {
	for _, l := range s.Leases {
		if clashes(p, l.Ports) {
			return true
		}
	}
	return false
}

// clashes reports whether p's host port overlaps one of others': same
// port and protocol, and the same host address or either on all of them.
func clashes(p PortMapping, others []PortMapping) bool {
	for _, q := range others {
		sameIP := p.HostIP == q.HostIP || anyAddr(p.HostIP) || anyAddr(q.HostIP)
		if p.HostPort == q.HostPort && p.Proto == q.Proto && sameIP {
			return true
		}
	}
	return false
}

// anyAddr reports whether a host address means every address of the host.
func anyAddr(ip string) bool {
	return ip == "" || ip == "0.0.0.0"
}

// leaseOf finds o's lease.
func (s *ipamState) leaseOf(o owner) (lease, bool) {
	for _, l := range s.Leases {
		if l.Owner == o {
			return l, true
		}
	}
	return lease{}, false
}

// reclaim removes the leases whose owner is no longer alive and returns
// them, so that the caller can remove what they left behind.
func (s *ipamState) reclaim(alive func(owner) bool) []lease {
	var kept, stale []lease
	for _, l := range s.Leases {
		if alive(l.Owner) {
			kept = append(kept, l)
		} else {
			stale = append(stale, l)
		}
	}
	s.Leases = kept
	return stale
}

// release removes o's lease and returns it; ok is false if o had none.
func (s *ipamState) release(o owner) (l lease, ok bool) {
	for i, l := range s.Leases {
		if l.Owner == o {
			s.Leases = append(s.Leases[:i:i], s.Leases[i+1:]...)
			return l, true
		}
	}
	return lease{}, false
}
