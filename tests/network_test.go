// Checks of step 07 and every step after it: the container's network.
//
// Every check builds its network inside network namespaces that the test
// makes, never on this machine's own links, and sends traffic only there.
// One namespace plays the host the step runs on: the step's bridge, veth
// pairs and nftables table land in it, and go with it. Where the internet
// is needed, a second namespace plays it, joined to the first by a veth
// pair with documentation addresses (198.51.100.0/24, RFC 5737) that exist
// nowhere else. Servers and clients are the step's own "load serve" and
// "load connect" (netload.go), run inside the container as /bin/load and
// on the test's host as a link named load to the step's binary.

package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testNetns is a network namespace the test made, held by an open file.
type testNetns struct {
	file *os.File
}

// newNetns makes a network namespace with lo up; it goes when the test ends.
func newNetns(t *testing.T) *testNetns {
	t.Helper()
	var file *os.File
	err := onOwnThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		}
		var err error
		file, err = os.Open("/proc/thread-self/ns/net")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	n := &testNetns{file: file}
	h := n.handle(t)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up in the test's namespace: %v", err)
	}
	return n
}

// onOwnThread runs fn on an OS thread of its own that is thrown away
// afterwards, so that a namespace fn enters stays with that thread.
func onOwnThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		errc <- fn()
	}()
	return <-errc
}

