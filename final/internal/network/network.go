//go:build linux

// The package's verbs, one function each: Allocate, Attach, Release, and
// the repair paths Reclaim and Cleanup. Each takes the bridge's state
// lock for its whole length, so two runtimes never interleave their
// changes to one bridge, its leases or its nftables table.
//
// The lease belongs to an owner process that lives as long as the
// container (the runtime's monitor), not to the container's own process:
// the lease must exist before the container does, so that its address
// can go into the container's /etc/hosts, and it must outlive a container
// whose process is gone until the runtime has released it.

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
	"golang.org/x/sys/unix"
)

// resolve fills in the defaults of o and checks its names.
func (o Options) resolve() (bridge string, subnet netip.Prefix, err error) {
	bridge = o.Bridge
	if bridge == "" {
		bridge = DefaultBridge
	}
	if err := checkLinkName(bridge); err != nil {
		return "", subnet, err
	}
	s := o.Subnet
	if s == "" {
		s = DefaultSubnet
	}
	subnet, err = parseSubnet(s)
	return bridge, subnet, err
}

// checkLinkName accepts what the kernel takes as a link name, see netdevice(7).
func checkLinkName(name string) error {
	if name == "." || name == ".." || len(name) > unix.IFNAMSIZ-1 || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("invalid bridge name %q: 1 to 15 characters, not . or .., no '/', ':' or spaces", name)
	}
	return nil
}

// Allocate leases an address on the bridge and the published host ports
// to the process ownerPID, before the container exists; leases of owners
// that are gone are reclaimed first. A host port that another lease
// publishes, or that a program on the host is bound to, is refused with
// a *PortInUseError; a HostPort of 0 is given a free port.
func Allocate(o Options, ownerPID int) (ep *Endpoint, err error) {
	bridge, subnet, err := o.resolve()
	if err != nil {
		return nil, err
	}
	own, err := ownerOf(ownerPID)
	if err != nil {
		return nil, fmt.Errorf("allocate for pid %d: %w", ownerPID, err)
	}
	st, err := lockBridge(bridge)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	if err := reclaimLocked(st, bridge); err != nil {
		return nil, err
	}
	if err := forgetVanished(st, bridge); err != nil {
		return nil, err
	}
	if err := adoptSubnet(st, bridge, subnet); err != nil {
		return nil, err
	}
	ports, err := claimHostPorts(&st.s, o.Ports)
	if err != nil {
		return nil, err
	}
	if _, err := st.s.allocate(own, ports, vethLingers); err != nil {
		return nil, fmt.Errorf("allocate an address on %s: %w", bridge, err)
	}
	l, _ := st.s.leaseOf(own)
	return endpointOf(bridge, st.s.Subnet, l), nil
}

// lockBridge locks the state of bridge in the calling thread's network namespace.
func lockBridge(bridge string) (*lockedState, error) {
	path, err := statePath(bridge)
	if err != nil {
		return nil, err
	}
	return lockState(path)
}

// forgetVanished starts afresh from a record of a kept bridge that is no
// longer there: someone deleted it, or the record outlived its network
// namespace and a new namespace has the old one's inode, so its path.
// What the record says was made, and how ip_forward was, is not true here.
func forgetVanished(st *lockedState, bridge string) error {
	if len(st.s.Leases) > 0 || !st.s.OwnBridge {
		return nil
	}
	_, err := netlink.LinkByName(bridge)
	if err == nil {
		return nil
	}
	if !isLinkNotFound(err) {
		return fmt.Errorf("look up link %s: %w", bridge, err)
	}
	st.s = ipamState{}
	return nil
}

// adoptSubnet gives a bridge without leases its subnet, which must not
// overlap a route of the host, and refuses another subnet on a bridge in use.
func adoptSubnet(st *lockedState, bridge string, subnet netip.Prefix) error {
	if len(st.s.Leases) > 0 || st.s.OwnBridge {
		if st.s.Subnet != subnet {
			return fmt.Errorf("bridge %s serves %s, not %s: choose another bridge for that subnet, or remove this one with minidocker cleanup once no container uses it", bridge, st.s.Subnet, subnet)
		}
		return nil
	}
	st.s.Subnet = subnet
	_, err := netlink.LinkByName(bridge)
	if err == nil {
		return fmt.Errorf("a link named %s exists, but minidocker did not make it: choose another bridge, or remove it (ip link del %s)", bridge, bridge)
	}
	if !isLinkNotFound(err) {
		return fmt.Errorf("look up link %s: %w", bridge, err)
	}
	return checkSubnetFree(subnet)
}

