//go:build linux

// Root tests of the whole network, from the kernel's point of view. Every
// test first moves its goroutine, locked to its OS thread, into a network
// namespace it made (enterNewNetns), and refuses to go on if that failed:
// the links, addresses, routes and nftables rules it makes land there and
// go with the thread. Containers are "sleep" processes in namespaces of
// their own; traffic goes only to loopback and to addresses inside those
// namespaces. Each test ends by checking that nothing of ours is left.

package network

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/procfs"
	"github.com/minidocker/minidocker/tests/skip"
)

// testNetns is a network namespace the test made.
type testNetns struct {
	file *os.File
}

// enterNewNetns moves the test's goroutine into a new network namespace
// with lo up. The goroutine stays locked to its thread, which the Go
// runtime throws away when the test ends, namespace and all.
func enterNewNetns(t *testing.T) *testNetns {
	t.Helper()
	skip.UnlessRoot(t)
	runtime.LockOSThread() // never unlocked, on purpose
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	file, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	// Last of the test's cleanups, on its thread, so in this namespace:
	// a test that failed half-way leaves no kept bridge's record in /run.
	t.Cleanup(func() { _ = Cleanup() })
	n := &testNetns{file: file}
	if now, _ := os.Readlink("/proc/thread-self/ns/net"); now == startingNetns || startingNetns == "" {
		t.Fatalf("still in the network namespace the tests started in (%s) after unshare: refusing to go on", now)
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("ip link set lo up: %v", err)
	}
	return n
}

// startingNetns names the network namespace the test binary started in,
// read before any test moved a thread elsewhere.
var startingNetns, _ = os.Readlink("/proc/thread-self/ns/net")

// inode names the namespace, as the state directory does.
func (n *testNetns) inode(t *testing.T) uint64 {
	var st unix.Stat_t
	if err := unix.Fstat(int(n.file.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// enter moves the calling goroutine into n, for good: call it first thing
// in a goroutine the test starts.
func (n *testNetns) enter() error {
	runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
	if err := unix.Setns(int(n.file.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns(CLONE_NEWNET): %w", err)
	}
	return nil
}

// stateDirOf is the state directory of n.
func (n *testNetns) stateDirOf(t *testing.T) string {
	return filepath.Join(stateDir, fmt.Sprintf("net-%d", n.inode(t)))
}

// expectClean fails the test if a link other than lo and keep, one of
// our nftables tables, or the state directory is left in n.
func (n *testNetns) expectClean(t *testing.T, when string, keep ...string) {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; name != "lo" && !contains(keep, name) {
			t.Errorf("%s: link %s is left", when, name)
		}
	}
	if tables, err := natTables(); err != nil || len(tables) > 0 {
		t.Errorf("%s: nftables tables left: %v %v", when, tables, err)
	}
	if _, err := os.Stat(n.stateDirOf(t)); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(n.stateDirOf(t))
		t.Errorf("%s: the state directory %s is left (%v): %v", when, n.stateDirOf(t), err, entries)
	}
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// startSleep starts "sleep 60", in a new network namespace if newNetns;
// it is killed when the test ends.
func startSleep(t *testing.T, newNetns bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if newNetns {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProcess(cmd) })
	return cmd
}

// stopProcess kills a process the test started and reaps it.
func stopProcess(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// serveIn listens on port in the network namespace of pid and answers
// every TCP connection, or UDP datagram, with "hello from the container".
func serveIn(t *testing.T, pid int, proto string, port int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		ns, err := netns.GetFromPid(pid)
		if err == nil {
			err = netns.Set(ns)
			ns.Close()
		}
		if err != nil {
			errc <- err
			return
		}
		errc <- serve(t, proto, fmt.Sprintf(":%d", port))
	}()
	if err := <-errc; err != nil {
		t.Fatalf("serve %s %d in pid %d's netns: %v", proto, port, pid, err)
	}
}

// serve opens the socket, in the calling thread's namespace, and answers
// on it in the background until the test ends.
func serve(t *testing.T, proto, address string) error {
	if proto == "udp" {
		conn, err := net.ListenPacket("udp4", address)
		if err != nil {
			return err
		}
		t.Cleanup(func() { conn.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := conn.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = conn.WriteTo([]byte("hello from the container\n"), from)
			}
		}()
		return nil
	}
	listener, err := net.Listen("tcp4", address)
	if err != nil {
		return err
	}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte("hello from the container\n"))
			conn.Close()
		}
	}()
	return nil
}

