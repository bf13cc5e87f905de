//go:build linux

// Unit tests of the pure parts of the network: the allocator, the flag
// values, resolv.conf and the NAT rules. No root needed: go test ./step07-veth-bridge

package main

import (
	"net/netip"
	"strings"
	"testing"
)

// testOwner is an owner that stands for the process with the given pid.
func testOwner(pid int) owner {
	return owner{PID: pid, Start: uint64(pid) * 10}
}

func TestAllocateTakesTheLowestFreeAddressAndReusesIt(t *testing.T) {
	s := ipamState{Subnet: netip.MustParsePrefix("10.99.0.0/24")}
	for i, want := range []string{"10.99.0.2", "10.99.0.3", "10.99.0.4"} {
		got, err := s.allocate(testOwner(i+1), "veth", nil)
		if err != nil || got.String() != want {
			t.Fatalf("allocation %d: %v, %v; want %s (.0 is the network, .1 the gateway)", i+1, got, err, want)
		}
	}
	if a, ok := s.release(testOwner(2)); !ok || a.Addr.String() != "10.99.0.3" {
		t.Fatalf("release of owner 2 gave %v, %v", a, ok)
	}
	if _, ok := s.release(testOwner(2)); ok {
		t.Errorf("releasing twice succeeded")
	}
	if got, _ := s.allocate(testOwner(9), "veth", nil); got.String() != "10.99.0.3" {
		t.Errorf("after releasing 10.99.0.3 the next allocation got %s, want it reused", got)
	}
}

func TestAllocateStopsAtTheBroadcastAddress(t *testing.T) {
	s := ipamState{Subnet: netip.MustParsePrefix("192.0.2.0/30")} // .0 network, .1 gateway, .2, .3 broadcast
	if got, err := s.allocate(testOwner(1), "veth", nil); err != nil || got.String() != "192.0.2.2" {
		t.Fatalf("first allocation in a /30: %v, %v", got, err)
	}
	if got, err := s.allocate(testOwner(2), "veth", nil); err == nil {
		t.Errorf("a /30 has room for one container, the second got %s", got)
	}
}

func TestReclaimDropsDeadOwnersOnly(t *testing.T) {
	s := ipamState{Subnet: netip.MustParsePrefix("10.99.0.0/24")}
	for pid := 1; pid <= 3; pid++ {
		if _, err := s.allocate(testOwner(pid), "veth", nil); err != nil {
			t.Fatal(err)
		}
	}
	// pid 2 lives on, but as another process: its start time differs.
	alive := map[owner]bool{testOwner(1): true, {PID: 2, Start: 99}: true, testOwner(3): true}
	stale := s.reclaim(func(o owner) bool { return alive[o] })
	if len(stale) != 1 || stale[0].Owner != testOwner(2) || len(s.Allocations) != 2 {
		t.Errorf("reclaimed %v, kept %v; want only the allocation of the old pid 2", stale, s.Allocations)
	}
}

func TestPublishedPortsMayNotClash(t *testing.T) {
	s := ipamState{Subnet: netip.MustParsePrefix("10.99.0.0/24")}
	web := []portMapping{{"tcp", 8080, 80}, {"udp", 5353, 53}}
	if _, err := s.allocate(testOwner(1), "veth", web); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ports []portMapping
		fails string
	}{
		{[]portMapping{{"tcp", 8080, 81}}, "already published by the container of pid 1"},
		{[]portMapping{{"udp", 5353, 53}}, "already published"},
		{[]portMapping{{"tcp", 9000, 80}, {"tcp", 9000, 81}}, "published twice"},
		{[]portMapping{{"udp", 8080, 80}, {"tcp", 5353, 53}}, ""}, // another protocol is another port
	}
	for _, c := range cases {
		_, err := s.allocate(testOwner(2), "veth", c.ports)
		if (c.fails == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.fails)) {
			t.Errorf("%v: error %v, want %q", c.ports, err, c.fails)
		}
		s.release(testOwner(2))
	}
}