// do runs fn in the namespace: what fn starts is started inside it.
func (n *testNetns) do(fn func() error) error {
	return onOwnThread(func() error {
		if err := unix.Setns(int(n.file.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns(CLONE_NEWNET): %w", err)
		}
		return fn()
	})
}

// handle is a netlink handle into the namespace.
func (n *testNetns) handle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(n.file.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// inode names the namespace, as the step's state directory does.
func (n *testNetns) inode(t *testing.T) uint64 {
	var st unix.Stat_t
	if err := unix.Fstat(int(n.file.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// start starts binary in the namespace; the test talks to it line by line.
func (n *testNetns) start(t *testing.T, env []string, binary string, args ...string) *session {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return startSession(t, cmd, func() error { return n.do(cmd.Start) })
}

// run runs binary in the namespace to completion, with a timeout.
func (n *testNetns) run(t *testing.T, binary string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, err := exitCode(n.do(cmd.Run))
	if err != nil || ctx.Err() != nil {
		t.Fatalf("%s %s: %v %v\nstderr:\n%s", filepath.Base(binary), strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustRun runs binary in the namespace and fails the test unless it exits 0.
func (n *testNetns) mustRun(t *testing.T, binary string, args ...string) result {
	t.Helper()
	r := n.run(t, binary, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit status %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(binary), strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// loadCommand is the step's binary under the name load, for the test's own
// servers and clients on the host side.
func loadCommand(t *testing.T, s step) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "load")
	if err := os.Symlink(s.binary, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// allocated finds the address the step narrates taking for its container.
var allocated = regexp.MustCompile(`: (\d+\.\d+\.\d+\.\d+) for this container`)

// containerAddress is the container's address, from a step's narration.
func containerAddress(t *testing.T, narration string) string {
	t.Helper()
	m := allocated.FindStringSubmatch(narration)
	if m == nil {
		t.Fatalf("no address narrated:\n%s", narration)
	}
	return m[1]
}

// readUntil collects the lines a container prints up to the line last.
func readUntil(t *testing.T, sess *session, last string) []string {
	t.Helper()
	var got []string
	for line := sess.readLine(t); line != last; line = sess.readLine(t) {
		got = append(got, line)
	}
	return got
}

// hasLine reports whether one of lines starts with prefix.
func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// leftovers lists what the step left in the namespace: links other than
// keep, nftables tables, ip_forward on, its state directory.
func (n *testNetns) leftovers(t *testing.T, keep ...string) []string {
	t.Helper()
	var found []string
	links, err := n.handle(t).LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; name != "lo" && !contains(keep, name) {
			found = append(found, "link "+name)
		}
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(n.file.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		found = append(found, "nft table "+table.Name)
	}
	if forward := n.sysctl(t, "/proc/sys/net/ipv4/ip_forward"); forward != "0" {
		found = append(found, "net.ipv4.ip_forward = "+forward)
	}
	state := fmt.Sprintf("/run/minidocker/net-%d", n.inode(t))
	if _, err := os.Stat(state); err == nil {
		found = append(found, "state "+state)
	}
	return found
}

// sysctl reads a /proc/sys/net file as the namespace sees it.
func (n *testNetns) sysctl(t *testing.T, path string) string {
	t.Helper()
	var data []byte
	err := n.do(func() (err error) {
		data, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// expectClean fails the test if the step left anything in the namespace.
func (n *testNetns) expectClean(t *testing.T, when string, keep ...string) {
	t.Helper()
	for _, leak := range n.leftovers(t, keep...) {
		t.Errorf("%s, the host namespace still has: %s", when, leak)
	}
}

func TestNetworkContainerReachesGatewayHostAndPeers(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS, load := newNetns(t), loadCommand(t, s)
		server := hostNS.start(t, nil, load, "serve", "7000")
		server.readLine(t) // listening
		machine, _ := os.Hostname()

		alpha := hostNS.start(t, nil, s.binary, "--hostname", "alpha", "--",
			"sh", "-c", "load serve 80 >/dev/null & load connect 10.99.0.1:7000; echo ready; read x; exit 0")
		inside := readUntil(t, alpha, "ready")
		addr := containerAddress(t, alpha.stderr.String())
		// The gateway's server saw the container's own address: no NAT on the bridge.
		if want := fmt.Sprintf("hello from %s: you are %s:", machine, addr); !hasLine(inside, want) {
			t.Errorf("the container did not reach the gateway 10.99.0.1:7000 as %s: it printed %q", addr, inside)
		}
		// The host reaches the container at its address.
		got := hostNS.mustRun(t, load, "connect", addr+":80")
		if !strings.HasPrefix(got.stdout, "hello from alpha: you are 10.99.0.1:") {
			t.Errorf("the host connecting to %s:80 got %q, want alpha's answer", addr, got.stdout)
		}
		// A second container reaches the first by its address, from its own.
		beta := hostNS.mustRun(t, s.binary, "--hostname", "beta", "--", "load", "connect", addr+":80")
		betaAddr := containerAddress(t, beta.stderr)
		if betaAddr == addr || !strings.HasPrefix(beta.stdout, "hello from alpha: you are "+betaAddr+":") {
			t.Errorf("beta (%s) connecting to alpha (%s) got %q", betaAddr, addr, beta.stdout)
		}
		if code := alpha.finish(t); code != 0 {
			t.Errorf("alpha: exit %d\n%s", code, alpha.stderr)
		}
		hostNS.expectClean(t, "after the last container")
	})
}

func TestNetworkPublishedPorts(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS, load := newNetns(t), loadCommand(t, s)
		web := hostNS.start(t, nil, s.binary, "--hostname", "web", "-p", "8080:80", "-p", "5353:53/udp", "--",
			"sh", "-c", "load serve 80 & load serve 53/udp & sleep 0.3; echo ready; read x; exit 0")
		readUntil(t, web, "ready")
		// The steps publish on the host's addresses, not on 127.0.0.1, and not
		// to other containers (no hairpin): final does both (TestFinalPublishedPorts).
		for _, target := range []string{"10.99.0.1:8080", "10.99.0.1:5353/udp"} {
			got := hostNS.run(t, load, "connect", target)
			if !strings.HasPrefix(got.stdout, "hello from web: ") {
				t.Errorf("the host connecting to %s got %q %q, want the container's answer", target, got.stdout, got.stderr)
			}
		}
		// A port a program on the host listens on is refused: DNAT would steal its traffic.
		taken := hostNS.start(t, nil, load, "serve", "7070")
		taken.readLine(t)
		busy := hostNS.run(t, s.binary, "-q", "-p", "7070:80", "--", "true")
		if busy.code == 0 || !strings.Contains(busy.stderr, "uses port 7070/tcp") {
			t.Errorf("publishing a port the host listens on: exit %d, %q; want a refusal", busy.code, busy.stderr)
		}
		// A port that another container publishes already is refused.
		clash := hostNS.run(t, s.binary, "-q", "-p", "8080:81", "--", "true")
		if clash.code == 0 || !strings.Contains(clash.stderr, "8080/tcp is already published") {
			t.Errorf("publishing 8080 twice: exit %d, %q; want a refusal", clash.code, clash.stderr)
		}
		if code := web.finish(t); code != 0 {
			t.Errorf("web: exit %d\n%s", code, web.stderr)
		}
		hostNS.expectClean(t, "after the last container")
	})
}

// connectOutside joins the host namespace to a new "internet" namespace
// by a veth pair, 198.51.100.1 on the host's end and 198.51.100.2 outside.
func connectOutside(t *testing.T, hostNS *testNetns) *testNetns {
	t.Helper()
	outside := newNetns(t)
	h := hostNS.handle(t)
	wan := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "wan0"}, PeerName: "wan0", PeerNamespace: netlink.NsFd(outside.file.Fd())}
	if err := h.LinkAdd(wan); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		h    *netlink.Handle
		addr string
	}{{h, "198.51.100.1/24"}, {outside.handle(t), "198.51.100.2/24"}} {
		link, err := side.h.LinkByName("wan0")
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := netlink.ParseAddr(side.addr)
		if err := side.h.AddrAdd(link, addr); err != nil {
			t.Fatal(err)
		}
		if err := side.h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
	}
	return outside
}

func TestNetworkOutboundNATAndInboundPort(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS, load := newNetns(t), loadCommand(t, s)
		outside := connectOutside(t, hostNS)
		server := outside.start(t, nil, load, "serve", "9000")
		server.readLine(t)
		// The outside knows no route to 10.99.0.0/24: only masquerade gets an answer back.
		web := hostNS.start(t, nil, s.binary, "--hostname", "web", "-p", "8080:80", "--",
			"sh", "-c", "load serve 80 >/dev/null & load connect 198.51.100.2:9000; echo ready; read x; exit 0")
		inside := readUntil(t, web, "ready")
		if !hasLine(inside, "hello from "+mustHostname(t)+": you are 198.51.100.1:") {
			t.Errorf("outbound: the outside should see the host's 198.51.100.1 as the source; the container printed %q\n%s", inside, web.stderr)
		}
		// From the outside, the published port keeps the client's own address.
		in := outside.run(t, load, "connect", "198.51.100.1:8080")
		if !strings.HasPrefix(in.stdout, "hello from web: you are 198.51.100.2:") {
			t.Errorf("the outside connecting to the host's 198.51.100.1:8080 got %q %q", in.stdout, in.stderr)
		}
		if code := web.finish(t); code != 0 {
			t.Errorf("web: exit %d\n%s", code, web.stderr)
		}
		hostNS.expectClean(t, "after the last container", "wan0")
	})
}

// waitForDeath waits until pid is gone, or a zombie that init has yet to reap.
func waitForDeath(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || (i > 0 && bytes.HasPrefix(stat[i:], []byte(") Z"))) {
			return
		}
	}
	t.Fatalf("pid %d lives on after its host side was killed", pid)
}

// mustHostname is this machine's hostname, which the test's namespaces share.
func mustHostname(t *testing.T) string {
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestNetworkIsReleasedAndReused(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS := newNetns(t)
		first := hostNS.mustRun(t, s.binary, "--", "true")
		firstAddr := containerAddress(t, first.stderr)
		hostNS.expectClean(t, "after a container alone on the bridge")

		// A container that stays keeps the bridge and the table up for the others.
		keeper := hostNS.start(t, nil, s.binary, "--", "sh", "-c", "echo ready; read x; exit 0")
		readUntil(t, keeper, "ready")
		if got := containerAddress(t, keeper.stderr.String()); got != firstAddr {
			t.Errorf("the address %s was not reused: the next container got %s", firstAddr, got)
		}
		second := hostNS.mustRun(t, s.binary, "--", "true")
		secondAddr := containerAddress(t, second.stderr)
		leaks := hostNS.leftovers(t)
		for _, want := range []string{"link minidocker0", "nft table minidocker0"} {
			if !contains(leaks, want) {
				t.Errorf("with one container still running, the host lacks %s: %q", want, leaks)
			}
		}
		for _, leak := range leaks {
			if strings.HasPrefix(leak, "link veth") && !strings.Contains(leak, fmt.Sprint(keeper.cmd.Process.Pid)) {
				t.Errorf("the veth of a container that ended is still there: %s", leak)
			}
		}
		third := hostNS.mustRun(t, s.binary, "--", "true")
		if got := containerAddress(t, third.stderr); got != secondAddr {
			t.Errorf("the address %s of an ended container was not reused: the next one got %s", secondAddr, got)
		}
		if code := keeper.finish(t); code != 0 {
			t.Errorf("exit %d\n%s", code, keeper.stderr)
		}
		hostNS.expectClean(t, "after the last container")
	})
}

func TestNetworkOfAKilledRunIsReclaimed(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS := newNetns(t)
		// The killed run cannot remove its rootfs: let it make it here.
		crashed := hostNS.start(t, []string{"TMPDIR=" + t.TempDir()}, s.binary, "--", "sleep", "60")
		child := waitForChild(t, crashed, "sleep")
		addr := containerAddress(t, crashed.stderr.String())
		_ = crashed.cmd.Process.Kill() // SIGKILL: no cleanup at all
		_ = crashed.cmd.Wait()
		waitForDeath(t, child) // the container dies with it (Pdeathsig)
		if leaks := hostNS.leftovers(t); !contains(leaks, "link minidocker0") {
			t.Errorf("a killed run should leave its bridge for the next run to reclaim, found %q", leaks)
		}
		next := hostNS.mustRun(t, s.binary, "--", "true")
		reclaimed := fmt.Sprintf("reclaimed %s from pid %d", addr, crashed.cmd.Process.Pid)
		if !strings.Contains(next.stderr, reclaimed) || containerAddress(t, next.stderr) != addr {
			t.Errorf("the next run should say %q and take %s again:\n%s", reclaimed, addr, next.stderr)
		}
		hostNS.expectClean(t, "after the run that reclaimed a killed one's network")
	})
}

