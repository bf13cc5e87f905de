//go:build linux

// Networking: a bridge, a veth pair per container, an address, a route,
// and NAT out. This file says when each piece is made and undone; the
// chapter reads the files in this order: network.go, links.go (the links
// and the route, over netlink), nat.go (the nftables table), leases.go
// (who has which address), etcfiles.go (resolv.conf, hosts, hostname).
//
// A new network namespace (step 01) holds nothing but a loopback link,
// and that is down. A veth pair is a virtual cable (see veth(4)): one end
// stays on the host, plugged into a bridge, a virtual switch; the other
// moves into the container and becomes eth0. The bridge has the address
// 10.99.0.1, the containers' gateway, and the host routes between the
// bridge and its other links:
//
//	container A          container B
//	eth0 10.99.0.2       eth0 10.99.0.3
//	   |                    |               each | is a veth pair
//	veth1001             veth1002
//	   '-------.    .-------'
//	       minidocker0 10.99.0.1            the bridge, the containers' gateway
//	            |                           ip_forward, and NAT (nat.go)
//	          eth0                          the host's own way out
//
// A container's network has three moments, one function each:
//
//	prepareNetwork  before clone(2): take an address, write the /etc files
//	attach          after clone(2), before the sync pipe lets the child go on:
//	                bridge, ip_forward, veth pair, eth0 inside, NAT
//	release         after the container ended: its veth and its lease; the
//	                last container also removes the bridge and the NAT table
//
// The containers share the bridge, so every moment holds the lease file's
// lock (leases.go) while it changes what they share.

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// bridgeName is the bridge every container of this step is plugged into.
const bridgeName = "minidocker0"

// subnet is where containers get their addresses: clear of Docker's
// 172.17.0.0/16 and podman's 10.88.0.0/16. Its first address is the gateway.
var (
	subnet  = netip.MustParsePrefix("10.99.0.0/24")
	gateway = netip.MustParseAddr("10.99.0.1")
)

// ipForward is the sysctl that lets the host route packets between links.
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// networkFlags are the network flags: --network and -p.
type networkFlags struct {
	mode    networkMode
	publish publishFlag
}

// network is one container's network, from its lease to its release.
type network struct {
	flags  networkFlags
	owner  owner
	veth   string // the host end of the veth pair
	addr   netip.Addr
	etcDir string
}

// addNetworkFlags registers the network flags; a bad value is a usage error.
func addNetworkFlags(fs *pflag.FlagSet, f *networkFlags) {
	f.mode = "bridge"
	fs.Var(&f.mode, "network", "bridge: a veth pair on the bridge "+bridgeName+", with NAT; none: loopback only")
	fs.VarP(&f.publish, "publish", "p", "publish a container's port on the host, e.g. 8080:80 (repeatable)")
}

// prepareNetwork takes the container's address and writes its /etc
// files, before the container exists: its address goes into /etc/hosts.
func prepareNetwork(f networkFlags, hostname string) (n *network, err error) {
	n = &network{flags: f}
	if f.mode == "none" && len(f.publish) > 0 {
		return nil, fmt.Errorf("-p publishes a port through the bridge: it needs --network bridge")
	}
	if f.mode == "bridge" {
		if err := checkHostPorts(f.publish); err != nil {
			return nil, err
		}
		if err := n.lease(); err != nil {
			return nil, err
		}
	}
	if n.etcDir, err = writeEtcFiles(hostname, n.addr); err != nil {
		return nil, errors.Join(err, n.release())
	}
	return n, nil
}

// lease reclaims what killed runs left, then takes the lowest free
// address for this container, recorded under this process's pid.
func (n *network) lease() (err error) {
	if n.owner, err = ownerOf(os.Getpid()); err != nil {
		return err
	}
	n.veth = fmt.Sprintf("veth%d", n.owner.PID)
	l, err := lockLeases()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.unlock()) }()
	if err := reclaim(l); err != nil {
		return err
	}
	if n.addr, err = l.take(n.owner, n.veth, n.flags.publish); err != nil {
		return err
	}
	host("IPAM: %s for this container, %d container(s) on %s (leases: %s)", n.addr, len(l.Allocations), bridgeName, l.path)
	return nil
}

