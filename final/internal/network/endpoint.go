// The values the runtime keeps and passes around: the Options of a
// container's bridge network and the Endpoint it got. They hold strings
// and numbers only, so that a container's record stores them as JSON and
// inspect shows them; this file needs no Linux, so they build anywhere.

package network

// DefaultBridge is the bridge containers join unless Options say otherwise.
const DefaultBridge = "minidocker0"

// Options choose the bridge network a container joins and what it publishes.
type Options struct {
	Bridge string        // the bridge's link name; DefaultBridge if empty
	Subnet string        // its IPv4 network; DefaultSubnet if empty
	Ports  []PortMapping // published ports; HostPort 0 lets Allocate choose
}

// Endpoint is a container's place on the bridge, as inspect shows it in
// NetworkSettings; the runtime keeps it in the container's record.
type Endpoint struct {
	Bridge      string
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	HostVeth    string // the host end of the container's veth pair
	Ports       []PortMapping
	OwnerPID    int    // the process the lease belongs to
	OwnerStart  uint64 // and its start time, so a reused pid is not mistaken for it
}

// owner is the owner of the endpoint's lease.
func (ep *Endpoint) owner() owner {
	return owner{PID: ep.OwnerPID, Start: ep.OwnerStart}
}