func TestNetworkNoneHasLoopbackUp(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		hostNS := newNetns(t)
		r := hostNS.mustRun(t, s.binary, "-q", "--network", "none", "--", "sh", "-c", "cat /proc/net/dev; cat /sys/class/net/lo/flags")
		var links []string
		for _, l := range lines(r.stdout) {
			if name, _, ok := strings.Cut(l, ":"); ok {
				links = append(links, strings.TrimSpace(name))
			}
		}
		if strings.Join(links, " ") != "lo" || !strings.Contains(r.stdout, "0x9") {
			t.Errorf("--network none: links %q, lo flags in %q; want lo alone, IFF_UP|IFF_LOOPBACK (0x9)", links, r.stdout)
		}
		hostNS.expectClean(t, "after --network none")
	})
}

func TestContainerGetsItsEtcFiles(t *testing.T) {
	cases := []struct {
		name, hostConf, upstream string
		want                     []string
		narrated                 string
	}{
		{"host servers kept", "nameserver 198.51.100.10\nsearch example.test\n", "",
			[]string{"nameserver 198.51.100.10", "search example.test"}, "the nameservers of the host's /etc/resolv.conf"},
		{"systemd-resolved upstream", "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.test\n", "nameserver 198.51.100.53\n",
			[]string{"nameserver 198.51.100.53", "options edns0 trust-ad", "search example.test"}, "/run/systemd/resolve/resolv.conf"},
		{"public fallback", "nameserver 127.0.0.53\n", "",
			[]string{"nameserver 1.1.1.1", "nameserver 8.8.8.8"}, "falling back to public resolvers"},
	}
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		containerTest(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := runWithResolvConf(t, s, c.hostConf, c.upstream)
				resolv, rest, _ := strings.Cut(r.stdout, "---\n")
				got := lines(resolv)
				if strings.Contains(resolv, "nameserver 127.") || !strings.HasPrefix(got[0], "# written by") || strings.Join(got[1:], "\n") != strings.Join(c.want, "\n") {
					t.Errorf("/etc/resolv.conf inside:\n%s\nwant after its comment:\n%s", resolv, strings.Join(c.want, "\n"))
				}
				if !strings.Contains(r.stderr, c.narrated) {
					t.Errorf("the narration does not say %q:\n%s", c.narrated, r.stderr)
				}
				hosts, hostname, _ := strings.Cut(rest, "---\n")
				addr := containerAddress(t, r.stderr)
				if !strings.Contains(hosts, "127.0.0.1\tlocalhost") || !strings.Contains(hosts, addr+"\tinside-box") || hostname != "inside-box\n" {
					t.Errorf("/etc/hosts and /etc/hostname inside:\n%s---\n%s", hosts, hostname)
				}
			})
		}
	})
}