// endpointOf describes lease l on bridge.
func endpointOf(bridge string, subnet netip.Prefix, l lease) *Endpoint {
	return &Endpoint{
		Bridge:      bridge,
		Gateway:     gatewayOf(subnet).String(),
		IPAddress:   l.Addr.String(),
		IPPrefixLen: subnet.Bits(),
		MacAddress:  macOf(l.Addr).String(),
		HostVeth:    l.Veth,
		Ports:       l.Ports,
		OwnerPID:    l.Owner.PID,
		OwnerStart:  l.Owner.Start,
	}
}

// claimHostPorts checks the asked host ports against the leases and the
// host's sockets, and chooses a free one where none was asked.
func claimHostPorts(s *ipamState, asked []PortMapping) ([]PortMapping, error) {
	var claimed []PortMapping
	for _, p := range asked {
		if p.Proto == "" {
			p.Proto = "tcp"
		}
		if err := checkHostIP(p.HostIP); err != nil {
			return nil, err
		}
		var err error
		if p.HostPort == 0 {
			p.HostPort, err = chooseHostPort(s, p, claimed)
		} else if s.published(p) || clashes(p, claimed) {
			err = &PortInUseError{Port: p.HostPort, Proto: p.Proto}
		} else {
			_, err = tryBind(p)
		}
		if err != nil {
			return nil, err
		}
		claimed = append(claimed, p)
	}
	return claimed, nil
}

// chooseHostPort finds a host port that the kernel calls free (bind to
// port 0) and that no lease publishes.
func chooseHostPort(s *ipamState, p PortMapping, claimed []PortMapping) (uint16, error) {
	for try := 0; try < 100; try++ {
		port, err := tryBind(p)
		if err != nil {
			return 0, err
		}
		p.HostPort = port
		if !s.published(p) && !clashes(p, claimed) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("choose a free host port for container port %d/%s: every one tried is published already", p.ContainerPort, p.Proto)
}

// tryBind binds p's host address and port and lets go again, to learn
// whether a program on the host holds it; it returns the port bound.
func tryBind(p PortMapping) (uint16, error) {
	address := net.JoinHostPort(p.HostIP, fmt.Sprint(p.HostPort))
	var port int
	var err error
	if p.Proto == "udp" {
		var conn net.PacketConn
		if conn, err = net.ListenPacket("udp4", address); err == nil {
			port = conn.LocalAddr().(*net.UDPAddr).Port
			conn.Close()
		}
	} else {
		var listener net.Listener
		if listener, err = net.Listen("tcp4", address); err == nil {
			port = listener.Addr().(*net.TCPAddr).Port
			listener.Close()
		}
	}
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return 0, &PortInUseError{Port: p.HostPort, Proto: p.Proto}
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return 0, fmt.Errorf("host IP %s is not an address of this host: publish on one of its addresses, or on all (-p %d:%d)", p.HostIP, p.HostPort, p.ContainerPort)
	case err != nil:
		return 0, fmt.Errorf("bind %s/%s to check it is free: %w", address, p.Proto, err)
	}
	return uint16(port), nil
}

// Attach wires the container whose process is containerPID to ep's
// bridge: the bridge if it is missing, the veth pair, eth0 with the
// address, MAC and default route, lo up, ip_forward, and the NAT table.
// After an error, Release removes what was made.
func Attach(ep *Endpoint, containerPID int) (err error) {
	st, err := lockBridge(ep.Bridge)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	l, ok := st.s.leaseOf(ep.owner())
	if !ok {
		return fmt.Errorf("attach pid %d to %s: the lease of %s for pid %d is gone (its owner ended): allocate again", containerPID, ep.Bridge, ep.IPAddress, ep.OwnerPID)
	}
	br, err := ensureBridge(st, ep.Bridge)
	if err != nil {
		return err
	}
	if err := enableForwarding(st); err != nil {
		return err
	}
	if err := createVeth(l.Veth, br, containerPID, macOf(l.Addr)); err != nil {
		return err
	}
	addr := netip.PrefixFrom(l.Addr, st.s.Subnet.Bits())
	if err := configureContainer(containerPID, addr, gatewayOf(st.s.Subnet)); err != nil {
		return err
	}
	return syncNAT(ep.Bridge, st.s)
}

