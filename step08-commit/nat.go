//go:build linux

// NAT: how packets get out of the bridge's subnet, and in through a
// published port. The containers' addresses are private to this host:
// nobody else knows the way back to 10.99.0.2. So a packet that leaves
// the host gets the host's own address as its source (masquerade, source
// NAT), and connection tracking turns the answers back. A published port
// works the other way round: a connection to the host's port 8080 gets
// the container's address and port 80 as its destination (DNAT).
//
// All rules sit in one nftables table of our own, named after the bridge
// ("table ip minidocker0"), so that cleaning up is deleting our table and
// nothing else of the host is touched. The table is never edited rule by
// rule: every change rebuilds it from the state (ipam.go) in one netlink
// transaction, which the kernel applies whole or not at all. We speak the
// nf_tables netlink protocol through github.com/google/nftables, so the
// host needs no nft or iptables binary; each rule is narrated the way
// "nft list table ip minidocker0" prints it.
//
//	chain prerouting  (dstnat)  fib daddr type local tcp dport 8080 dnat to 10.99.0.2:80
//	chain output      (dstnat)  the same, for connections the host makes itself
//	chain postrouting (srcnat)  ip saddr 10.99.0.0/24 oifname != "minidocker0" masquerade
//	                            ip saddr 127.0.0.0/8 oifname "minidocker0" masquerade
//	                            ip saddr 10.99.0.0/24 oifname "minidocker0" ct status dnat masquerade
//
// A published port must answer on 127.0.0.1 too. Docker does that either
// with docker-proxy, a userland process per port that accepts and copies
// every connection, or, without it, with DNAT in the output hook. We do
// the latter: the whole lesson of this step is that the kernel does the
// forwarding, and a proxy would hide the container's real peer behind the
// proxy's own connection and add a goroutine per connection to the host
// side. Two things make it work. The kernel drops packets with a loopback
// source on any other link, unless net.ipv4.conf.BRIDGE.route_localnet is
// 1 (network.go sets it); and the container would answer 127.0.0.1 on its
// own loopback, so such packets are masqueraded to the bridge's address.
// The last rule does the same for a container that reaches another one
// through a published port of the host ("hairpin"), so the answer comes
// back through the host, which undoes the DNAT, and not straight over
// the bridge.

package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ipsDstNAT is IPS_DST_NAT, the conntrack status bit of a connection
// whose destination was rewritten (linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// natRule is one rule of our table: its chain, its text as nft(8) prints
// it, and the expressions the kernel runs.
type natRule struct {
	chain string
	text  string
	exprs []expr.Any
}

// natChains are our table's base chains, in the order packets meet them.
var natChains = []struct {
	name     string
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	text     string
}{
	{"prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, "type nat hook prerouting priority dstnat"},
	{"output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest, "type nat hook output priority -100"},
	{"postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, "type nat hook postrouting priority srcnat"},
}

// natRules are the rules a state asks for: masquerade for the subnet,
// and a DNAT per published port in prerouting and output.
func natRules(bridge string, s ipamState) []natRule {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	masquerade := []expr.Any{&expr.Counter{}, &expr.Masq{}}
	rules := []natRule{
		{"postrouting", fmt.Sprintf("ip saddr %s oifname != %q counter masquerade", s.Subnet, bridge),
			join(saddrIn(s.Subnet), oifname(bridge, false), masquerade)},
		{"postrouting", fmt.Sprintf("ip saddr %s oifname %q counter masquerade", loopback, bridge),
			join(saddrIn(loopback), oifname(bridge, true), masquerade)},
		{"postrouting", fmt.Sprintf("ip saddr %s oifname %q ct status dnat counter masquerade", s.Subnet, bridge),
			join(saddrIn(s.Subnet), oifname(bridge, true), ctStatusDNAT(), masquerade)},
	}
	for _, a := range s.Allocations {
		for _, p := range a.Ports {
			text := fmt.Sprintf("fib daddr type local %s dport %d counter dnat to %s:%d", p.Proto, p.Host, a.Addr, p.Container)
			exprs := join(localDestination(), destinationPort(p.Proto, p.Host), []expr.Any{&expr.Counter{}}, dnatTo(a.Addr, p.Container))
			rules = append(rules, natRule{"prerouting", text, exprs}, natRule{"output", text, exprs})
		}
	}
	return rules
}

// syncNAT makes our table hold exactly the rules of the state, in one
// transaction: add the table (in case it is missing), delete it, and add
// it afresh with its chains and rules.
func syncNAT(bridge string, s ipamState) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: bridge}
	conn.AddTable(table)
	conn.DelTable(table)
	conn.AddTable(table)
	host("nft: table ip %s, rebuilt in one transaction (see: nft list table ip %s):", bridge, bridge)
	chains := map[string]*nftables.Chain{}
	for _, c := range natChains {
		chains[c.name] = conn.AddChain(&nftables.Chain{Name: c.name, Table: table, Type: nftables.ChainTypeNAT, Hooknum: c.hook, Priority: c.priority})
	}
	for _, c := range natChains {
		host("  chain %s { %s; }", c.name, c.text)
		for _, r := range natRules(bridge, s) {
			if r.chain == c.name {
				host("    %s", r.text)
				conn.AddRule(&nftables.Rule{Table: table, Chain: chains[c.name], Exprs: r.exprs})
			}
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: write table ip %s: %w (does this kernel have nf_tables? CONFIG_NF_TABLES, CONFIG_NFT_NAT)", bridge, err)
	}
	return nil
}

// deleteNAT deletes our table, if it is there.
func deleteNAT(bridge string) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == bridge {
			host("nft: delete table ip %s: its chains and rules go with it", bridge)
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("nftables: delete table ip %s: %w", bridge, err)
			}
		}
	}
	return nil
}