// ask connects to address over proto from the calling thread's namespace
// and returns the first line it hears.
func ask(proto, address string) (string, error) {
	conn, err := net.DialTimeout(proto+"4", address, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if proto == "udp" {
		if _, err := conn.Write([]byte("hi\n")); err != nil {
			return "", err
		}
	}
	return bufio.NewReader(conn).ReadString('\n')
}

// readSysctl reads a sysctl file of the calling thread's namespace.
func readSysctl(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestAttachWiresTheContainerAndCleanupLeavesNothing(t *testing.T) {
	n := enterNewNetns(t)
	forwardBefore := readSysctl(t, ipForward)
	owner, box := startSleep(t, false), startSleep(t, true)
	ports := []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 8081, ContainerPort: 80, Proto: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Proto: "udp"},
	}
	ep, err := Allocate(Options{Ports: ports}, owner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(ep, box.Process.Pid); err != nil {
		t.Fatal(err)
	}
	t.Run("inside", func(t *testing.T) { checkInside(t, ep, box.Process.Pid) })
	t.Run("host side", func(t *testing.T) {
		if err := n.enter(); err != nil { // a subtest runs on a goroutine of its own
			t.Fatal(err)
		}
		checkHostSide(t, ep)
	})
	checkReachable(t, n, ep, box.Process.Pid)
	stopProcess(box) // the test's listeners still hold its namespace, and the veth
	if err := Release(ep); err != nil {
		t.Fatal(err)
	}
	if err := Release(ep); err != nil {
		t.Errorf("releasing twice: %v", err)
	}
	// The bridge and the table stay for the next container, without the ports.
	if _, err := netlink.LinkByName(ep.Bridge); err != nil {
		t.Errorf("the bridge went with the last container: %v", err)
	}
	if rules := dnatRules(t, ep.Bridge); rules != 0 {
		t.Errorf("after Release the table still has %d DNAT rules, want none", rules)
	}
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after Cleanup")
	if got := readSysctl(t, ipForward); got != forwardBefore {
		t.Errorf("ip_forward is %s after Cleanup, was %s", got, forwardBefore)
	}
}

// TestVethGoesWithTheNamespace: Release deletes no link; once the
// container's namespace has no process left, the kernel deletes the pair.
func TestVethGoesWithTheNamespace(t *testing.T) {
	n := enterNewNetns(t)
	owner, box := startSleep(t, false), startSleep(t, true)
	ep, err := Allocate(Options{}, owner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(ep, box.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stopProcess(box)
	if err := Release(ep); err != nil {
		t.Fatal(err)
	}
	waitForLinkGone(t, ep.HostVeth)
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after Cleanup")
}

// TestLingeringVethKeepsItsAddress releases a lease while the container's
// network namespace lives on (as when another process holds it): its veth
// stays, and until it is gone its address goes to nobody; Cleanup deletes it.
func TestLingeringVethKeepsItsAddress(t *testing.T) {
	n := enterNewNetns(t)
	owner, box := startSleep(t, false), startSleep(t, true)
	ep, err := Allocate(Options{}, owner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(ep, box.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := Release(ep); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); err != nil {
		t.Fatalf("the veth of a namespace still in use is gone: %v", err)
	}
	next, err := Allocate(Options{}, startSleep(t, false).Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if next.IPAddress == ep.IPAddress {
		t.Errorf("%s was leased again while its veth %s is still on the bridge", ep.IPAddress, ep.HostVeth)
	}
	if err := Cleanup(); err != nil { // next's owner lives: only the stray veth goes
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); !isLinkNotFound(err) {
		t.Errorf("Cleanup left the veth %s that no lease names: %v", ep.HostVeth, err)
	}
	if err := Release(next); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after Cleanup")
}

// waitForLinkGone waits until the link name is deleted, by the kernel.
func waitForLinkGone(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := netlink.LinkByName(name); isLinkNotFound(err) {
			return
		}
	}
	t.Fatalf("link %s is still there 20 s after its network namespace ended", name)
}

// dnatRules counts the rules of the prerouting chain of our table.
func dnatRules(t *testing.T, bridge string) int {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: bridge}
	rules, err := conn.GetRules(table, &nftables.Chain{Name: "prerouting", Table: table})
	if err != nil {
		t.Fatalf("nft list chain ip %s prerouting: %v", bridge, err)
	}
	return len(rules)
}

// checkReachable serves in the container and connects from the test's
// namespace: to the container's address, and through published ports.
func checkReachable(t *testing.T, n *testNetns, ep *Endpoint, pid int) {
	serveIn(t, pid, "tcp", 80)
	serveIn(t, pid, "udp", 53)
	cases := []struct {
		name, proto, address string
		reaches              bool
	}{
		{"the container's address", "tcp", ep.IPAddress + ":80", true},
		{"published on loopback", "tcp", "127.0.0.1:8080", true},
		{"published on the gateway", "tcp", "10.99.0.1:8080", true},
		{"published on 127.0.0.1 only, asked there", "tcp", "127.0.0.1:8081", true},
		{"published on 127.0.0.1 only, asked elsewhere", "tcp", "10.99.0.1:8081", false},
		{"published udp on loopback", "udp", "127.0.0.1:5353", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := n.enter(); err != nil {
				t.Fatal(err)
			}
			got, err := ask(c.proto, c.address)
			if reached := err == nil && got == "hello from the container\n"; reached != c.reaches {
				t.Errorf("%s %s: %q, %v; want reached=%v", c.proto, c.address, got, err, c.reaches)
			}
		})
	}
}

// checkInside asserts eth0, its address, MAC and default route in the container.
func checkInside(t *testing.T, ep *Endpoint, pid int) {
	h, err := containerHandle(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	eth, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatalf("no eth0 in the container: %v", err)
	}
	addrs, _ := h.AddrList(eth, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != fmt.Sprintf("%s/%d", ep.IPAddress, ep.IPPrefixLen) {
		t.Errorf("eth0 has %v, want %s/%d", addrs, ep.IPAddress, ep.IPPrefixLen)
	}
	if eth.Attrs().HardwareAddr.String() != ep.MacAddress || eth.Attrs().OperState == netlink.OperDown {
		t.Errorf("eth0: MAC %s, state %s; want %s and up", eth.Attrs().HardwareAddr, eth.Attrs().OperState, ep.MacAddress)
	}
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	var gateway string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			gateway = r.Gw.String()
		}
	}
	if gateway != ep.Gateway || ep.Gateway != "10.99.0.1" {
		t.Errorf("default route via %q, want via %s (routes %v)", gateway, ep.Gateway, routes)
	}
	if lo, err := h.LinkByName("lo"); err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is not up in the container: %v", err)
	}
}

