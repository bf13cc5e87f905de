//go:build linux

// Networking: a bridge, a veth pair per container, an address, a route.
//
// A new network namespace (step 01) holds nothing but a loopback link,
// and that is down. To reach anything the container needs a link that
// leads out. A veth pair is a virtual cable: what goes into one end comes
// out of the other, and each end may live in a different namespace (see
// veth(4)). One end stays on the host and is plugged into a bridge, a
// virtual switch; the other moves into the container and becomes eth0.
// The bridge has an address of its own, the containers' gateway, and the
// host routes between the bridge's subnet and its other links:
//
//	container A          container B
//	eth0 10.99.0.2       eth0 10.99.0.3
//	   |                    |               each | is a veth pair
//	veth1001             veth1002
//	   '-------.    .-------'
//	       minidocker0 10.99.0.1            the bridge, the containers' gateway
//	            |                           ip_forward, and NAT (nat.go)
//	          eth0                          the host's own way out
//
// The host side does all the wiring, after it has put the child into its
// cgroup and before it releases it through the sync pipe, so the command
// never sees a half-made network. It speaks rtnetlink(7) to the kernel, as
// ip(8) does, through github.com/vishvananda/netlink (the library Docker,
// runc and CNI use), and narrates each request with the ip command that
// sends the same (links.go). It sets up the inside of the container too, through a
// netlink socket opened in the container's network namespace
// (/proc/PID/ns/net), so the container side needs no network code.
//
// Containers share the bridge. A state file per bridge and network
// namespace, under /run/minidocker and locked with flock(2), records who
// uses it (ipam.go): the first container creates the bridge, the last one
// removes it with the NAT table (nat.go) and resets ip_forward. What is
// about to be set up is written to the state before it is done, so that
// a run killed half-way leaves a record from which the next run cleans up.

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
)

// stateDir keeps the network state, one directory per network namespace.
const stateDir = "/run/minidocker"

// ipForward is the sysctl that lets the host route packets between links.
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// networkFlags are the network flags; both sides of the program parse them.
type networkFlags struct {
	mode     string // --network: bridge or none
	bridge   string
	subnet   netip.Prefix
	publish  []portMapping
	etcFiles string // hidden: where the container side finds its /etc files
}

// network is one container's network, from its allocation to its release.
type network struct {
	flags     networkFlags
	owner     owner
	veth      string // the host end of the veth pair
	addr      netip.Addr
	statePath string
	etcDir    string
}

// addNetworkFlags registers the network flags; a bad value is a usage error.
func addNetworkFlags(fs *pflag.FlagSet, f *networkFlags) {
	f.mode, f.bridge, f.subnet = "bridge", "minidocker0", netip.MustParsePrefix(defaultSubnet)
	fs.Var(checked(f.mode, "string", func(s string) error {
		if s != "bridge" && s != "none" {
			return fmt.Errorf("want bridge or none")
		}
		f.mode = s
		return nil
	}), "network", "bridge: a veth pair on a bridge, with NAT; none: loopback only")
	fs.Var(checked(f.bridge, "string", func(s string) (err error) {
		f.bridge, err = s, checkLinkName(s)
		return err
	}), "bridge", "the bridge `NAME` on the host")
	fs.Var(checked(defaultSubnet, "string", func(s string) (err error) {
		f.subnet, err = parseSubnet(s)
		return err
	}), "subnet", "the containers' IPv4 `NETWORK`; the bridge takes its first address")
	fs.VarP(checked("", "HOSTPORT:PORT[/udp]", func(s string) error {
		m, err := parsePortMapping(s)
		if err == nil {
			f.publish = append(f.publish, m)
		}
		return err
	}), "publish", "p", "publish a container's port on the host, e.g. 8080:80 (repeatable)")
	fs.StringVar(&f.etcFiles, "etc-files", "", "the directory with the container's /etc files (set by the host side)")
	_ = fs.MarkHidden("etc-files")
}

// checkedValue is a flag value whose set function checks what it is given.
type checkedValue struct {
	set        func(string) error
	shown, typ string
}

// checked makes a checkedValue showing shown as its default.
func checked(shown, typ string, set func(string) error) *checkedValue {
	return &checkedValue{set: set, shown: shown, typ: typ}
}

// Set checks and takes a value from the command line.
func (v *checkedValue) Set(s string) error {
	if err := v.set(s); err != nil {
		return err
	}
	v.shown = s
	return nil
}

// String shows the value, for -h.
func (v *checkedValue) String() string { return v.shown }

// Type names the kind of value, for -h.
func (v *checkedValue) Type() string { return v.typ }

// checkLinkName accepts what the kernel takes as a link name, see netdevice(7).
func checkLinkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 15 || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("%q is not a link name: 1 to 15 characters, not . or .., no '/', ':' or spaces", name)
	}
	return nil
}