// Release gives back ep's lease, once its container has ended, and
// rebuilds the NAT table without its published ports. Releasing twice is
// harmless.
//
// It deletes no link. The veth pair goes with the container's network
// namespace: when the container's last process is gone, the kernel frees
// the namespace and deletes both ends, in the background and in one
// batch with the namespace's other devices. Deleting the pair here would
// cost 50 ms or more of waiting for the kernel's RCU grace periods on
// every run (docs/benchmarks.md). Until the kernel is done, the host end
// keeps its name, made from the address, and so keeps the address from
// being leased again (allocate).
//
// The bridge, the NAT table and ip_forward stay when the last lease goes,
// as Docker keeps docker0, so that the next container finds them made;
// Cleanup takes them down.
func Release(ep *Endpoint) (err error) {
	if ep == nil || ep.Bridge == "" {
		return nil
	}
	st, err := lockBridge(ep.Bridge)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	l, ok := st.s.release(ep.owner())
	switch {
	case len(st.s.Leases) == 0 && !st.s.OwnBridge:
		return teardown(st, ep.Bridge) // no bridge of ours to keep: undo what a killed run began
	case ok && len(l.Ports) > 0:
		return syncNAT(ep.Bridge, st.s)
	}
	return nil
}

// vethLingers reports whether the host veth of the container that had
// addr is still there: its namespace is being freed, or something still
// holds it (a process that joined it, a bind mount of /proc/PID/ns/net).
func vethLingers(addr netip.Addr) bool {
	_, err := netlink.LinkByName(vethName(addr))
	return err == nil
}

// Reclaim releases the leases, on every bridge of the calling thread's
// network namespace, whose owner is gone, with their veths; a bridge of
// ours left without leases stays, as after Release.
func Reclaim() error {
	dir, err := netnsDir()
	if err != nil {
		return err
	}
	return forEachBridge(dir, reclaimLocked)
}

// forEachBridge calls do with each bridge's state in dir, locked.
func forEachBridge(dir string, do func(st *lockedState, bridge string) error) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var errs []error
	for _, file := range files {
		st, err := lockState(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = do(st, strings.TrimSuffix(filepath.Base(file), ".json"))
		errs = append(errs, err, st.unlock())
	}
	return errors.Join(errs...)
}

// reclaimLocked drops the leases of dead owners and removes their veth:
// the owner was killed before it could release, and its container may
// still be running (a veth that is gone already costs nothing).
func reclaimLocked(st *lockedState, bridge string) error {
	stale := st.s.reclaim(ownerAlive)
	for _, l := range stale {
		if err := deleteLink(l.Veth); err != nil {
			return err
		}
	}
	switch {
	case len(st.s.Leases) == 0 && !st.s.OwnBridge:
		return teardown(st, bridge)
	case len(stale) > 0:
		return syncNAT(bridge, st.s)
	}
	return nil
}

// teardown removes what the containers on a bridge shared, once none is
// left: the NAT table, the bridge (if a run of ours made it), ip_forward.
// Deleting the bridge waits for the kernel's RCU grace periods, tens of
// milliseconds, which is why only Cleanup asks for it once a bridge exists.
func teardown(st *lockedState, bridge string) error {
	err := deleteNAT(bridge)
	if st.s.OwnBridge {
		err = errors.Join(err, deleteLink(bridge))
		st.s.OwnBridge = false
	}
	if st.s.ForwardWas != "" {
		if bridgesInUse(filepath.Dir(st.path)) == 1 {
			err = errors.Join(err, restoreSysctl(ipForward, st.s.ForwardWas))
		}
		st.s.ForwardWas = ""
	}
	return err
}

// bridgesInUse counts the state files, so bridges in use, in dir.
func bridgesInUse(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	return len(files)
}

// Cleanup frees, in the calling thread's network namespace, what no live
// process holds: the leases whose owner is gone, with their veths
// (Reclaim); on every bridge, the veths no lease names (their namespace
// is held by something else); and every bridge left without leases, with
// its NAT table, and ip_forward. A lease whose owner lives, of whatever
// state root or step, is left alone. Only when no lease at all is left in
// the namespace does it remove what has no record, by name: a bridge
// named minidocker* with its veths, our nftables tables, the state
// directory. Running it twice is harmless.
func Cleanup() error {
	dir, err := netnsDir()
	if err != nil {
		return err
	}
	if err := Reclaim(); err != nil {
		return err
	}
	if err := takeDownIdle(dir); err != nil {
		return err
	}
	if bridgesInUse(dir) > 0 {
		return nil // live leases: what is left is theirs
	}
	errs := []error{cleanupLinks(nil), cleanupTables(nil)}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	_ = os.Remove(stateDir) // fails while anything else is in it
	return errors.Join(errs...)
}

