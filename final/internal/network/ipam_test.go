//go:build linux

// Tests of the allocator, the state file's format (step 07's) and the NAT
// rules a state asks for. Pure: no root, no links, no files under /run.

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// testOwner is an owner that stands for the process with the given pid.
func testOwner(pid int) owner {
	return owner{PID: pid, Start: uint64(pid) * 10}
}

// testState is an empty state for the default subnet.
func testState() ipamState {
	return ipamState{Subnet: netip.MustParsePrefix(DefaultSubnet)}
}

func TestAllocateTakesTheLowestFreeAddressAndReusesIt(t *testing.T) {
	s := testState()
	for i, want := range []string{"10.99.0.2", "10.99.0.3", "10.99.0.4"} {
		got, err := s.allocate(testOwner(i+1), nil, nil)
		if err != nil || got.String() != want {
			t.Fatalf("allocation %d: %v, %v; want %s (.0 is the network, .1 the gateway)", i+1, got, err, want)
		}
	}
	if l, ok := s.release(testOwner(2)); !ok || l.Addr.String() != "10.99.0.3" {
		t.Fatalf("release of owner 2 gave %v, %v", l, ok)
	}
	if _, ok := s.release(testOwner(2)); ok {
		t.Errorf("releasing twice succeeded")
	}
	if got, _ := s.allocate(testOwner(9), nil, nil); got.String() != "10.99.0.3" {
		t.Errorf("after releasing 10.99.0.3 the next allocation got %s, want it reused", got)
	}
	if _, err := s.allocate(testOwner(9), nil, nil); err == nil {
		t.Errorf("one owner got two leases")
	}
}

func TestAllocateExhaustion(t *testing.T) {
	cases := []struct {
		subnet string
		room   int
	}{
		{"192.0.2.0/30", 1},   // .0 network, .1 gateway, .2, .3 broadcast
		{"192.0.2.0/29", 5},   // .2 to .6
		{"10.99.0.0/24", 253}, // .2 to .254
	}
	for _, c := range cases {
		t.Run(c.subnet, func(t *testing.T) {
			s := ipamState{Subnet: netip.MustParsePrefix(c.subnet)}
			seen := map[netip.Addr]bool{}
			for pid := 1; pid <= c.room; pid++ {
				addr, err := s.allocate(testOwner(pid), nil, nil)
				if err != nil || seen[addr] || addr == broadcastOf(s.Subnet) || addr == gatewayOf(s.Subnet) {
					t.Fatalf("allocation %d of %d: %v, %v", pid, c.room, addr, err)
				}
				seen[addr] = true
			}
			got, err := s.allocate(testOwner(c.room+1), nil, nil)
			if !errors.Is(err, ErrNoAddress) {
				t.Errorf("allocation %d in a subnet with room for %d: %v, %v; want ErrNoAddress", c.room+1, c.room, got, err)
			}
		})
	}
}

func TestReclaimDropsDeadOwnersOnly(t *testing.T) {
	s := testState()
	for pid := 1; pid <= 3; pid++ {
		if _, err := s.allocate(testOwner(pid), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// pid 2 lives on, but as another process: its start time differs.
	alive := map[owner]bool{testOwner(1): true, {PID: 2, Start: 99}: true, testOwner(3): true}
	stale := s.reclaim(func(o owner) bool { return alive[o] })
	if len(stale) != 1 || stale[0].Owner != testOwner(2) || len(s.Leases) != 2 {
		t.Errorf("reclaimed %v, kept %v; want only the lease of the old pid 2", stale, s.Leases)
	}
	if got, _ := s.allocate(testOwner(4), nil, nil); got.String() != "10.99.0.3" {
		t.Errorf("the reclaimed address was not reused: got %s", got)
	}
}

func TestOwnerAliveOfThisProcessAndAnEndedOne(t *testing.T) {
	me, err := ownerOf(os.Getpid())
	if err != nil || !ownerAlive(me) {
		t.Fatalf("this process: %v, %v", me, err)
	}
	if ownerAlive(owner{PID: me.PID, Start: me.Start + 1}) {
		t.Errorf("a process with this pid but another start time counts as alive")
	}
}

func TestPublishedPortsMayNotClash(t *testing.T) {
	s := testState()
	web := []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostPort: 5353, ContainerPort: 53, Proto: "udp"},
		{HostIP: "127.0.0.1", HostPort: 9000, ContainerPort: 90, Proto: "tcp"}}
	if _, err := s.allocate(testOwner(1), web, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		ports []PortMapping
		clash uint16
	}{
		{"same tcp port", []PortMapping{{HostPort: 8080, ContainerPort: 81, Proto: "tcp"}}, 8080},
		{"same udp port", []PortMapping{{HostPort: 5353, ContainerPort: 53, Proto: "udp"}}, 5353},
		{"one address within all", []PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}, 8080},
		{"all addresses over one", []PortMapping{{HostPort: 9000, ContainerPort: 80, Proto: "tcp"}}, 9000},
		{"asked twice", []PortMapping{{HostPort: 7000, ContainerPort: 80, Proto: "tcp"}, {HostPort: 7000, ContainerPort: 81, Proto: "tcp"}}, 7000},
		{"another protocol", []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "udp"}}, 0},
		{"another address", []PortMapping{{HostIP: "127.0.0.2", HostPort: 9000, ContainerPort: 80, Proto: "tcp"}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.allocate(testOwner(2), c.ports, nil)
			defer s.release(testOwner(2))
			var inUse *PortInUseError
			if c.clash == 0 && err != nil {
				t.Errorf("%v: %v, want no clash", c.ports, err)
			}
			if c.clash != 0 && (!errors.As(err, &inUse) || inUse.Port != c.clash) {
				t.Errorf("%v: %v, want port %d in use", c.ports, err, c.clash)
			}
		})
	}
}