// checkHostSide asserts the bridge, the veth on it, ip_forward and our table.
func checkHostSide(t *testing.T, ep *Endpoint) {
	br, err := netlink.LinkByName(ep.Bridge)
	if err != nil || br.Type() != "bridge" {
		t.Fatalf("bridge %s: %v", ep.Bridge, err)
	}
	addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.99.0.1/24" {
		t.Errorf("the bridge has %v, want 10.99.0.1/24", addrs)
	}
	veth, err := netlink.LinkByName(ep.HostVeth)
	if err != nil || veth.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("host veth %s: %v, not on the bridge", ep.HostVeth, err)
	}
	if got := readSysctl(t, ipForward); got != "1" {
		t.Errorf("ip_forward is %s", got)
	}
	conn, _ := nftables.New()
	rules, err := conn.GetRules(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: ep.Bridge}, &nftables.Chain{Name: "output"})
	if err != nil || len(rules) != 3 {
		t.Errorf("table ip %s chain output: %d rules, %v; want one DNAT per published port", ep.Bridge, len(rules), err)
	}
}

func TestParallelAllocationsGetDistinctAddresses(t *testing.T) {
	n := enterNewNetns(t)
	const count = 20
	var wg sync.WaitGroup
	eps, errs := make([]*Endpoint, count), make([]error, count)
	for i := 0; i < count; i++ {
		owner := startSleep(t, false)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if errs[i] = n.enter(); errs[i] == nil {
				eps[i], errs[i] = Allocate(Options{}, owner.Process.Pid)
			}
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range eps {
		if errs[i] != nil {
			t.Fatalf("allocation %d: %v", i, errs[i])
		}
		if seen[eps[i].IPAddress] {
			t.Errorf("%s was handed out twice", eps[i].IPAddress)
		}
		seen[eps[i].IPAddress] = true
	}
	for _, ep := range eps {
		if err := Release(ep); err != nil {
			t.Error(err)
		}
	}
	n.expectClean(t, "after releasing all")
}

func TestHostPorts(t *testing.T) {
	n := enterNewNetns(t)
	if err := serve(t, "tcp", ":7070"); err != nil { // a program on the host
		t.Fatal(err)
	}
	first, err := Allocate(Options{Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}}, startSleep(t, false).Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		port  PortMapping
		inUse bool
	}{
		{"bound by a program on the host", PortMapping{HostPort: 7070, ContainerPort: 80, Proto: "tcp"}, true},
		{"published by another container", PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, true},
		{"the same number in udp", PortMapping{HostPort: 8080, ContainerPort: 80, Proto: "udp"}, false},
		{"chosen by Allocate", PortMapping{ContainerPort: 80, Proto: "tcp"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := n.enter(); err != nil {
				t.Fatal(err)
			}
			ep, err := Allocate(Options{Ports: []PortMapping{c.port}}, startSleep(t, false).Process.Pid)
			var inUse *PortInUseError
			if errors.As(err, &inUse) != c.inUse || (err != nil && !c.inUse) {
				t.Fatalf("%v: %v, want in use: %v", c.port, err, c.inUse)
			}
			if err == nil && (ep.Ports[0].HostPort == 0 || ep.Ports[0].HostPort == 8080 && ep.Ports[0].Proto == "tcp") {
				t.Errorf("host port %d given", ep.Ports[0].HostPort)
			}
			if err := Release(ep); err != nil {
				t.Error(err)
			}
		})
	}
	if err := Release(first); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after releasing all")
}

