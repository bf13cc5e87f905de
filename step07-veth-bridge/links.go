//go:build linux

// Links: the bridge, the veth pair, and the inside of the container, set
// up over rtnetlink(7) the way ip(8) does it, through
// github.com/vishvananda/netlink (the library Docker, runc and CNI use).
// Each request is narrated with the ip command that sends the same.
//
// The order matters. The bridge comes first, with the gateway address,
// so that the host has a route into the subnet. The veth pair is made on
// the host, where both ends start; the host end is plugged into the bridge
// and brought up, then the other end is moved into the container's network
// namespace, which takes it out of the host's sight. From there on it is
// reached through a netlink socket opened inside that namespace
// (/proc/PID/ns/net), so the container side needs no network code: it is
// renamed eth0 (the host may have an eth0 of its own, so it could not be
// made with that name), given its address, brought up, and only then
// given the default route, since the kernel refuses a gateway it cannot
// reach.
//
// What is about to be made (the bridge, ip_forward) is written to the
// lease file before it is made, so that a run killed in between leaves a
// record from which the next run cleans up.

package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ensureBridge returns the bridge, creating it if this is its first
// container.
func ensureBridge(l *leases) (netlink.Link, error) {
	br, err := netlink.LinkByName(bridgeName)
	if err == nil {
		host("bridge %s is there already, made for another container", bridgeName)
		return br, nil
	}
	if !isLinkNotFound(err) {
		return nil, fmt.Errorf("look up link %s: %w", bridgeName, err)
	}
	// Record first, then create: a run killed in between leaves a record.
	l.OwnBridge = true
	if err := l.save(); err != nil {
		return nil, err
	}
	return createBridge()
}

// createBridge makes the bridge, gives it the gateway address and brings it up.
func createBridge() (netlink.Link, error) {
	narrateNetlink("RTM_NEWLINK "+bridgeName+" type bridge", "ip link add %s type bridge", bridgeName)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", bridgeName, err)
	}
	gw := netip.PrefixFrom(gateway, subnet.Bits())
	narrateNetlink(fmt.Sprintf("RTM_NEWADDR %s on %s", gw, bridgeName), "ip addr add %s dev %s", gw, bridgeName)
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipNet(gw)}); err != nil {
		return nil, fmt.Errorf("add address %s to %s: %w", gw, bridgeName, err)
	}
	narrateNetlink("RTM_NEWLINK "+bridgeName+" IFF_UP", "ip link set %s up", bridgeName)
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bring %s up: %w", bridgeName, err)
	}
	return br, nil
}

// enableForwarding sets ip_forward, after noting its old value in the
// lease file, so that the last container can put it back.
func enableForwarding(l *leases) error {
	data, err := os.ReadFile(ipForward)
	if err != nil {
		return fmt.Errorf("read %s: %w", ipForward, err)
	}
	was := strings.TrimSpace(string(data))
	if l.ForwardWas == "" {
		l.ForwardWas = was
		if err := l.save(); err != nil {
			return err
		}
	}
	if was == "1" {
		host("net.ipv4.ip_forward = 1 already: the host routes between its links")
		return nil
	}
	host("net.ipv4.ip_forward = 1 (was %s): the host now routes between its links", was)
	return os.WriteFile(ipForward, []byte("1"), 0o644)
}

