//go:build linux

// Links: the bridge, the veth pair, and the inside of the container, set
// up over rtnetlink(7) the way ip(8) does, through vishvananda/netlink.
// network.go decides when; this file does it.
//
// The order matters. The bridge comes first, with the gateway address,
// so that the host has a route into the subnet. The veth pair is made on
// the host, where both ends start; the host end is plugged into the bridge
// and brought up, then the other end is moved into the container's network
// namespace. From there on it is reached through a netlink socket opened
// inside that namespace: renamed eth0 (the host may have an eth0 of its
// own, so it could not be made with that name), given its address and
// MAC, brought up, and only then given the default route, since the
// kernel refuses a gateway it cannot reach.

package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ipForward is the sysctl that lets the host route packets between links.
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// ensureBridge returns the bridge, creating it for its first container;
// a link of that name that no run of ours made is refused.
func ensureBridge(st *lockedState, name string) (netlink.Link, error) {
	br, err := netlink.LinkByName(name)
	if err == nil && st.s.OwnBridge {
		return br, nil
	}
	if err == nil {
		return nil, fmt.Errorf("a link named %s exists, but minidocker did not make it: choose another bridge, or remove it (ip link del %s)", name, name)
	}
	if !isLinkNotFound(err) {
		return nil, fmt.Errorf("look up link %s: %w", name, err)
	}
	if err := checkSubnetFree(st.s.Subnet); err != nil {
		return nil, err
	}
	// Record first, then create: a run killed in between leaves a record.
	st.s.OwnBridge = true
	if err := st.save(); err != nil {
		return nil, err
	}
	return createBridge(name, st.s.Subnet)
}

// checkSubnetFree refuses a subnet that overlaps a network the host
// already routes, which would make some of its addresses unreachable.
func checkSubnetFree(subnet netip.Prefix) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list the host's IPv4 routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route overlaps everything
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		ones, _ := r.Dst.Mask.Size()
		if ok && ones > 0 && netip.PrefixFrom(dst, ones).Overlaps(subnet) {
			return fmt.Errorf("subnet %s overlaps %s, which the host routes already: choose another subnet", subnet, r.Dst)
		}
	}
	return nil
}

// createBridge makes the bridge, gives it the gateway address and brings it up.
func createBridge(name string, subnet netip.Prefix) (netlink.Link, error) {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("ip link add %s type bridge: %w", name, err)
	}
	gw := netip.PrefixFrom(gatewayOf(subnet), subnet.Bits())
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipNet(gw)}); err != nil {
		return nil, fmt.Errorf("ip addr add %s dev %s: %w", gw, name, err)
	}
	// Published ports reached from 127.0.0.1 leave through the bridge
	// with a loopback source, which the kernel drops unless told (nat.go).
	localnet := filepath.Join("/proc/sys/net/ipv4/conf", name, "route_localnet")
	if err := os.WriteFile(localnet, []byte("1"), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", localnet, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("ip link set %s up: %w", name, err)
	}
	return br, nil
}

// enableForwarding sets ip_forward, after noting its old value in the
// state, so that the last container can put it back.
func enableForwarding(st *lockedState) error {
	data, err := os.ReadFile(ipForward)
	if err != nil {
		return fmt.Errorf("read %s: %w", ipForward, err)
	}
	was := strings.TrimSpace(string(data))
	if st.s.ForwardWas == "" {
		st.s.ForwardWas = was
		if err := st.save(); err != nil {
			return err
		}
	}
	if was == "1" {
		return nil
	}
	if err := os.WriteFile(ipForward, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("write 1 to %s: %w", ipForward, err)
	}
	return nil
}

// restoreSysctl puts a sysctl file back to the value it had.
func restoreSysctl(path, value string) error {
	now, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if strings.TrimSpace(string(now)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, path, err)
	}
	return nil
}

// createVeth makes a veth pair, plugs the host end into the bridge, and
// moves the other end into the network namespace of pid; it returns the
// name of that end, which the container side renames.
func createVeth(name string, br netlink.Link, pid int) (peer string, err error) {
	// The container's end gets a temporary name: the host may have an eth0.
	peer = name + "c"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("ip link add %s master %s type veth peer name %s: %w", name, br.Attrs().Name, peer, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return "", fmt.Errorf("ip link set %s up: %w", name, err)
	}
	other, err := netlink.LinkByName(peer)
	if err != nil {
		return "", fmt.Errorf("look up link %s: %w", peer, err)
	}
	if err := netlink.LinkSetNsPid(other, pid); err != nil {
		return "", fmt.Errorf("ip link set %s netns %d: %w", peer, pid, err)
	}
	return peer, nil
}

// configureContainer sets up the inside of the container from the host,
// through a netlink socket in its network namespace: lo up, then the peer
// renamed eth0, its MAC and address, up, and a default route via gateway.
func configureContainer(pid int, peer string, addr netip.Prefix, mac net.HardwareAddr, gateway netip.Addr) error {
	h, err := containerHandle(pid)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := setUp(h, "lo", pid); err != nil {
		return err
	}
	eth, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("look up link %s in the network namespace of pid %d: %w", peer, pid, err)
	}
	if err := h.LinkSetName(eth, "eth0"); err != nil {
		return fmt.Errorf("ip link set %s name eth0 (in pid %d's netns): %w", peer, pid, err)
	}
	if err := h.LinkSetHardwareAddr(eth, mac); err != nil {
		return fmt.Errorf("ip link set eth0 address %s (in pid %d's netns): %w", mac, pid, err)
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("ip addr add %s dev eth0 (in pid %d's netns): %w", addr, pid, err)
	}
	if err := setUp(h, "eth0", pid); err != nil {
		return err
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(gateway.AsSlice())}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("ip route add default via %s (in pid %d's netns): %w", gateway, pid, err)
	}
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
		return nil, fmt.Errorf("open a netlink socket in /proc/%d/ns/net: %w", pid, err)
	}
	return h, nil
}

// setUp brings a link up through the handle h, in the namespace of pid.
func setUp(h *netlink.Handle, name string, pid int) error {
	link, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("ip link set %s up (in pid %d's netns): %w", name, pid, err)
	}
	return nil
}

// deleteLink deletes a link by name, if it is there; deleting one end of
// a veth pair deletes the other, and a bridge lets go of its ports.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil && !isLinkNotFound(err) {
		return fmt.Errorf("ip link del %s: %w", name, err)
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

// macOf is the container's MAC address, made from its IPv4 address as
// Docker does: 02:42 (locally administered, unicast) and the four bytes.
func macOf(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}