// reclaim frees the leases of runs that were killed, with their veths;
// if no container is left, it takes the bridge down too.
func reclaim(l *leases) error {
	for _, a := range l.dropDead() {
		host("reclaimed %s from pid %d, which is gone: a run killed before it could clean up", a.Addr, a.Owner.PID)
		if err := deleteLink(a.Veth); err != nil {
			return err
		}
	}
	if len(l.Allocations) > 0 {
		return nil
	}
	return teardown(l)
}

// attach wires the container whose host pid is pid: bridge, forwarding,
// veth pair, eth0 with its address and route, NAT; with --network none, lo.
func (n *network) attach(pid int) (err error) {
	if n.flags.mode == "none" {
		return configureContainer(pid, "", netip.Prefix{})
	}
	l, err := lockLeases()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.unlock()) }()
	br, err := ensureBridge(l)
	if err != nil {
		return err
	}
	if err := enableForwarding(l); err != nil {
		return err
	}
	peer, err := n.createVeth(br, pid)
	if err != nil {
		return err
	}
	if err := configureContainer(pid, peer, netip.PrefixFrom(n.addr, subnet.Bits())); err != nil {
		return err
	}
	return syncNAT(l.Allocations)
}

// release gives back what prepareNetwork and attach took.
func (n *network) release() error {
	var errs []error
	if n.veth != "" {
		errs = append(errs, n.leaveBridge())
	}
	if n.etcDir != "" {
		host("removing %s", n.etcDir)
		errs = append(errs, os.RemoveAll(n.etcDir))
	}
	return errors.Join(errs...)
}

// leaveBridge removes the container's veth and lease, then either what
// the containers shared (if it was the last) or its published ports.
func (n *network) leaveBridge() (err error) {
	l, err := lockLeases()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.unlock()) }()
	// The veth pair usually went with the container's network namespace.
	if err := deleteLink(n.veth); err != nil {
		return err
	}
	if a, ok := l.drop(n.owner); ok {
		host("released %s; %d container(s) left on %s", a.Addr, len(l.Allocations), bridgeName)
	}
	if len(l.Allocations) == 0 {
		return teardown(l)
	}
	return syncNAT(l.Allocations)
}

// teardown removes what the containers shared, once none is left: the
// NAT table, the bridge (if a run of ours made it), ip_forward's value.
func teardown(l *leases) error {
	err := deleteNAT()
	if l.OwnBridge {
		err = errors.Join(err, deleteLink(bridgeName))
		l.OwnBridge = false
	}
	// Put ip_forward back, unless minidocker has a bridge of its own here.
	others, _ := filepath.Glob(filepath.Join(filepath.Dir(l.path), "*.json"))
	if l.ForwardWas != "" && len(others) == 1 {
		if now, _ := os.ReadFile(ipForward); strings.TrimSpace(string(now)) != l.ForwardWas {
			host("net.ipv4.ip_forward = %s again, as before the first container", l.ForwardWas)
			err = errors.Join(err, os.WriteFile(ipForward, []byte(l.ForwardWas), 0o644))
		}
	}
	l.ForwardWas = ""
	return err
}

// networkMode is the value of --network: bridge or none.
type networkMode string

// Set checks and takes a value of --network.
func (m *networkMode) Set(s string) error {
	if s != "bridge" && s != "none" {
		return fmt.Errorf("want bridge or none")
	}
	*m = networkMode(s)
	return nil
}

// String shows the value, for -h.
func (m *networkMode) String() string { return string(*m) }

// Type names the kind of value, for -h.
func (m *networkMode) Type() string { return "string" }