// createVeth makes the container's veth pair, plugs the host end into the
// bridge, and moves the other end into the network namespace of pid.
func (n *network) createVeth(br netlink.Link, pid int) (peer string, err error) {
	// The container's end gets a temporary name: the host may have an eth0.
	peer = n.veth + "c"
	narrateNetlink("RTM_NEWLINK veth pair "+n.veth+" <-> "+peer, "ip link add %s type veth peer name %s", n.veth, peer)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.veth}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("create veth pair %s and %s: %w", n.veth, peer, err)
	}
	narrateNetlink("RTM_NEWLINK "+n.veth+" IFLA_MASTER "+br.Attrs().Name, "ip link set %s master %s", n.veth, br.Attrs().Name)
	if err := netlink.LinkSetMaster(veth, br); err != nil {
		return "", fmt.Errorf("plug %s into %s: %w", n.veth, br.Attrs().Name, err)
	}
	narrateNetlink("RTM_NEWLINK "+n.veth+" IFF_UP", "ip link set %s up", n.veth)
	if err := netlink.LinkSetUp(veth); err != nil {
		return "", fmt.Errorf("bring %s up: %w", n.veth, err)
	}
	// lab:cut step07 move the container's end of the pair (peer) into the network namespace of pid
	other, err := netlink.LinkByName(peer)
	if err != nil {
		return "", fmt.Errorf("look up link %s: %w", peer, err)
	}
	narrateNetlink(fmt.Sprintf("RTM_NEWLINK %s IFLA_NET_NS_PID %d", peer, pid), "ip link set %s netns %d", peer, pid)
	if err := netlink.LinkSetNsPid(other, pid); err != nil {
		return "", fmt.Errorf("move %s into the network namespace of pid %d: %w", peer, pid, err)
	}
	// lab:end
	return peer, nil
}

// configureContainer sets up the inside of the container from the host,
// through a netlink socket in its network namespace: lo up, then, given
// a peer, that link renamed eth0, its address, up, and a default route.
func configureContainer(pid int, peer string, addr netip.Prefix) error {
	h, err := containerHandle(pid)
	if err != nil {
		return err
	}
	defer h.Close()
	in := func(cmd string) string { return fmt.Sprintf("nsenter -t %d -n %s", pid, cmd) }
	if err := setUp(h, "lo", in); err != nil || peer == "" {
		return err
	}
	// lab:cut step07 inside the container (through h): rename peer to eth0, give it addr, bring it up, add a default route via gateway
	eth, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("look up link %s in the container: %w", peer, err)
	}
	narrateNetlink("  RTM_NEWLINK "+peer+" IFLA_IFNAME eth0", in("ip link set %s name eth0"), peer)
	if err := h.LinkSetName(eth, "eth0"); err != nil {
		return fmt.Errorf("rename %s to eth0 in the container: %w", peer, err)
	}
	narrateNetlink(fmt.Sprintf("  RTM_NEWADDR %s on eth0", addr), in("ip addr add %s dev eth0"), addr)
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("add address %s to eth0 in the container: %w", addr, err)
	}
	if err := setUp(h, "eth0", in); err != nil {
		return err
	}
	narrateNetlink("  RTM_NEWROUTE default via "+gateway.String(), in("ip route add default via %s"), gateway)
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(gateway.AsSlice())}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add the default route via %s in the container: %w", gateway, err)
	}
	// lab:end
	return nil
}

// containerHandle opens a netlink socket in the network namespace of pid.
func containerHandle(pid int) (*netlink.Handle, error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("open /proc/%d/ns/net: %w", pid, err)
	}
	defer ns.Close() // the socket holds on to the namespace by itself
	// rtnetlink(7) alone: the library's default also opens xfrm and
	// netfilter sockets, and a kernel without xfrm_user refuses those.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open a netlink socket in the network namespace of pid %d: %w", pid, err)
	}
	host("netlink socket opened in the container's network namespace, /proc/%d/ns/net:", pid)
	return h, nil
}

// setUp brings a link up through the handle h, narrating it with in.
func setUp(h *netlink.Handle, name string, in func(string) string) error {
	narrateNetlink("  RTM_NEWLINK "+name+" IFF_UP", in("ip link set %s up"), name)
	link, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("bring %s up in the container: %w", name, err)
	}
	return nil
}

// deleteLink deletes a link by name, if it is there; deleting one end of
// a veth pair deletes the other, and a bridge lets go of its ports.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		narrateNetlink("RTM_DELLINK "+name, "ip link del %s", name)
		err = netlink.LinkDel(link)
	}
	if err != nil && !isLinkNotFound(err) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// isLinkNotFound reports whether err says there is no such link; the
// kernel may also say so while it deletes a namespace's links itself.
func isLinkNotFound(err error) bool {
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

// ipNet converts a prefix with a host address, like 10.99.0.2/24, for netlink.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

// narrateNetlink narrates one rtnetlink request, with the command that sends the same.
func narrateNetlink(request, command string, args ...any) {
	host("%-44s (%s)", request, fmt.Sprintf(command, args...))
}