func TestParseSubnet(t *testing.T) {
	cases := []struct{ in, fails string }{
		{"10.99.0.0/24", ""},
		{"192.0.2.0/30", ""},
		{"10.99.0.5/24", "did you mean 10.99.0.0/24"},
		{"10.99.0.0/31", "use /8 to /30"},
		{"fd00::/64", "IPv4 addresses only"},
		{"10.99.0.0", "want an IPv4 network"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := parseSubnet(c.in)
			if (c.fails == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.fails)) {
				t.Errorf("parseSubnet(%q): %v, want %q", c.in, err, c.fails)
			}
		})
	}
}

func TestDefaultSubnetAvoidsDockerAndPodman(t *testing.T) {
	ours := netip.MustParsePrefix(DefaultSubnet)
	for _, theirs := range []string{"172.17.0.0/16", "10.88.0.0/16"} {
		if ours.Overlaps(netip.MustParsePrefix(theirs)) {
			t.Errorf("the default subnet %s overlaps %s", ours, theirs)
		}
	}
	if gatewayOf(ours).String() != "10.99.0.1" || broadcastOf(ours).String() != "10.99.0.255" {
		t.Errorf("gateway %s, broadcast %s", gatewayOf(ours), broadcastOf(ours))
	}
}

func TestStateFileIsStep07s(t *testing.T) {
	data, err := os.ReadFile("testdata/step07-state.json")
	if err != nil {
		t.Fatal(err)
	}
	var fst fileState
	if err := json.Unmarshal(data, &fst); err != nil {
		t.Fatal(err)
	}
	s := fromFile(fst, nil)
	if len(s.Leases) != 2 || s.Leases[0].Ports[0] != (PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}) || !s.OwnBridge || s.ForwardWas != "0" {
		t.Fatalf("read step 07's state as %+v", s)
	}
	back, extra := toFile(s)
	again, _ := json.MarshalIndent(back, "", "  ")
	if string(again)+"\n" != string(data) || extra != nil {
		t.Errorf("written back, step 07's state reads\n%s\nwant\n%s", again, data)
	}
}

func TestHostIPsSurviveInTheirOwnFile(t *testing.T) {
	s := testState()
	ports := []PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostPort: 5353, ContainerPort: 53, Proto: "udp"}}
	if _, err := s.allocate(testOwner(1), ports, nil); err != nil {
		t.Fatal(err)
	}
	fst, extra := toFile(s)
	main, _ := json.Marshal(fst)
	if strings.Contains(string(main), "127.0.0.1") || len(extra) != 1 || len(extra[0].Ports) != 1 {
		t.Fatalf("the host address belongs beside step 07's file, not in it: %s, %+v", main, extra)
	}
	got := fromFile(fst, extra)
	if fmt.Sprint(got.Leases[0].Ports) != fmt.Sprint(ports) {
		t.Errorf("read back %v, want %v", got.Leases[0].Ports, ports)
	}
	// Step 07 rewrote the file and reclaimed owner 1: its host address is forgotten.
	fst.Allocations[0].Owner = testOwner(2)
	if got := fromFile(fst, extra); got.Leases[0].Ports[0].HostIP != "" {
		t.Errorf("a host address was given to another owner: %v", got.Leases[0].Ports)
	}
}

func TestNATRules(t *testing.T) {
	s := testState()
	ports := []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Proto: "udp"}}
	if _, err := s.allocate(testOwner(1), ports, nil); err != nil {
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
		`prerouting: ip daddr 127.0.0.1 udp dport 5353 counter dnat to 10.99.0.2:53`,
		`output: ip daddr 127.0.0.1 udp dport 5353 counter dnat to 10.99.0.2:53`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMACFromAddress(t *testing.T) {
	if got := macOf(netip.MustParseAddr("10.99.0.2")).String(); got != "02:42:0a:63:00:02" {
		t.Errorf("MAC of 10.99.0.2: %s", got)
	}
}