// runWithResolvConf runs a step that prints its /etc files, on a host
// whose /etc/resolv.conf and systemd-resolved upstream list are the given
// ones: bind-mounted in a mount namespace of the test's, over a tmpfs /run.
func runWithResolvConf(t *testing.T, s step, hostConf, upstream string) result {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"resolv.conf": hostConf, "upstream": upstream} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
mount -t tmpfs tmpfs /run
if [ -s "$DIR/upstream" ]; then mkdir -p /run/systemd/resolve; cat "$DIR/upstream" > /run/systemd/resolve/resolv.conf; fi
exec "$STEP" --hostname inside-box -- sh -c 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname'`
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "DIR="+dir, "STEP="+s.binary)
	// Go makes the new mount namespace private, so none of this reaches the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String()}
}

// TestFinalSharesLeasesWithTheSteps checks that step 07's and 08's lease
// file and final's are one format, read the same way on both sides: with a
// step's container holding 10.99.0.2 and publishing port 8080, minidocker
// in the same network namespace refuses 8080 and takes the next address;
// once the step's container has ended, minidocker gets 8080. The formats
// are written twice (steps and final share no code), so only this catches
// a field renamed on one side.
func TestFinalSharesLeasesWithTheSteps(t *testing.T) {
	forSteps(t, stepsFrom(7), func(t *testing.T, s step) {
		m := newMD(t)
		cmd := exec.Command(s.binary, "-q", "-p", "8080:80", "--", "sh", "-c", "echo ready; read x; exit 0")
		web := startSession(t, cmd, func() (err error) {
			m.inNetns(func() { err = cmd.Start() })
			return err
		})
		readUntil(t, web, "ready")
		clash := m.run("run", "--rm", "-p", "8080:80", "base", "true")
		if clash.code != 125 || !strings.Contains(clash.stderr, "port 8080 is already in use") {
			t.Errorf("publishing the port %s publishes: exit %d, %q; want a refusal", s.name, clash.code, clash.stderr)
		}
		m.must("run", "-d", "--name", "next", "base", "sleep", "60")
		if ip := m.must("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "next"); ip != "10.99.0.3\n" {
			t.Errorf("next to %s's 10.99.0.2, minidocker's container got %q, want 10.99.0.3", s.name, ip)
		}
		if code := web.finish(t); code != 0 {
			t.Errorf("%s: exit %d\n%s", s.name, code, web.stderr)
		}
		m.must("run", "--rm", "-p", "8080:80", "base", "true")
		m.must("rm", "-f", "next")
	})
}