func TestParseSubnet(t *testing.T) {
	cases := []struct{ in, fails string }{
		{"10.99.0.0/24", ""},
		{"192.0.2.0/30", ""},
		{"10.99.0.5/24", "did you mean 10.99.0.0/24"},
		{"10.99.0.0/31", "use /8 to /30"},
		{"fd00::/64", "not IPv4"},
		{"10.99.0.0", "want an IPv4 network"},
	}
	for _, c := range cases {
		_, err := parseSubnet(c.in)
		if (c.fails == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.fails)) {
			t.Errorf("parseSubnet(%q): %v, want %q", c.in, err, c.fails)
		}
	}
}

func TestDefaultSubnetAvoidsDockerAndPodman(t *testing.T) {
	ours := netip.MustParsePrefix(defaultSubnet)
	for _, theirs := range []string{"172.17.0.0/16", "10.88.0.0/16"} {
		if ours.Overlaps(netip.MustParsePrefix(theirs)) {
			t.Errorf("the default subnet %s overlaps %s", ours, theirs)
		}
	}
	if gatewayOf(ours).String() != "10.99.0.1" || broadcastOf(ours).String() != "10.99.0.255" {
		t.Errorf("gateway %s, broadcast %s", gatewayOf(ours), broadcastOf(ours))
	}
}

func TestParsePortMapping(t *testing.T) {
	cases := []struct{ in, want, fails string }{
		{"8080:80", "8080:80/tcp", ""},
		{"5353:53/udp", "5353:53/udp", ""},
		{"80", "", "want HOSTPORT:CONTAINERPORT"},
		{"8080:80/sctp", "", "tcp or udp"},
		{"0:80", "", "host port"},
		{"8080:70000", "", "container port"},
	}
	for _, c := range cases {
		m, err := parsePortMapping(c.in)
		if (c.fails == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.fails)) || (err == nil && m.String() != c.want) {
			t.Errorf("parsePortMapping(%q) = %v, %v; want %q, error %q", c.in, m, err, c.want, c.fails)
		}
	}
}

func TestResolvConf(t *testing.T) {
	cases := []struct {
		name, host, upstream string
		servers              []string
		why                  string
	}{
		{"usable", "nameserver 192.0.2.10\nnameserver 127.0.0.1\nsearch lan\n", "", []string{"192.0.2.10"}, "host's /etc/resolv.conf"},
		{"systemd-resolved", "nameserver 127.0.0.53\noptions edns0\n", "nameserver 192.0.2.1\nnameserver fe80::1%eth0\n", []string{"192.0.2.1"}, "upstream servers"},
		{"nothing upstream", "nameserver 127.0.0.53\n", "", publicResolvers, "public resolvers"},
		{"no file", "", "", publicResolvers, "names no nameserver"},
	}
	for _, c := range cases {
		content, why := resolvConf(c.host, c.upstream)
		servers, _, _ := nameservers(content)
		if strings.Join(servers, " ") != strings.Join(c.servers, " ") || !strings.Contains(why, c.why) {
			t.Errorf("%s: servers %v (%s), want %v and %q", c.name, servers, why, c.servers, c.why)
		}
		if strings.Contains(c.host, "search lan") && !strings.Contains(content, "\nsearch lan\n") {
			t.Errorf("%s: the search line was lost:\n%s", c.name, content)
		}
	}
}

func TestNATRules(t *testing.T) {
	s := ipamState{Subnet: netip.MustParsePrefix("10.99.0.0/24")}
	if _, err := s.allocate(testOwner(1), "veth1", []portMapping{{"tcp", 8080, 80}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range natRules("minidocker0", s) {
		got = append(got, r.chain+": "+r.text)
	}
	want := []string{
		`postrouting: ip saddr 10.99.0.0/24 oifname != "minidocker0" counter masquerade`,
		`postrouting: ip saddr 127.0.0.0/8 oifname "minidocker0" counter masquerade`,
		`postrouting: ip saddr 10.99.0.0/24 oifname "minidocker0" ct status dnat counter masquerade`,
		`prerouting: fib daddr type local tcp dport 8080 counter dnat to 10.99.0.2:80`,
		`output: fib daddr type local tcp dport 8080 counter dnat to 10.99.0.2:80`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
