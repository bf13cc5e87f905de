//go:build linux

// NAT: how packets get out of the bridge's subnet, and in through a
// published port. The containers' addresses are private to this host, so
// a packet that leaves it gets the host's address as its source
// (masquerade), and connection tracking turns the answers back. A
// published port works the other way round: a connection to the host's
// port 8080 gets the container's address and port 80 as its destination
// (DNAT).
//
// All rules sit in one nftables table of our own, named after the bridge
// ("table ip minidocker0", as in step 07), so that cleaning up is deleting
// our table and nothing else of the host is touched. The table is never
// edited rule by rule: every change rebuilds it from the state in one
// netlink transaction, which the kernel applies whole or not at all.
// Step 07 rebuilds the same table from the same state, with fewer rules
// (no 127.0.0.1, no hairpin; see the package doc), until minidocker
// rebuilds it again.
//
//	chain prerouting  (dstnat)  fib daddr type local tcp dport 8080 dnat to 10.99.0.2:80
//	                            ip daddr 127.0.0.1 tcp dport 8081 dnat to 10.99.0.2:81
//	chain output      (dstnat)  the same, for connections the host makes itself
//	chain postrouting (srcnat)  ip saddr 10.99.0.0/24 oifname != "minidocker0" masquerade
//	                            ip saddr 127.0.0.0/8 oifname "minidocker0" masquerade
//	                            ip saddr 10.99.0.0/24 oifname "minidocker0" ct status dnat masquerade
//
// A published port answers on 127.0.0.1 too, by DNAT in the output hook
// rather than a userland proxy. Two things make that work: the kernel
// drops packets with a loopback source on any other link unless
// net.ipv4.conf.BRIDGE.route_localnet is 1 (links.go sets it), and the
// container would answer 127.0.0.1 on its own loopback, so such packets
// are masqueraded to the bridge's address. The last rule does the same
// for a container that reaches another through a published port of the
// host ("hairpin"), so the answer comes back through the host, which
// undoes the DNAT, and not straight over the bridge.

package network

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
}{
	{"prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
	{"output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
	{"postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
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
	for _, l := range s.Leases {
		for _, p := range l.Ports {
			r := dnatRule(l.Addr, p)
			rules = append(rules, natRule{"prerouting", r.text, r.exprs}, natRule{"output", r.text, r.exprs})
		}
	}
	return rules
}

// dnatRule is the DNAT of one published port to the container at addr;
// a port published on one host address matches that address only.
func dnatRule(addr netip.Addr, p PortMapping) natRule {
	match, text := localDestination(), "fib daddr type local"
	if host, err := netip.ParseAddr(p.HostIP); err == nil && !anyAddr(p.HostIP) {
		match, text = daddrIs(host), "ip daddr "+host.String()
	}
	text += fmt.Sprintf(" %s dport %d counter dnat to %s:%d", p.Proto, p.HostPort, addr, p.ContainerPort)
	exprs := join(match, destinationPort(p.Proto, p.HostPort), []expr.Any{&expr.Counter{}}, dnatTo(addr, p.ContainerPort))
	return natRule{text: text, exprs: exprs}
}

// syncNAT makes our table hold exactly the rules of the state, in one
// transaction: add the table (in case it is missing), delete it, and add
// it afresh with its chains and rules.
func syncNAT(bridge string, s ipamState) error {
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("open an nftables connection: %w", err)
	}
	defer closeLater(conn)
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: bridge}
	conn.AddTable(table)
	conn.DelTable(table)
	conn.AddTable(table)
	chains := map[string]*nftables.Chain{}
	for _, c := range natChains {
		chains[c.name] = conn.AddChain(&nftables.Chain{Name: c.name, Table: table, Type: nftables.ChainTypeNAT, Hooknum: c.hook, Priority: c.priority})
	}
	for _, r := range natRules(bridge, s) {
		conn.AddRule(&nftables.Rule{Table: table, Chain: chains[r.chain], Exprs: r.exprs})
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: write table ip %s: %w (does this kernel have nf_tables? CONFIG_NF_TABLES, CONFIG_NFT_NAT)", bridge, err)
	}
	return nil
}

// closeLater closes an nftables connection without waiting for the
// close to return. A transaction is in force once Flush has returned,
// but the kernel frees what it leaves behind (here the table it
// replaced) later, in a worker, after an RCU grace period; and closing
// a netfilter netlink socket waits for that worker (nft_rcv_nl_event):
// 5 to 20 ms on this project's machines, which a run would otherwise
// spend doing nothing (docs/benchmarks.md). So a goroutine closes it
// while the run goes on; should the process end first, its exit closes
// the socket.
func closeLater(conn *nftables.Conn) {
	go conn.CloseLasting()
}

// deleteNAT deletes our table of that name, if it is there.
func deleteNAT(name string) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open an nftables connection: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			conn.DelTable(t)
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("nftables: delete table ip %s: %w", name, err)
			}
		}
	}
	return nil
}

// natTables lists the names of the IPv4 nftables tables.
func natTables() ([]string, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("open an nftables connection: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.Name)
	}
	return names, nil
}

// ForwardDropWarnings describes the chains of other tables whose forward
// hook drops packets by default, as Docker's iptables rules make it: an
// accept in our table cannot overrule a drop in another, so containers on
// bridge could not get out. The caller decides whether to show them.
func ForwardDropWarnings(bridge string) []string {
	conn, err := nftables.New()
	if err != nil {
		return nil
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil
	}
	var warnings []string
	for _, c := range chains {
		if c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward && c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
			warnings = append(warnings, fmt.Sprintf("chain %s of table %s drops forwarded packets by default: traffic from %s to other links may be dropped; "+
				"allow it, e.g. iptables -I FORWARD -i %s -j ACCEPT; iptables -I FORWARD -o %s -j ACCEPT", c.Name, c.Table.Name, bridge, bridge, bridge))
		}
	}
	return warnings
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

// daddrIs matches one IPv4 destination address: ip daddr addr.
func daddrIs(addr netip.Addr) []expr.Any {
	a := addr.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}, // the destination address
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}