func TestDeadOwnersLeaseIsReclaimed(t *testing.T) {
	n := enterNewNetns(t)
	forwardBefore := readSysctl(t, ipForward)
	owner, box := startSleep(t, false), startSleep(t, true)
	ep, err := Allocate(Options{}, owner.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := Attach(ep, box.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stopProcess(owner) // the runtime's monitor was killed
	// The container lives on, but nobody will release its network; Reclaim
	// does, and cuts its veth; the bridge stays, as after a Release.
	if err := Reclaim(); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(ep.HostVeth); !isLinkNotFound(err) {
		t.Errorf("Reclaim left the veth %s of a dead owner: %v", ep.HostVeth, err)
	}
	if err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after Reclaim and Cleanup")
	if got := readSysctl(t, ipForward); got != forwardBefore {
		t.Errorf("ip_forward is %s after Cleanup, was %s", got, forwardBefore)
	}
	// Allocate reclaims too: a dead owner's address goes to the next container.
	dead := startSleep(t, false)
	if _, err := Allocate(Options{}, dead.Process.Pid); err != nil {
		t.Fatal(err)
	}
	stopProcess(dead)
	next, err := Allocate(Options{}, startSleep(t, false).Process.Pid)
	if err != nil || next.IPAddress != "10.99.0.2" {
		t.Fatalf("after the owner of 10.99.0.2 ended, the next allocation got %v, %v", next, err)
	}
	if err := Release(next); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after Release")
}

// TestCleanupTakesOnlyWhatNoOwnerHolds: Cleanup leaves the leases of live
// owners (another state root's containers, a running step) with their
// veths; once the owners are gone it removes everything, twice harmlessly.
func TestCleanupTakesOnlyWhatNoOwnerHolds(t *testing.T) {
	n := enterNewNetns(t)
	var owners []*exec.Cmd
	var veths []string
	for i := 0; i < 2; i++ {
		owner := startSleep(t, false)
		ep, err := Allocate(Options{Ports: []PortMapping{{HostPort: uint16(8080 + i), ContainerPort: 80, Proto: "tcp"}}}, owner.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := Attach(ep, startSleep(t, true).Process.Pid); err != nil {
			t.Fatal(err)
		}
		owners, veths = append(owners, owner), append(veths, ep.HostVeth)
	}
	if err := Cleanup(); err != nil {
		t.Fatalf("Cleanup with live owners: %v", err)
	}
	for _, name := range append(veths, "minidocker0") {
		if _, err := netlink.LinkByName(name); err != nil {
			t.Errorf("Cleanup removed %s, which a live owner holds: %v", name, err)
		}
	}
	for _, owner := range owners {
		stopProcess(owner)
	}
	for i := 0; i < 2; i++ {
		if err := Cleanup(); err != nil {
			t.Fatalf("Cleanup %d: %v", i+1, err)
		}
		n.expectClean(t, fmt.Sprintf("after Cleanup %d", i+1))
	}
}

func TestAllocateRefusesWhatItMustNotTouch(t *testing.T) {
	n := enterNewNetns(t)
	owner := startSleep(t, false).Process.Pid
	cases := []struct {
		name  string
		link  netlink.Link
		addr  string
		opts  Options
		fails string
	}{
		{"a subnet the host routes", &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}}, "10.99.0.5/16", Options{}, "overlaps 10.99.0.0/16"},
		{"a bridge not ours", &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "minidocker0"}}, "", Options{}, "minidocker did not make it"},
		{"a bad subnet", nil, "", Options{Subnet: "10.99.0.1/24"}, "did you mean 10.99.0.0/24"},
		{"a bad bridge name", nil, "", Options{Bridge: "much-too-long-name"}, "invalid bridge name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := n.enter(); err != nil {
				t.Fatal(err)
			}
			if c.link != nil {
				addLink(t, c.link, c.addr)
			}
			_, err := Allocate(c.opts, owner)
			if err == nil || !strings.Contains(err.Error(), c.fails) {
				t.Errorf("Allocate: %v, want an error with %q", err, c.fails)
			}
			if c.link != nil {
				if err := netlink.LinkDel(c.link); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	n.expectClean(t, "after the refusals")
}

// addLink adds a link in the calling thread's namespace, up, with an
// address if one is given (and so a route to its network).
func addLink(t *testing.T, link netlink.Link, addr string) {
	t.Helper()
	if err := netlink.LinkAdd(link); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		a, _ := netlink.ParseAddr(addr)
		if err := netlink.AddrAdd(link, a); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSharesLeasesWithStep07(t *testing.T) {
	n := enterNewNetns(t)
	step07 := startSleep(t, false) // plays a step 07 run holding 10.99.0.2
	st, err := procfs.ReadStat(step07.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dir := n.stateDirOf(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	record := fmt.Sprintf(`{"subnet": "10.99.0.0/24", "ownBridge": false, "allocations": [{"owner": {"pid": %d, "start": %d}, "addr": "10.99.0.2", "veth": "veth%d", "ports": [{"proto": "tcp", "host": 8080, "container": 80}]}]}`,
		step07.Process.Pid, st.Start, step07.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "minidocker0.json"), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Allocate(Options{Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}}, startSleep(t, false).Process.Pid)
	var inUse *PortInUseError
	if !errors.As(err, &inUse) {
		t.Errorf("publishing the port a step 07 run publishes: %v, want it in use", err)
	}
	ep, err := Allocate(Options{}, startSleep(t, false).Process.Pid)
	if err != nil || ep.IPAddress != "10.99.0.3" {
		t.Fatalf("next to step 07's 10.99.0.2: %v, %v; want 10.99.0.3", ep, err)
	}
	if err := Release(ep); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "minidocker0.json"))
	if !strings.Contains(string(data), `"addr": "10.99.0.2"`) || strings.Contains(string(data), "10.99.0.3") {
		t.Errorf("after our release, the shared state reads %s; want step 07's lease alone", data)
	}
	stopProcess(step07)
	if err := Reclaim(); err != nil {
		t.Fatal(err)
	}
	n.expectClean(t, "after the step 07 run ended")
}

// TestRemoveStaleKeepsANamespaceMadeMeanwhile makes a network namespace
// and its state directory while RemoveStale is between its two reads, as
// a run starting next to a cleanup may: the directory must survive.
func TestRemoveStaleKeepsANamespaceMadeMeanwhile(t *testing.T) {
	skip.UnlessRoot(t)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	var dir string
	afterListing = func() {
		made := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with its namespace
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				made <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
				return
			}
			var st unix.Stat_t
			if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
				made <- err
				return
			}
			dir = filepath.Join(stateDir, fmt.Sprintf("net-%d", st.Ino))
			made <- os.MkdirAll(dir, 0o755)
			<-done
		}()
		if err := <-made; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { afterListing = func() {} })
	removed, err := RemoveStale()
	if dir == "" {
		t.Fatal("the namespace was not made")
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil || contains(removed, dir) {
		t.Errorf("the state directory %s of a namespace made during RemoveStale was removed (%v; removed %v)", dir, err, removed)
	}
}
