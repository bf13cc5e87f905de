//go:build linux

// The network pieces step07 and the runtime use: IP forwarding, a bridge,
// veth pairs and nftables with NAT. Modules load on first use, so the
// surest check is to use them: on a thread of its own that moves into a
// new network namespace, the probe makes a bridge, a veth pair plugged
// into it, and an nftables table with a masquerade rule, then moves back;
// the namespace, with all the probe made, goes when nothing holds it any
// more. The host's own network namespace is never touched. Without root the probe cannot make
// a namespace, and the checks look for the kernel modules instead.

package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netResult is what the probe found: each error is nil when that piece works.
type netResult struct {
	namespace error // no throw-away namespace: the other results are unknown
	bridge    error
	veth      error
	nftables  error
}

// netPieces are the pieces the checks report, with their kernel modules.
var netPieces = []struct {
	name, module, file string
	result             func(netResult) error
}{
	{"bridge", "bridge", "kernel/net/bridge/bridge.ko*", func(r netResult) error { return r.bridge }},
	{"veth", "veth", "kernel/drivers/net/veth.ko*", func(r netResult) error { return r.veth }},
	{"nftables (NAT)", "nf_tables", "kernel/net/netfilter/nf_tables.ko*", func(r netResult) error { return r.nftables }},
}

// checkNetwork reports the probe's findings, or the modules without root.
func (s system) checkNetwork() []Check {
	r := s.netProbe()
	var checks []Check
	for _, p := range netPieces {
		c := Check{Name: p.name}
		fix := fmt.Sprintf("sudo modprobe %s; if modprobe cannot find it: sudo apt-get install linux-modules-extra-$(uname -r)", p.module)
		switch err := p.result(r); {
		case r.namespace != nil:
			_, loaded := os.Stat(s.path("/sys/module/" + p.module))
			files, _ := filepath.Glob(s.path("/lib/modules/" + s.release() + "/" + p.file))
			builtin, _ := os.ReadFile(s.path("/lib/modules/" + s.release() + "/modules.builtin"))
			c.OK = loaded == nil || len(files) > 0 || containsModule(string(builtin), p.file)
			c.Detail = fmt.Sprintf("not tried (no throw-away network namespace: %v); module %s ", r.namespace, p.module)
			if c.OK {
				c.Detail += "is there"
			} else {
				c.Detail += "was not found"
				c.Fix = fix
			}
		case err != nil:
			c.Detail = fmt.Sprintf("tried in a throw-away network namespace: %v", err)
			c.Fix = fix
		default:
			c.OK = true
			c.Detail = "works (tried in a throw-away network namespace)"
		}
		checks = append(checks, c)
	}
	return checks
}

// containsModule reports whether modules.builtin (one path a line) lists
// the module file ("kernel/net/bridge/bridge.ko*").
func containsModule(builtin, file string) bool {
	want := strings.TrimSuffix(file, "*")
	for _, line := range strings.Split(builtin, "\n") {
		if strings.TrimSpace(line) == want {
			return true
		}
	}
	return false
}

// checkForwarding reads net.ipv4.ip_forward. Off is fine: minidocker (and
// step07) turn it on when they make their bridge. It must be writable.
func (s system) checkForwarding() Check {
	const file = "/proc/sys/net/ipv4/ip_forward"
	c := Check{Name: "IP forwarding"}
	v, err := s.read(file)
	if err != nil {
		c.Detail = fmt.Sprintf("cannot read %s: %v", file, err)
		c.Fix = "use a kernel with IPv4 networking (CONFIG_INET) and /proc mounted"
		return c
	}
	if err := unix.Access(s.path(file), unix.W_OK); errors.Is(err, unix.EROFS) {
		c.Detail = fmt.Sprintf("net.ipv4.ip_forward is %s and /proc/sys is read-only here (inside a container?)", v)
		c.Fix = "run minidocker on a machine or VM of its own, or turn forwarding on where /proc/sys is writable: sudo sysctl -w net.ipv4.ip_forward=1"
		return c
	}
	c.OK = true
	if v == "1" {
		c.Detail = "on"
	} else {
		c.Detail = "off; minidocker turns it on when it makes its bridge (step07 too, and puts it back afterwards)"
	}
	return c
}

// probeNetwork runs the probe on a thread that moves into a new network
// namespace and back. If it cannot move back, the thread stays locked, so
// the Go runtime ends it (or parks it, if it is the main thread) and never
// runs other code in the probe's namespace.
func probeNetwork() netResult {
	done := make(chan netResult, 1)
	go func() {
		runtime.LockOSThread()
		original, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- netResult{namespace: fmt.Errorf("open this thread's network namespace: %w", err)}
			return
		}
		defer unix.Close(original)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- netResult{namespace: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		r := probeLinks(probeNftables(netResult{}))
		if err := unix.Setns(original, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		done <- r // the probe's namespace ends with its last reference, here
	}()
	return <-done
}

// probeLinks makes a bridge and a veth pair plugged into it, in this
// thread's network namespace.
func probeLinks(r netResult) netResult {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		r.bridge = fmt.Errorf("open a netlink socket: %w", err)
		r.veth = r.bridge
		return r
	}
	defer h.Close()
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "doctor0"}}
	if err := h.LinkAdd(bridge); err != nil {
		r.bridge = fmt.Errorf("ip link add doctor0 type bridge: %w", err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "doctor1"}, PeerName: "doctor2"}
	if err := h.LinkAdd(veth); err != nil {
		r.veth = fmt.Errorf("ip link add doctor1 type veth peer name doctor2: %w", err)
		return r
	}
	if r.bridge == nil {
		if err := h.LinkSetMaster(veth, bridge); err != nil {
			r.bridge = fmt.Errorf("ip link set doctor1 master doctor0: %w", err)
		}
	}
	return r
}

// probeNftables makes a table with a NAT chain and a masquerade rule, in
// this thread's network namespace.
func probeNftables(r netResult) netResult {
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		r.nftables = fmt.Errorf("open this thread's network namespace: %w", err)
		return r
	}
	defer unix.Close(fd)
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		r.nftables = fmt.Errorf("open an nftables connection: %w", err)
		return r
	}
	defer conn.CloseLasting()
	table := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "doctor"})
	chain := conn.AddChain(&nftables.Chain{Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{&expr.Masq{}}})
	if err := conn.Flush(); err != nil {
		r.nftables = fmt.Errorf("nft add table ip doctor, a nat chain and a masquerade rule: %w", err)
	}
	return r
}
