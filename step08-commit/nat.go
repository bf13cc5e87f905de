//go:build linux

// NAT: how packets get out of the bridge's subnet, and in through a
// published port. The containers' addresses are private to this host:
// nobody else knows the way back to 10.99.0.2. So a packet that leaves
// the host gets the host's own address as its source (masquerade, source
// NAT), and connection tracking turns the answers back. A published port
// (-p 8080:80) works the other way round: a connection to the host's port
// 8080 gets the container's address and port 80 as its destination (DNAT).
//
// All rules sit in one nftables table of our own, named after the bridge,
// so that cleaning up is deleting our table and nothing else of the host
// is touched. The table is never edited rule by rule: every change
// rebuilds it from the leases in one netlink transaction, which the kernel
// applies whole or not at all. We speak the nf_tables netlink protocol
// through github.com/google/nftables, so the host needs no nft or iptables
// binary; each rule is narrated the way "nft list table ip minidocker0"
// prints it:
//
//	chain prerouting  (dstnat)  fib daddr type local tcp dport 8080 dnat to 10.99.0.2:80
//	chain output      (dstnat)  the same, for connections the host makes itself
//	chain postrouting (srcnat)  ip saddr 10.99.0.0/24 oifname != "minidocker0" masquerade
//
// Left out, and in final/internal/network/nat.go: 127.0.0.1:8080 on the
// host (it needs route_localnet on the bridge and a masquerade of loopback
// sources), and a container reaching another through a published port
// ("hairpin", a masquerade of connections that were DNATed).

package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// portMapping is one published port: traffic to Host on the host goes to
// Container in the container.
type portMapping struct {
	Proto     string `json:"proto"` // "tcp" or "udp"
	Host      uint16 `json:"host"`
	Container uint16 `json:"container"`
}

// natChains are our table's base chains, in the order packets meet them.
var natChains = []struct {
	name     string
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
}{
	{"prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
	{"output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
	{"postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
}

// syncNAT makes our table hold exactly the rules the leases ask for, in
// one transaction: add the table (in case it is missing), delete it, add
// it afresh with its chains: masquerade for the subnet, and a DNAT per
// published port in prerouting and output.
func syncNAT(leases []allocation) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: bridgeName}
	conn.AddTable(table)
	conn.DelTable(table)
	conn.AddTable(table)
	host("nft: table ip %s, rebuilt in one transaction (see: nft list table ip %s):", bridgeName, bridgeName)
	chains := map[string]*nftables.Chain{}
	for _, c := range natChains {
		chains[c.name] = conn.AddChain(&nftables.Chain{Name: c.name, Table: table, Type: nftables.ChainTypeNAT, Hooknum: c.hook, Priority: c.priority})
	}
	add := func(chain, text string, exprs ...[]expr.Any) {
		host("  %-11s %s", chain, text)
		rule := &nftables.Rule{Table: table, Chain: chains[chain]}
		for _, e := range exprs {
			rule.Exprs = append(rule.Exprs, e...)
		}
		conn.AddRule(rule)
	}
	for _, a := range leases {
		for _, p := range a.Ports {
			text := fmt.Sprintf("fib daddr type local %s dport %d dnat to %s:%d", p.Proto, p.Host, a.Addr, p.Container)
			add("prerouting", text, localDestination(), destinationPort(p.Proto, p.Host), dnatTo(a.Addr, p.Container))
			add("output", text, localDestination(), destinationPort(p.Proto, p.Host), dnatTo(a.Addr, p.Container))
		}
	}
	add("postrouting", fmt.Sprintf("ip saddr %s oifname != %q masquerade", subnet, bridgeName),
		sourceIn(subnet), leavesBy(bridgeName, expr.CmpOpNeq), []expr.Any{&expr.Masq{}})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: write table ip %s: %w (does this kernel have nf_tables? CONFIG_NF_TABLES, CONFIG_NFT_NAT)", bridgeName, err)
	}
	return nil
}

// deleteNAT deletes our table, if it is there.
func deleteNAT() error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == bridgeName {
			host("nft: delete table ip %s: its chains and rules go with it", bridgeName)
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("nftables: delete table ip %s: %w", bridgeName, err)
			}
		}
	}
	return nil
}

// sourceIn matches an IPv4 source address in p: ip saddr p.
func sourceIn(p netip.Prefix) []expr.Any {
	network := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}, // the source address
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}
}

// leavesBy compares the name of the link a packet leaves by: oifname == or != name.
func leavesBy(name string, op expr.CmpOp) []expr.Any {
	padded := make([]byte, unix.IFNAMSIZ)
	copy(padded, name)
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: padded}}
}

// localDestination matches packets to one of the host's own addresses:
// fib daddr type local.
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

// publishFlag is the value of -p, given once per port.
type publishFlag []portMapping

// Set reads one -p HOSTPORT:CONTAINERPORT[/tcp|udp], as Docker spells it.
func (f *publishFlag) Set(spec string) error {
	m := portMapping{Proto: "tcp"}
	ports, proto, hasProto := strings.Cut(spec, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return fmt.Errorf("%q: protocol must be tcp or udp", spec)
		}
		m.Proto = proto
	}
	hostPort, containerPort, ok := strings.Cut(ports, ":")
	if !ok {
		return fmt.Errorf("%q: want HOSTPORT:CONTAINERPORT[/tcp|udp], e.g. 8080:80", spec)
	}
	var err error
	if m.Host, err = parsePort(hostPort); err != nil {
		return fmt.Errorf("%q: host port: %w", spec, err)
	}
	if m.Container, err = parsePort(containerPort); err != nil {
		return fmt.Errorf("%q: container port: %w", spec, err)
	}
	*f = append(*f, m)
	return nil
}

// String shows the value, for -h.
func (f *publishFlag) String() string { return "" }

// Type names the kind of value, for -h.
func (f *publishFlag) Type() string { return "HOSTPORT:PORT[/udp]" }

// parsePort reads a port number from 1 to 65535.
func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port from 1 to 65535", s)
	}
	return uint16(n), nil
}

// checkHostPorts refuses a host port that a program on the host listens
// on already: DNAT would take its traffic from it (think -p 22:22 and sshd).
func checkHostPorts(ports []portMapping) error {
	for _, p := range ports {
		var err error
		if p.Proto == "udp" {
			var conn net.PacketConn
			if conn, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", p.Host)); err == nil {
				conn.Close()
			}
		} else {
			var listener net.Listener
			if listener, err = net.Listen("tcp4", fmt.Sprintf(":%d", p.Host)); err == nil {
				listener.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("-p %d:%d/%s: a program on the host uses port %d/%s (%w): choose another host port",
				p.Host, p.Container, p.Proto, p.Host, p.Proto, err)
		}
	}
	return nil
}
