//go:build linux

// Links: the bridge, the veth pair, and the inside of the container, set
// up over rtnetlink(7) the way ip(8) does, through vishvananda/netlink.
// network.go decides when; this file does it.
//
// The order matters. The bridge comes first, with the gateway address,
// so that the host has a route into the subnet. The veth pair is made in
// one request with its two ends in two namespaces: the host end, up and
// plugged into the bridge, and the container's end born inside the
// container's network namespace, already named eth0 and given its MAC
// (step 07 makes both ends on the host and moves one, which reads more
// simply but costs a device re-registration; createVeth says what it
// costs). From there on the container's end is reached through a netlink
// socket opened inside that namespace: given its address, brought up,
// and only then given the default route, since the kernel refuses a
// gateway it cannot reach.

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
	"github.com/vishvananda/netlink/nl"
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
// state, so that cleanup can put it back.
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

// createVeth makes a veth pair in one request, as ip(8) would with
//
//	ip link add NAME numtxqueues 1 numrxqueues 1 master BRIDGE up \
//		type veth peer name eth0 address MAC netns PID numtxqueues 1 numrxqueues 1
//
// the host end, up and plugged into the bridge, and the other end born
// inside the network namespace of pid as eth0, with its MAC. The request
// is written out here, attribute by attribute, because each of the
// library's shortcuts costs a wait for an RCU grace period, 0.5 to 30 ms
// on this project's machines (docs/benchmarks.md):
//   - moving an existing link into a namespace (ip link set … netns)
//     re-registers the device; a link made in place needs no move, nor a
//     temporary name and a rename;
//   - netlink.LinkAdd looks the new link up by name before it sets the
//     master in a second request, and the kernel answers that look-up
//     only after applying the host end's pending carrier change, which
//     waits (dev_deactivate); the kernel takes the master in the request;
//   - without a number of queues, the kernel gives each end one per CPU
//     and then cuts them down to one, which waits too.
func createVeth(name string, br netlink.Link, pid int, mac net.HardwareAddr) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	host := nl.NewIfInfomsg(unix.AF_UNSPEC)
	host.Flags, host.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(host)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(br.Attrs().Index))))
	req.AddData(nl.NewRtAttr(unix.IFLA_NUM_TX_QUEUES, nl.Uint32Attr(1)))
	req.AddData(nl.NewRtAttr(unix.IFLA_NUM_RX_QUEUES, nl.Uint32Attr(1)))
	req.AddData(vethPeer(pid, mac))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("ip link add %s master %s up type veth peer name eth0 address %s netns %d: %w", name, br.Attrs().Name, mac, pid, err)
	}
	return nil
}

// vethPeer is the "type veth peer name eth0 address MAC netns PID
// numtxqueues 1 numrxqueues 1" part of createVeth's request: the link's
// kind, and the peer's own ifinfomsg and attributes nested in its data.
func vethPeer(pid int, mac net.HardwareAddr) *nl.RtAttr {
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(unix.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	peer := info.AddRtAttr(unix.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated("eth0"))
	peer.AddRtAttr(unix.IFLA_ADDRESS, mac)
	peer.AddRtAttr(unix.IFLA_NET_NS_PID, nl.Uint32Attr(uint32(pid)))
	peer.AddRtAttr(unix.IFLA_NUM_TX_QUEUES, nl.Uint32Attr(1))
	peer.AddRtAttr(unix.IFLA_NUM_RX_QUEUES, nl.Uint32Attr(1))
	return info
}

// configureContainer sets up the inside of the container from the host,
// through a netlink socket in its network namespace: lo up, eth0's
// address, eth0 up, and a default route via gateway.
func configureContainer(pid int, addr netip.Prefix, gateway netip.Addr) error {
	h, err := containerHandle(pid)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := setUp(h, "lo", pid); err != nil {
		return err
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("look up link eth0 in the network namespace of pid %d: %w", pid, err)
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("ip addr add %s dev eth0 (in pid %d's netns): %w", addr, pid, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("ip link set eth0 up (in pid %d's netns): %w", pid, err)
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