// takeDownIdle deletes, on each bridge with a state file in dir, the
// veths that no lease names, and tears down the bridges without leases.
func takeDownIdle(dir string) error {
	return forEachBridge(dir, func(st *lockedState, bridge string) error {
		if err := deleteStrayPorts(bridge, st.s); err != nil || len(st.s.Leases) > 0 {
			return err
		}
		return teardown(st, bridge)
	})
}

// deleteStrayPorts deletes the veths plugged into bridge that no lease of
// s names: what a namespace held beyond its container's end kept alive.
func deleteStrayPorts(bridge string, s ipamState) error {
	br, err := netlink.LinkByName(bridge)
	if isLinkNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up link %s: %w", bridge, err)
	}
	named := map[string]bool{}
	for _, l := range s.Leases {
		named[l.Veth] = true
	}
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("ip link list: %w", err)
	}
	var errs []error
	for _, port := range links {
		if port.Type() == "veth" && port.Attrs().MasterIndex == br.Attrs().Index && !named[port.Attrs().Name] {
			errs = append(errs, deleteLink(port.Attrs().Name))
		}
	}
	return errors.Join(errs...)
}

// RemoveStale removes the state directories of network namespaces that no
// longer exist (no process is in them any more): a run killed with
// SIGKILL leaves its directory behind, and its namespace took the bridge
// and the veths with it. It returns the directories it removed. The
// directory of a namespace still in use is Cleanup's, run from inside it.
func RemoveStale() ([]string, error) {
	// The directories first, the namespaces in use second: a namespace
	// exists before its directory is made, so every directory listed here
	// whose namespace is alive is seen alive below. In the other order, a
	// run that made its namespace and its directory between the two reads
	// would lose its state to a concurrent cleanup.
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "net-*"))
	afterListing()
	inUse := netnsInUse()
	var removed []string
	var errs []error
	for _, d := range dirs {
		if inUse[strings.TrimPrefix(filepath.Base(d), "net-")] {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d, err))
			continue
		}
		removed = append(removed, d)
	}
	_ = os.Remove(stateDir) // only if empty: others' namespaces may still use it
	return removed, errors.Join(errs...)
}

// afterListing is called by RemoveStale between its two reads; a test
// makes a namespace there, at the worst moment for a concurrent run.
var afterListing = func() {}

// netnsInUse returns the inode numbers of the network namespaces that some
// thread is in, as text.
func netnsInUse() map[string]bool {
	inUse := map[string]bool{}
	links, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/ns/net")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil {
			inUse[strings.Trim(strings.TrimPrefix(target, "net:"), "[]")] = true
		}
	}
	return inUse
}

// ours reports whether a bridge or nftables table is ours: named
// minidocker*, or a bridge a state file says we made.
func ours(name string, fromState map[string]bool) bool {
	return strings.HasPrefix(name, "minidocker") || fromState[name]
}

// cleanupLinks deletes our bridges and the veths plugged into them.
func cleanupLinks(fromState map[string]bool) error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("ip link list: %w", err)
	}
	var errs []error
	for _, br := range links {
		if br.Type() != "bridge" || !ours(br.Attrs().Name, fromState) {
			continue
		}
		for _, port := range links {
			if port.Type() == "veth" && port.Attrs().MasterIndex == br.Attrs().Index {
				errs = append(errs, deleteLink(port.Attrs().Name))
			}
		}
		errs = append(errs, deleteLink(br.Attrs().Name))
	}
	return errors.Join(errs...)
}

// cleanupTables deletes our nftables tables: named minidocker*, or after
// a bridge named in a state file.
func cleanupTables(fromState map[string]bool) error {
	tables, err := natTables()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range tables {
		if _, named := fromState[name]; named || strings.HasPrefix(name, "minidocker") {
			errs = append(errs, deleteNAT(name))
		}
	}
	return errors.Join(errs...)
}