// prepareNetwork allocates the container's address and writes its /etc
// files, before the container starts: its address goes into /etc/hosts.
func prepareNetwork(f networkFlags, hostname string) (*network, error) {
	n := &network{flags: f}
	if f.mode == "none" && len(f.publish) > 0 {
		return nil, fmt.Errorf("-p publishes a port through the bridge: it needs --network bridge")
	}
	if f.mode == "bridge" {
		if err := checkHostPorts(f.publish); err != nil {
			return nil, err
		}
		if err := n.allocate(); err != nil {
			return nil, err
		}
	}
	var err error
	if n.etcDir, err = writeEtcFiles(hostname, n.addr); err != nil {
		return nil, errors.Join(err, n.release())
	}
	return n, nil
}

// allocate reclaims what dead runs left in the bridge's state, then takes
// the lowest free address for this container.
func (n *network) allocate() (err error) {
	if n.owner, err = ownerOf(os.Getpid()); err != nil {
		return err
	}
	n.veth = fmt.Sprintf("veth%d", n.owner.PID)
	if n.statePath, err = statePath(n.flags.bridge); err != nil {
		return err
	}
	st, err := lockState(n.statePath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	if err := reclaimStale(st, n.flags.bridge); err != nil {
		return err
	}
	if len(st.s.Allocations) == 0 {
		st.s.Subnet = n.flags.subnet
	} else if st.s.Subnet != n.flags.subnet {
		return fmt.Errorf("bridge %s serves %s, not %s: choose another bridge with --bridge NAME", n.flags.bridge, st.s.Subnet, n.flags.subnet)
	}
	if n.addr, err = st.s.allocate(n.owner, n.veth, n.flags.publish); err != nil {
		return err
	}
	host("IPAM: %s for this container, %d container(s) on %s (state: %s)", n.addr, len(st.s.Allocations), n.flags.bridge, n.statePath)
	return nil
}

// reclaimStale drops the allocations of runs that were killed, removes
// their veth, and, if no container is left, the bridge and NAT table too.
func reclaimStale(st *lockedState, bridge string) error {
	for _, a := range st.s.reclaim(ownerAlive) {
		host("reclaimed %s from pid %d, which is gone: a run killed before it could clean up", a.Addr, a.Owner.PID)
		if err := deleteLink(a.Veth); err != nil {
			return err
		}
	}
	if len(st.s.Allocations) > 0 {
		return nil
	}
	return teardown(st, bridge)
}

// attach wires the container whose host pid is pid: bridge, veth pair,
// addresses, routes, forwarding and NAT; with --network none, only lo.
func (n *network) attach(pid int) (err error) {
	if n.flags.mode == "none" {
		return configureContainer(pid, "", netip.Prefix{}, netip.Addr{})
	}
	st, err := lockState(n.statePath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	br, err := ensureBridge(st, n.flags.bridge)
	if err != nil {
		return err
	}
	if err := enableForwarding(st); err != nil {
		return err
	}
	peer, err := n.createVeth(br, pid)
	if err != nil {
		return err
	}
	addr := netip.PrefixFrom(n.addr, st.s.Subnet.Bits())
	if err := configureContainer(pid, peer, addr, gatewayOf(st.s.Subnet)); err != nil {
		return err
	}
	warnForwardDrop(n.flags.bridge)
	return syncNAT(n.flags.bridge, st.s)
}

// release gives back what prepareNetwork and attach took; the last
// container on the bridge removes the bridge and the NAT table.
func (n *network) release() error {
	var errs []error
	if n.statePath != "" {
		errs = append(errs, n.leaveBridge())
	}
	if n.etcDir != "" {
		host("removing %s", n.etcDir)
		errs = append(errs, os.RemoveAll(n.etcDir))
	}
	return errors.Join(errs...)
}

// leaveBridge removes the container's veth and allocation, then either
// the bridge's shared parts (if it was the last) or its published ports.
func (n *network) leaveBridge() (err error) {
	st, err := lockState(n.statePath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.unlock()) }()
	// The veth pair usually went with the container's network namespace.
	if err := deleteLink(n.veth); err != nil {
		return err
	}
	if a, ok := st.s.release(n.owner); ok {
		host("released %s; %d container(s) left on %s", a.Addr, len(st.s.Allocations), n.flags.bridge)
	}
	if len(st.s.Allocations) == 0 {
		return teardown(st, n.flags.bridge)
	}
	return syncNAT(n.flags.bridge, st.s)
}

// teardown removes what the containers on a bridge shared, once none is
// left: the NAT table, the bridge (if a run of ours made it), ip_forward.
func teardown(st *lockedState, bridge string) error {
	err := deleteNAT(bridge)
	if st.s.OwnBridge {
		err = errors.Join(err, deleteLink(bridge))
		st.s.OwnBridge = false
	}
	if st.s.ForwardWas != "" {
		if bridgesInUse(filepath.Dir(st.path)) == 1 {
			err = errors.Join(err, restoreSysctl(ipForward, "net.ipv4.ip_forward", st.s.ForwardWas))
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