// warnForwardDrop warns when another table's forward chain drops packets
// by default, as Docker's iptables rules make it: an accept in our table
// cannot overrule a drop in another, so the containers could not get out.
func warnForwardDrop(bridge string) {
	conn, err := nftables.New()
	if err != nil {
		return
	}
	chains, err := conn.ListChains()
	if err != nil {
		return
	}
	for _, c := range chains {
		if c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward && c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
			host("warning: chain %s of table %s drops forwarded packets by default: traffic from %s to other links may be dropped; "+
				"allow it, e.g. iptables -I FORWARD -i %s -j ACCEPT; iptables -I FORWARD -o %s -j ACCEPT", c.Name, c.Table.Name, bridge, bridge, bridge)
		}
	}
}

// checkHostPorts refuses a host port that a program on the host listens
// on already: DNAT would take its traffic from it (think -p 22:22 and sshd).
func checkHostPorts(ports []portMapping) error {
	for _, p := range ports {
		address := fmt.Sprintf(":%d", p.Host)
		var err error
		if p.Proto == "udp" {
			var conn net.PacketConn
			if conn, err = net.ListenPacket("udp4", address); err == nil {
				conn.Close()
			}
		} else {
			var listener net.Listener
			if listener, err = net.Listen("tcp4", address); err == nil {
				listener.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("-p %s: a program on the host uses port %d/%s (%w): choose another host port", p, p.Host, p.Proto, err)
		}
	}
	return nil
}

// join concatenates lists of expressions into one rule.
func join(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// saddrIn matches an IPv4 source address in p: ip saddr p.
func saddrIn(p netip.Prefix) []expr.Any {
	network := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}, // the source address
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}
}

// oifname matches the name of the link a packet leaves by: oifname [!=] "name".
func oifname(name string, equal bool) []expr.Any {
	op := expr.CmpOpEq
	if !equal {
		op = expr.CmpOpNeq
	}
	padded := make([]byte, unix.IFNAMSIZ)
	copy(padded, name)
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: padded}}
}

// localDestination matches packets to one of the host's own addresses,
// 127.0.0.1 included: fib daddr type local.
func localDestination() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// destinationPort matches a TCP or UDP destination port: tcp dport N.
func destinationPort(proto string, port uint16) []expr.Any {
	number := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		number = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{number}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, // the destination port
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// dnatTo rewrites the destination: dnat to addr:port.
func dnatTo(addr netip.Addr, port uint16) []expr.Any {
	a := addr.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// ctStatusDNAT matches connections whose destination was rewritten: ct status dnat.
func ctStatusDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}
