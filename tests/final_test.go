// Black-box tests of minidocker (./final): the real binary, as root, on
// the real kernel, each test with its own state root and network namespace.

package tests

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/tests/skip"
)

// TestFinalRunStatuses checks run's exit statuses: the container's own,
// 125 for minidocker's errors, 126 and 127 as a shell gives them.
func TestFinalRunStatuses(t *testing.T) {
	m := newMD(t)
	if out := m.must("run", "--rm", "base", "echo", "hello"); out != "hello\n" {
		t.Errorf("run base echo hello printed %q", out)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"container's status", []string{"run", "--rm", "--network", "none", "base", "sh", "-c", "exit 3"}, 3, ""},
		{"not found", []string{"run", "--rm", "base", "no-such-command"}, 127, "executable file not found"},
		{"not executable", []string{"run", "--rm", "base", "/etc/passwd"}, 126, "permission denied"},
		{"unknown image", []string{"run", "--rm", "no-such-image", "true"}, 125, "no such image"},
		{"unknown flag", []string{"run", "--no-such-flag", "base", "true"}, 125, "unknown flag"},
		{"bad memory", []string{"run", "-m", "12x", "base", "true"}, 125, "invalid size"},
		{"bad cpus", []string{"run", "--cpus", "99", "base", "true"}, 125, "Range of CPUs"},
		{"bad port", []string{"run", "-p", "99999:80", "base", "true"}, 125, "99999"},
		{"bad port word", []string{"run", "-p", "abc", "base", "true"}, 125, "abc"},
		{"relative volume", []string{"run", "-v", "data:/data", "base", "true"}, 125, "must be absolute"},
		{"volume without target", []string{"run", "-v", "/tmp", "base", "true"}, 125, "want /host/path:/container/path"},
		{"bad network", []string{"run", "--network", "weird", "base", "true"}, 125, "invalid network"},
		{"unknown capability", []string{"run", "--cap-add", "FLY", "base", "true"}, 125, "unknown capability"},
	} {
		t.Run(tc.name, func(t *testing.T) { m.fails(tc.code, tc.want, tc.args...) })
	}
	// Flags stop at the image: -l belongs to ls.
	if out := m.must("run", "--rm", "base", "ls", "-l", "/etc/passwd"); !strings.HasPrefix(out, "-rw") {
		t.Errorf("run base ls -l /etc/passwd did not pass -l to ls: %q", out)
	}
	// Nothing was half-created by the failures: --rm runs left nothing either.
	if out := m.must("ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after --rm and failed runs:\n%s", out)
	}
}

// TestFinalDetachedLifecycle runs a container with -d, then logs, exec,
// stop and rm, checking what the kernel shows at each step.
func TestFinalDetachedLifecycle(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "web", "base", "sh", "-c", "echo started; echo oops >&2; while true; do sleep 1; done"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("run -d printed %q, want a 64-hex-digit id", id)
	}
	if ps := m.must("ps"); !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "web") || !strings.Contains(ps, "Up ") {
		t.Errorf("ps does not show the running container:\n%s", ps)
	}
	waitFor(t, func() bool { return strings.Contains(m.run("logs", "web").stdout, "started") })
	if r := m.run("logs", "web"); !strings.Contains(r.stderr, "oops") {
		t.Errorf("logs did not print the container's stderr on stderr: %+v", r)
	}
	// The log is Docker's json-file format.
	inspect := m.inspect("web")
	logPath, _ := field(inspect, "LogPath").(string)
	data, err := os.ReadFile(logPath)
	if err != nil || !regexp.MustCompile(`\{"log":"started\\n","stream":"stdout","time":"[0-9T:.Z-]+"\}`).Match(data) {
		t.Errorf("log %s is not in json-file format: %v\n%s", logPath, err, data)
	}
	// exec joins the container: its hostname, its PID namespace, its cgroup.
	hostname := m.must("exec", "web", "cat", "/etc/hostname")
	if strings.TrimSpace(hostname) != id[:12] {
		t.Errorf("exec cat /etc/hostname = %q, want %q", hostname, id[:12])
	}
	if out := m.must("exec", "web", "cat", "/proc/1/cmdline"); !strings.HasPrefix(out, "sh\x00-c") {
		t.Errorf("exec sees PID 1 as %q, want the container's sh", out)
	}
	pid := int(field(inspect, "State", "Pid").(float64))
	for _, ns := range []string{"mnt", "pid", "net", "uts", "ipc"} {
		want, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		got := strings.TrimSpace(m.must("exec", "web", "readlink", "/proc/self/ns/"+ns))
		if got != want {
			t.Errorf("exec's %s namespace is %s, the container's is %s", ns, got, want)
		}
	}
	if out := m.must("exec", "web", "cat", "/proc/self/cgroup"); !strings.Contains(out, "/minidocker/"+id) {
		t.Errorf("exec is not in the container's cgroup:\n%s", out)
	}
	if r := m.run("exec", "web", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec's status = %d, want the command's 7", r.code)
	}
	// rm of a running container is refused; stop of a plain sh as PID 1
	// ends in SIGKILL (137), since PID 1 ignores SIGTERM.
	m.fails(1, "is running", "rm", "web")
	m.must("stop", "-t", "1", "web")
	state := m.inspect("web")["State"]
	if field(state, "Status") != "exited" || field(state, "ExitCode") != float64(137) || field(state, "Running") != false {
		t.Errorf("after stop, State = %v; want exited with 137", state)
	}
	if ps := m.must("ps", "-a"); !strings.Contains(ps, "Exited (137)") {
		t.Errorf("ps -a does not show the stopped container:\n%s", ps)
	}
	m.must("rm", "web")
	m.fails(1, "no such container", "inspect", "--type", "container", "web")
}

// TestFinalLogsFollow checks that logs -f prints output as it comes and
// returns when the container ends.
func TestFinalLogsFollow(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "ticker", "base", "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")
	out := m.must("logs", "-f", "ticker")
	if out != "tick 1\ntick 2\ntick 3\n" {
		t.Errorf("logs -f printed %q", out)
	}
	if out := m.must("logs", "--tail", "1", "ticker"); out != "tick 3\n" {
		t.Errorf("logs --tail 1 printed %q", out)
	}
	if out := m.must("logs", "-t", "ticker"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[0-9:.]+Z tick 1\n`).MatchString(out) {
		t.Errorf("logs -t printed %q", out)
	}
}

// TestFinalInit checks --init: a tiny init forwards stop's SIGTERM to the
// command, which dies of it (143) instead of being killed (137), and
// reaps orphans.
func TestFinalInit(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--init", "--name", "withinit", "base", "sh", "-c", "sleep 1000 & sleep 1000")
	waitFor(t, func() bool { return strings.Contains(m.must("top", "withinit"), "sleep") })
	if out := m.must("exec", "withinit", "cat", "/proc/1/cmdline"); !strings.Contains(out, "init") {
		t.Errorf("PID 1 is %q, want minidocker's init", out)
	}
	m.must("stop", "-t", "20", "withinit")
	if code := m.inspect("withinit")["State"].(map[string]any)["ExitCode"]; code != float64(143) {
		t.Errorf("stop of an --init container: exit code %v, want 143 (SIGTERM reached the command)", code)
	}
}

// TestFinalOOM checks that a container over its memory limit is killed
// by the kernel and inspect says so.
func TestFinalOOM(t *testing.T) {
	m := newMD(t)
	r := m.run("run", "--name", "hog", "-m", "32m", "--memory-swap", "32m", "-v", helperVolume(t), "base", "/helper", "mem", "100")
	if r.code != 137 {
		t.Errorf("a 100 MiB allocation under -m 32m: exit %d, want 137\n%s", r.code, r.stderr)
	}
	if oom := field(m.inspect("hog"), "State", "OOMKilled"); oom != true {
		t.Errorf("inspect says OOMKilled = %v, want true", oom)
	}
	m.must("run", "--name", "fits", "-m", "64m", "-v", helperVolume(t), "base", "/helper", "mem", "16")
	if oom := field(m.inspect("fits"), "State", "OOMKilled"); oom != false {
		t.Errorf("a container that fit its limit: OOMKilled = %v", oom)
	}
}

// TestFinalPublishedPorts reaches a container's server through a published
// port on the test's loopback and from another container, and refuses a
// port already taken.
func TestFinalPublishedPorts(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "srv", "-p", "8080:80", "-v", helperVolume(t), "base", "/helper", "serve", "80")
	waitFor(t, func() bool { return strings.Contains(m.run("logs", "srv").stdout, "listening") })
	var reply string
	m.inNetns(func() { reply = dial(t, "127.0.0.1:8080") })
	id := field(m.inspect("srv"), "Id").(string)
	if reply != "hello from "+id[:12]+"\n" {
		t.Errorf("127.0.0.1:8080 answered %q", reply)
	}
	ports := field(m.inspect("srv"), "NetworkSettings", "Ports", "80/tcp")
	if fmt.Sprint(ports) != "[map[HostIp:0.0.0.0 HostPort:8080]]" {
		t.Errorf("NetworkSettings.Ports[80/tcp] = %v", ports)
	}
	// Another container reaches it through the host's port ("hairpin"): the
	// steps leave this out, and final's NAT table masquerades such connections.
	// br_netfilter would un-DNAT the answer on the bridge by itself: off, here.
	m.inNetns(func() { _ = os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte("0"), 0o644) })
	if hairpin := m.must("run", "--rm", "-v", helperVolume(t), "base", "/helper", "dial", "10.99.0.1:8080"); hairpin != "hello from "+id[:12]+"\n" {
		t.Errorf("a container connecting to the published 10.99.0.1:8080 got %q", hairpin)
	}
	m.fails(125, "already in use", "run", "--rm", "-p", "8080:80", "base", "true")
	m.fails(125, "needs the bridge network", "run", "--rm", "--network", "none", "-p", "8081:80", "base", "true")
	m.must("rm", "-f", "srv")
}

// TestFinalBridgeIsKept: the last container leaves the bridge, its NAT
// table and ip_forward in place for the next one, as Docker keeps docker0;
// its veth pair goes with its network namespace, deleted by the kernel;
// cleanup takes the rest down and puts ip_forward back.
func TestFinalBridgeIsKept(t *testing.T) {
	m := newMD(t)
	forward := func() (v string) {
		m.inNetns(func() {
			data, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
			if err != nil {
				t.Fatal(err)
			}
			v = strings.TrimSpace(string(data))
		})
		return v
	}
	before := forward()
	m.must("run", "--rm", "base", "true")
	id := strings.TrimSpace(m.must("run", "-d", "base", "sleep", "1000"))
	addr := netip.MustParseAddr(field(m.inspect(id), "NetworkSettings", "IPAddress").(string)).As4()
	veth := fmt.Sprintf("veth%x", addr[:]) // the host end is named after the address
	links := func() (names []string) {
		m.inNetns(func() {
			all, err := netlink.LinkList()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range all {
				names = append(names, l.Attrs().Name)
			}
		})
		return names
	}
	if got := links(); !contains(got, veth) {
		t.Fatalf("no %s while its container runs: links %q", veth, got)
	}
	checkHostVeth(t, m, veth)
	m.must("rm", "-f", id)
	waitFor(t, func() bool { return !contains(links(), veth) }) // the kernel's doing
	if got := links(); !contains(got, "minidocker0") {
		t.Errorf("the bridge went with the last container: links %q", got)
	}
	if got := forward(); got != "1" {
		t.Errorf("ip_forward is %s with the bridge kept, want 1", got)
	}
	m.must("cleanup")
	if got := links(); len(got) != 1 || got[0] != "lo" {
		t.Errorf("after cleanup the links are %q, want lo alone", got)
	}
	if got := forward(); got != before {
		t.Errorf("ip_forward is %s after cleanup, was %s", got, before)
	}
}

// checkHostVeth checks what final's one RTM_NEWLINK makes of the host
// end of a veth pair: up, plugged into the bridge, and one queue each way
// from the start, not one per CPU cut down later, which waits for an RCU
// grace period (docs/benchmarks.md, "Where a bridged start's time goes").
func checkHostVeth(t *testing.T, m *md, veth string) {
	t.Helper()
	m.inNetns(func() {
		link, err := netlink.LinkByName(veth)
		if err != nil {
			t.Fatal(err)
		}
		br, err := netlink.LinkByName("minidocker0")
		if err != nil {
			t.Fatal(err)
		}
		a := link.Attrs()
		if a.MasterIndex != br.Attrs().Index || a.Flags&net.FlagUp == 0 {
			t.Errorf("%s: master index %d, flags %v; want %d (minidocker0) and up", veth, a.MasterIndex, a.Flags, br.Attrs().Index)
		}
		if a.NumTxQueues != 1 || a.NumRxQueues != 1 {
			t.Errorf("%s has %d tx and %d rx queues, want 1 and 1", veth, a.NumTxQueues, a.NumRxQueues)
		}
	})
}

// dial connects to addr and returns the first line it sends.
func dial(t *testing.T, addr string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("connect %s: %v", addr, err)
		return ""
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, _ := conn.Read(buf)
	return string(buf[:n])
}

// TestFinalVolumes checks that a volume's writes reach the host and
// outlive the container, and that :ro holds.
func TestFinalVolumes(t *testing.T) {
	m := newMD(t)
	dir := t.TempDir()
	m.must("run", "--rm", "-v", dir+":/data", "base", "sh", "-c", "echo kept > /data/file")
	if data, err := os.ReadFile(filepath.Join(dir, "file")); err != nil || string(data) != "kept\n" {
		t.Errorf("the volume's file on the host: %q, %v", data, err)
	}
	r := m.run("run", "--rm", "-v", dir+":/data:ro", "base", "sh", "-c", "echo x > /data/other")
	if r.code == 0 {
		t.Errorf("writing to a :ro volume succeeded")
	}
}

// TestFinalCommitAndImages commits a container's change into an image,
// runs it, and checks images, history, tag and rmi.
func TestFinalCommitAndImages(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "maker", "base", "sh", "-c", "echo made > /made; rm /bin/touch")
	id := strings.TrimSpace(m.must("commit", "-m", "add /made", "-c", `CMD ["cat", "/made"]`, "maker", "made:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q, want an image id", id)
	}
	if out := m.must("run", "--rm", "made:v1"); out != "made\n" {
		t.Errorf("run of the committed image (its CMD) printed %q", out)
	}
	if r := m.run("run", "--rm", "made:v1", "ls", "/bin/touch"); r.code == 0 {
		t.Errorf("a file deleted before commit exists in the new image")
	}
	if r := m.run("run", "--rm", "base", "cat", "/made"); r.code == 0 {
		t.Errorf("the parent image changed: %q", r.stdout)
	}
	if out := m.must("images"); !strings.Contains(out, "made") || !strings.Contains(out, "v1") || !strings.Contains(out, "base") {
		t.Errorf("images:\n%s", out)
	}
	if out := m.must("history", "made:v1"); !strings.Contains(out, "add /made") {
		t.Errorf("history does not show the commit message:\n%s", out)
	}
	m.must("tag", "made:v1", "other:latest")
	if out := m.must("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "other:latest") {
		t.Errorf("tag did not add a name:\n%s", out)
	}
	maker := m.inspect("maker")["Id"].(string)[:12] // in use by the container maker, Docker's words:
	m.fails(1, `conflict: unable to remove repository reference "base" (must force) - container `+maker+" is using its referenced image", "rmi", "base")
	m.must("rmi", "other")
	m.must("rm", "maker")
	if _, err := os.Stat(filepath.Join(m.root, "containers")); err != nil {
		t.Fatal(err)
	}
}

// TestFinalSaveLoadImportExport round-trips images through save and load
// into another state root, loads a docker-archive podman wrote, and
// round-trips a container through export and import.
func TestFinalSaveLoadImportExport(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "src", "base", "sh", "-c", "echo saved > /saved")
	m.must("commit", "src", "saved:1")
	archive := filepath.Join(t.TempDir(), "saved.tar")
	m.must("save", "-o", archive, "saved:1")
	other := newMD(t)
	if out := other.must("load", "-i", archive); !strings.Contains(out, "saved:1") {
		t.Errorf("load printed %q", out)
	}
	if out := other.must("run", "--rm", "saved:1", "cat", "/saved"); out != "saved\n" {
		t.Errorf("the loaded image's file: %q", out)
	}
	if a, b := field(m.inspect("saved:1"), "Id"), field(other.inspect("saved:1"), "Id"); a != b {
		t.Errorf("the image id changed through save and load: %v, %v", a, b)
	}
	exported := filepath.Join(t.TempDir(), "export.tar")
	m.must("export", "-o", exported, "src")
	m.must("import", exported, "imported:1")
	if out := m.must("run", "--rm", "imported:1", "cat", "/saved"); out != "saved\n" {
		t.Errorf("the imported image's file: %q", out)
	}
	podman := filepath.Join(repoRoot, "final/internal/image/testdata/podman-docker-archive.tar")
	if _, err := os.Stat(podman); err == nil {
		if out := m.must("load", "-i", podman); !strings.Contains(out, "Loaded image") {
			t.Errorf("loading podman's docker-archive printed %q", out)
		}
	}
}

// TestFinalCrashRecovery kills the monitor of a running container with
// SIGKILL: the container dies with it, and the next command repairs the
// record and releases its cgroup and network.
func TestFinalCrashRecovery(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "victim", "base", "sleep", "1000")
	info := m.inspect("victim")
	monitor := int(field(info, "Minidocker", "MonitorPid").(float64))
	pid := int(field(info, "State", "Pid").(float64))
	if err := syscallKill(monitor); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := os.Stat("/proc/" + strconv.Itoa(pid)); return err != nil })
	if ps := m.must("ps", "-a"); !strings.Contains(ps, "Exited (137)") {
		t.Errorf("after its monitor was killed, ps -a shows:\n%s", ps)
	}
	if e := field(m.inspect("victim"), "State", "Error"); !strings.Contains(fmt.Sprint(e), "monitor") {
		t.Errorf("State.Error = %v, want the reason", e)
	}
	m.must("run", "-d", "--name", "second", "base", "sleep", "1000")
	m.must("cleanup")
	m.must("cleanup") // safe twice
}

// TestFinalParallelRuns starts 20 containers at once: every one gets its
// own name, id and address.
func TestFinalParallelRuns(t *testing.T) {
	m := newMD(t)
	const n = 20
	// All twenty are started before any is waited for (m.run would queue
	// them one by one on the test's network namespace thread).
	cmds := make([][]string, n)
	for i := range cmds {
		cmds[i] = []string{"run", "-d", "base", "sleep", "1000"}
	}
	ids := make([]string, n)
	for i, r := range m.parallel(cmds...) {
		if r.code != 0 {
			t.Errorf("run %d: %s", i, r.stderr)
		}
		ids[i] = strings.TrimSpace(r.stdout)
	}
	names, addrs, seen := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		info := m.inspect(id)
		seen[id] = true
		names[fmt.Sprint(info["Name"])] = true
		addrs[fmt.Sprint(field(info, "NetworkSettings", "IPAddress"))] = true
	}
	if len(seen) != n || len(names) != n || len(addrs) != n {
		t.Errorf("%d containers got %d ids, %d names, %d addresses", n, len(seen), len(names), len(addrs))
	}
	// A prefix shared by two ids is refused, naming them.
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[i][0] == ids[j][0] {
				m.fails(1, "matches", "inspect", "--type", "container", ids[i][:1])
				i = len(ids)
				break
			}
		}
	}
	m.must(append([]string{"rm", "-f"}, ids...)...)
}

// TestFinalSecurityDefaults checks Docker's defaults inside a container:
// its capability set, no host device, read-only /proc/sys, no mount; and
// that --privileged lifts them.
func TestFinalSecurityDefaults(t *testing.T) {
	m := newMD(t)
	status := m.must("run", "--rm", "base", "cat", "/proc/self/status")
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if !regexp.MustCompile(set + `:\s+00000000a80425fb`).MatchString(status) {
			t.Errorf("%s is not Docker's default set a80425fb:\n%s", set, status)
		}
	}
	// mknod itself works (Docker keeps CAP_MKNOD); opening the node must not.
	disk := hostBlockDevice(t)
	for _, dir := range []string{"/", "/dev/", "/dev/shm/"} {
		script := fmt.Sprintf("mknod %sdisk b %d %d && echo made; head -c 512 %sdisk >/dev/null", dir, disk[0], disk[1], dir)
		r := m.run("run", "--rm", "base", "sh", "-c", script)
		if r.stdout != "made\n" || r.code == 0 {
			t.Errorf("in %s: mknod of the host's disk printed %q and reading it exited %d; want the node made and the read refused", dir, r.stdout, r.code)
		}
	}
	// The masked and read-only paths are mounts the container can see.
	mounts := m.must("run", "--rm", "base", "cat", "/proc/self/mountinfo")
	for _, path := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"} {
		if _, err := os.Stat(path); err != nil {
			continue // this kernel has no such file: nothing to mask
		}
		if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ ` + regexp.QuoteMeta(path) + ` `).MatchString(mounts) {
			t.Errorf("%s is not masked (no mount on it):\n%s", path, mounts)
		}
	}
	for _, path := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ ` + regexp.QuoteMeta(path) + ` ro[, ]`).MatchString(mounts) {
			t.Errorf("%s is not mounted read-only:\n%s", path, mounts)
		}
	}
	for _, tc := range []struct{ name, script string }{
		{"write /proc/sys", "echo 1 > /proc/sys/kernel/panic"},
		{"mount", "mount -t tmpfs none /tmp"},
		{"sysrq", "echo h > /proc/sysrq-trigger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := m.run("run", "--rm", "base", "sh", "-c", tc.script); r.code == 0 {
				t.Errorf("%s succeeded inside a default container: %q", tc.name, r.stdout)
			}
		})
	}
	if out := m.must("run", "--rm", "--privileged", "base", "cat", "/proc/self/status"); regexp.MustCompile(`CapEff:\s+00000000a80425fb`).MatchString(out) {
		t.Errorf("--privileged kept the default capabilities")
	}
	if r := m.run("run", "--rm", "--privileged", "base", "mount", "-t", "tmpfs", "none", "/tmp"); r.code != 0 {
		t.Errorf("mount in a --privileged container failed: %s", r.stderr)
	}
	if out := m.must("run", "--rm", "--user", "nobody", "base", "sh", "-c", "id -u; grep CapEff /proc/self/status"); !regexp.MustCompile(`65534\nCapEff:\s+0+\n`).MatchString(out) {
		t.Errorf("--user nobody: %q, want uid 65534 with no capabilities", out)
	}
}

// hostBlockDevice returns the major and minor of a block device of this host.
func hostBlockDevice(t *testing.T) [2]int {
	entries, _ := os.ReadDir("/sys/dev/block")
	for _, e := range entries {
		var maj, min int
		if _, err := fmt.Sscanf(e.Name(), "%d:%d", &maj, &min); err == nil {
			return [2]int{maj, min}
		}
	}
	t.Skip("this host has no block device")
	return [2]int{}
}

// TestFinalTerminal checks that -t gives the container a terminal.
func TestFinalTerminal(t *testing.T) {
	m := newMD(t)
	if out := m.must("run", "--rm", "-t", "base", "sh", "-c", "test -t 0 && test -t 1 && echo tty"); !strings.Contains(out, "tty") {
		t.Errorf("run -t: stdin and stdout are not a terminal: %q", out)
	}
	if out := m.must("run", "--rm", "base", "sh", "-c", "test -t 1 || echo notty"); out != "notty\n" {
		t.Errorf("run without -t has a terminal: %q", out)
	}
	m.must("run", "-d", "--name", "box", "base", "sleep", "1000")
	if out := m.must("exec", "-t", "box", "sh", "-c", "test -t 1 && echo tty"); !strings.Contains(out, "tty") {
		t.Errorf("exec -t: no terminal: %q", out)
	}
	if out := m.runInput("hello from stdin\n", "exec", "-i", "box", "cat"); out.stdout != "hello from stdin\n" {
		t.Errorf("exec -i cat printed %q", out.stdout)
	}
	m.must("rm", "-f", "box")
}

// TestFinalVerbs covers the remaining verbs and their errors, one subtest
// each, each checking what the verb did, not only its exit status.
func TestFinalVerbs(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "one", "-m", "64m", "base", "sleep", "1000")
	t.Run("stats and top", func(t *testing.T) {
		m := m.on(t)
		if out := m.must("stats", "--no-stream", "one"); !regexp.MustCompile(`one\s+[0-9.]+%\s+[0-9.]+[KMG]?i?B / 64MiB`).MatchString(out) {
			t.Errorf("stats:\n%s", out)
		}
		if out := m.must("top", "one"); !strings.Contains(out, "sleep 1000") {
			t.Errorf("top:\n%s", out)
		}
	})
	t.Run("errors", func(t *testing.T) {
		m := m.on(t)
		m.fails(125, "already in use", "run", "--name", "one", "base", "true")
		m.fails(1, "no such container", "stop", "nothing")
		m.fails(2, "unknown command", "frobnicate")
	})
	t.Run("kill and start", func(t *testing.T) {
		m := m.on(t)
		pid := m.must("inspect", "-f", "{{.State.Pid}}", "one")
		m.must("kill", "-s", "KILL", "one") // sleep as PID 1 would ignore TERM
		waitFor(t, func() bool { return strings.Contains(m.must("ps", "-a"), "Exited (137)") })
		m.must("start", "one")
		if ps := m.must("ps", "--format", "{{.Names}} {{.State}}"); ps != "one running\n" {
			t.Errorf("after start, ps shows %q", ps)
		}
		if again := m.must("inspect", "-f", "{{.State.Pid}}", "one"); again == pid {
			t.Errorf("start kept the killed process's pid %s", pid)
		}
	})
	t.Run("restart", func(t *testing.T) {
		m := m.on(t)
		before := m.inspect("one")
		m.must("restart", "-t", "1", "one")
		after := m.inspect("one")
		oldPid, newPid := field(before, "State", "Pid").(float64), field(after, "State", "Pid").(float64)
		if newPid == 0 || newPid == oldPid || field(after, "State", "Running") != true {
			t.Fatalf("after restart: pid %v (was %v), running %v", newPid, oldPid, field(after, "State", "Running"))
		}
		if a, b := field(before, "State", "StartedAt").(string), field(after, "State", "StartedAt").(string); b <= a {
			t.Errorf("restart did not start it again: StartedAt %s, before %s", b, a)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", int(oldPid))); err == nil && processCommand(int(oldPid)) == "sleep 1000" {
			t.Errorf("the old process %d still runs after restart", int(oldPid))
		}
		if cmd := processCommand(int(newPid)); cmd != "sleep 1000" {
			t.Errorf("the restarted container's process %d runs %q, want sleep 1000", int(newPid), cmd)
		}
	})
	t.Run("info, version, df", func(t *testing.T) {
		m := m.on(t)
		if out := m.must("info"); !strings.Contains(out, "Cgroup Version:") || !strings.Contains(out, "Containers: 1") {
			t.Errorf("info:\n%s", out)
		}
		if out := m.must("version"); !strings.Contains(out, "minidocker version") {
			t.Errorf("version: %s", out)
		}
		if out := m.must("system", "df"); !regexp.MustCompile(`(?m)^Images\s+1\s+1\s+\S+`).MatchString(out) || !regexp.MustCompile(`(?m)^Containers\s+1\s+1\s`).MatchString(out) {
			t.Errorf("system df:\n%s", out)
		}
	})
	t.Run("system prune", func(t *testing.T) {
		m := m.on(t)
		m.must("run", "--name", "stopped", "base", "true")
		stopped := field(m.inspect("stopped"), "Id").(string)
		dangling := strings.TrimSpace(m.must("commit", "-m", "to be pruned", "stopped"))
		kept := strings.TrimSpace(m.must("commit", "stopped", "kept:1"))
		out := m.must("system", "prune", "-f")
		if !strings.Contains(out, "Deleted Container: "+stopped) || !strings.Contains(out, "Deleted: "+dangling) {
			t.Errorf("system prune printed:\n%s", out)
		}
		if ps := m.must("ps", "-a", "--format", "{{.Names}} {{.State}}"); ps != "one running\n" {
			t.Errorf("after system prune, ps -a shows %q, want only the running container", ps)
		}
		if r := m.run("inspect", "--type", "image", dangling); r.code == 0 {
			t.Errorf("the untagged image %s survived system prune", dangling)
		}
		for _, ref := range []string{"kept:1", "base"} {
			if id := field(m.inspect(ref), "Id"); ref == "kept:1" && id != kept {
				t.Errorf("kept:1 is %v after system prune, want %s", id, kept)
			}
		}
	})
	m.must("rm", "-f", "one")
}

// processCommand is the command line of a process, its arguments joined
// by spaces; "" when it is gone.
func processCommand(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out waiting")
}

// TestFinalInteractiveTerminal drives run -it through a pseudo-terminal,
// as a user at a terminal would: the container sees the window size,
// Ctrl-C interrupts the container's foreground command (not minidocker),
// and the shell's exit status is minidocker's.
func TestFinalInteractiveTerminal(t *testing.T) {
	m := newMD(t)
	m.must("run", "--rm", "base", "true") // make base first: its message would go to the terminal
	master, slave := openTestPty(t, 33, 111)
	defer master.Close()
	cmd := exec.Command(finalBinary, "--root", m.root, "run", "-it", "--rm", "base", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	var err error
	m.inNetns(func() { err = cmd.Start() })
	slave.Close()
	if err != nil {
		t.Fatal(err)
	}
	screen := &lockedBuffer{}
	go func() { _, _ = io.Copy(screen, master) }()
	type step struct{ input, want string }
	for _, s := range []step{
		{"stty size\n", "33 111"},
		{"sleep 100\n", ""},
		{"\x03", ""},
		{"echo alive-after-ctrl-c\n", "alive-after-ctrl-c\r\n"},
		{"exit 5\n", ""},
	} {
		if _, err := master.Write([]byte(s.input)); err != nil {
			t.Fatal(err)
		}
		if s.want != "" {
			waitFor(t, func() bool { return strings.Contains(screen.String(), s.want) })
		} else {
			time.Sleep(300 * time.Millisecond)
		}
	}
	code, err := exitCode(cmd.Wait())
	if err != nil || code != 5 {
		t.Errorf("run -it sh then exit 5: status %d, %v\nscreen:\n%s", code, err, screen.String())
	}
}

// openTestPty opens a pseudo-terminal pair of the given size.
func openTestPty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFinalRunOptions checks run's options one by one, each against what
// the container sees.
func TestFinalRunOptions(t *testing.T) {
	m := newMD(t)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# a comment\nFROM_FILE=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cidfile := filepath.Join(dir, "cid")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"-e and --env-file", []string{"-e", "A=1", "--env-file", envFile, "base", "sh", "-c", "echo $A $FROM_FILE"}, "1 yes\n"},
		{"-w", []string{"-w", "/made/here", "base", "sh", "-c", "pwd"}, "/made/here\n"},
		{"--hostname", []string{"--hostname", "box", "base", "sh", "-c", "cat /etc/hostname; hostname"}, "box\nbox\n"},
		{"--entrypoint", []string{"--entrypoint", "echo", "base", "from", "entrypoint"}, "from entrypoint\n"},
		{"--read-only", []string{"--read-only", "base", "sh", "-c", "touch /x 2>/dev/null || echo refused"}, "refused\n"},
		{"--network none", []string{"--network", "none", "base", "sh", "-c", "ls /sys/class/net"}, "lo\n"},
		{"--cidfile", []string{"--cidfile", cidfile, "base", "true"}, ""},
		{"--user uid:gid", []string{"--user", "1234:5678", "base", "id", "-u"}, "1234\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out := m.must(append([]string{"run", "--rm"}, tc.args...)...); out != tc.want {
				t.Errorf("printed %q, want %q", out, tc.want)
			}
		})
	}
	if data, err := os.ReadFile(cidfile); err != nil || len(data) != 64 {
		t.Errorf("--cidfile wrote %q, %v", data, err)
	}
	m.fails(125, "container ID file found", "run", "--rm", "--cidfile", cidfile, "base", "true")
	hostNet, _ := os.Readlink("/proc/1/ns/net")
	var testNet string
	m.inNetns(func() { testNet, _ = os.Readlink("/proc/thread-self/ns/net") })
	if out := m.must("run", "--rm", "--network", "host", "base", "readlink", "/proc/self/ns/net"); strings.TrimSpace(out) != testNet || testNet == hostNet {
		t.Errorf("--network host: the container's netns is %q, the caller's %q", out, testNet)
	}
	m.must("run", "-d", "--name", "box", "base", "sleep", "1000")
	if out := m.must("exec", "-e", "X=exec", "-w", "/tmp", "box", "sh", "-c", "echo $X; pwd"); out != "exec\n/tmp\n" {
		t.Errorf("exec -e -w printed %q", out)
	}
	m.must("rm", "-f", "box")
	m.must("run", "--name", "again", "base", "sh", "-c", "echo run $(cat /count 2>/dev/null); echo x >> /count")
	if out := m.must("start", "-a", "again"); out != "run x\n" {
		t.Errorf("start -a of a container whose layer holds one x printed %q", out)
	}
}

// TestFinalKilledForegroundRun kills minidocker itself (run without -d)
// with SIGKILL: the container dies with it and the next command repairs
// the record.
func TestFinalKilledForegroundRun(t *testing.T) {
	m := newMD(t)
	m.must("run", "--rm", "base", "true")
	cmd := exec.Command(finalBinary, "--root", m.root, "run", "--name", "fg", "base", "sh", "-c", "echo up; sleep 1000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.inNetns(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "up\n" {
		t.Fatalf("the container did not start: %q, %v", buf, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	waitFor(t, func() bool { return strings.Contains(m.must("ps", "-a"), "Exited (137)") })
	if ps := m.must("ps", "-q"); ps != "" {
		t.Errorf("ps lists a container whose minidocker was killed: %q", ps)
	}
}

// TestFinalLoadsOtherTools loads the archives podman wrote (a
// docker-archive and an OCI archive) and imports a tar from stdin.
func TestFinalLoadsOtherTools(t *testing.T) {
	m := newMD(t)
	for _, name := range []string{"podman-docker-archive.tar", "podman-oci-archive.tar"} {
		out := m.must("load", "-i", filepath.Join(repoRoot, "final/internal/image/testdata", name))
		if !strings.Contains(out, "Loaded image") {
			t.Errorf("load %s printed %q", name, out)
		}
	}
	// The image's only file is /hello.txt (its CMD names it, so it cannot
	// run): a container of it, exported, shows the file came through.
	m.fails(126, "", "run", "--name", "fromPodman", "localhost/hello")
	hello := filepath.Join(t.TempDir(), "hello.tar")
	m.must("export", "-o", hello, "fromPodman")
	if got := fileInTar(t, hello, "hello.txt"); got != "hello from podman\n" {
		t.Errorf("/hello.txt of podman's image: %q", got)
	}
	m.must("run", "--name", "src", "base", "sh", "-c", "echo piped > /piped")
	exported := filepath.Join(t.TempDir(), "fs.tar")
	m.must("export", "-o", exported, "src")
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.runInput(string(data), "import", "-c", `CMD ["cat", "/piped"]`, "-", "piped:1"); r.code != 0 {
		t.Fatalf("import from stdin: %s", r.stderr)
	}
	if out := m.must("run", "--rm", "piped:1"); out != "piped\n" {
		t.Errorf("the image imported from stdin printed %q", out)
	}
}

// doctorChecks are the names of the checks doctor must report.
var doctorChecks = []string{
	"root", "kernel version", "uts namespace", "pid namespace", "mnt namespace", "ipc namespace",
	"net namespace", "user namespace", "cgroup namespace", "unprivileged user namespaces", "cgroups",
	"overlayfs", "state directory for overlay", "temporary directory for overlay", "IP forwarding",
	"bridge", "veth", "nftables (NAT)", "go on sudo's PATH",
}

// TestFinalDoctor checks doctor's report: every check says OK, or FAIL
// with a fix; the status says whether any failed; as a user who is not
// root, doctor checks rootless (rootless_test.go has the rest).
func TestFinalDoctor(t *testing.T) {
	skip.UnlessRoot(t)
	if finalBinary == "" {
		t.Fatal("the minidocker binary (./final) was not built")
	}
	check := func(t *testing.T, cmd *exec.Cmd) (string, int) {
		out, err := cmd.Output()
		code, err := exitCode(err)
		if err != nil {
			t.Fatal(err)
		}
		ls := strings.Split(strings.TrimSpace(string(out)), "\n")
		failed := false
		for i, l := range ls {
			switch {
			case strings.HasPrefix(l, "OK "):
			case strings.HasPrefix(l, "FAIL "):
				failed = true
				if i+1 >= len(ls) || !strings.Contains(ls[i+1], "fix: ") {
					t.Errorf("a failed check without a fix: %q", l)
				}
			case strings.Contains(l, "fix: "):
			default:
				t.Errorf("doctor printed %q: neither a check nor a fix", l)
			}
		}
		if failed != (code != 0) {
			t.Errorf("doctor exited %d, but a check failed: %v", code, failed)
		}
		return string(out), code
	}
	root := exec.Command(finalBinary, "doctor")
	root.SysProcAttr = isolatedNetwork()
	out, _ := check(t, root)
	if !strings.Contains(out, "OK    root") {
		t.Errorf("doctor as root:\n%s", out)
	}
	// Every check is there, by name: a doctor that checked nothing would
	// pass the loop above.
	for _, name := range doctorChecks {
		if !regexp.MustCompile(`(?m)^(OK|FAIL)\s+` + regexp.QuoteMeta(name) + `: \S`).MatchString(out) {
			t.Errorf("doctor as root did not report the check %q:\n%s", name, out)
		}
	}
	user := exec.Command(finalBinary, "doctor")
	user.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	user.Dir = "/"
	// As a user, doctor checks what rootless minidocker needs instead,
	// and says that the rest needs sudo; nobody has no subordinate ids.
	out, code := check(t, user)
	if code == 0 || !regexp.MustCompile(`OK\s+root: running as uid 65534: checking what rootless minidocker needs.*sudo`).MatchString(out) ||
		!regexp.MustCompile(`FAIL\s+/etc/subuid: .*\n\s+fix: sudo usermod --add-subuids`).MatchString(out) {
		t.Errorf("doctor as nobody (exit %d) does not check rootless, or not say how to fix it:\n%s", code, out)
	}
}

// TestFinalStdinAndListings checks run -i, and the listing flags of ps and
// images.
func TestFinalStdinAndListings(t *testing.T) {
	m := newMD(t)
	if r := m.runInput("through stdin\n", "run", "-i", "--rm", "base", "cat"); r.stdout != "through stdin\n" {
		t.Errorf("run -i cat printed %q (%s)", r.stdout, r.stderr)
	}
	if r := m.runInput("not passed\n", "run", "--rm", "base", "cat"); r.stdout != "" {
		t.Errorf("run without -i passed stdin on: %q", r.stdout)
	}
	id := strings.TrimSpace(m.must("run", "-d", "base", "sleep", "1000"))
	if out := m.must("ps", "--no-trunc", "-q"); out != id+"\n" {
		t.Errorf("ps --no-trunc -q printed %q, want the full id", out)
	}
	if out := m.must("ps", "-q"); out != id[:12]+"\n" {
		t.Errorf("ps -q printed %q, want the short id", out)
	}
	img := field(m.inspect("base"), "Id").(string)
	if out := m.must("images", "-q"); out != strings.TrimPrefix(img, "sha256:")[:12]+"\n" {
		t.Errorf("images -q printed %q, want base's short id", out)
	}
	m.must("rm", "-f", id)
}

// TestFinalKilledAtEveryStage SIGKILLs minidocker run at several moments
// of its setup (image, record, cgroup, network lease, veth, mounts, the
// command): whatever it had made must be repaired by the next command and
// leave the host clean (newMD checks, before any cleanup).
func TestFinalKilledAtEveryStage(t *testing.T) {
	m := newMD(t)
	m.must("run", "--rm", "base", "true") // base exists: the moments below are the run's own
	for _, delay := range []time.Duration{0, 2, 5, 10, 20, 30, 45, 70, 100, 150} {
		cmd := exec.Command(finalBinary, "--root", m.root, "run", "-p", "8080:80", "base", "sleep", "1000")
		var err error
		m.inNetns(func() { err = cmd.Start() })
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	waitFor(t, func() bool { return m.must("ps", "-q") == "" })
	// The kills came at different stages: some before the record was
	// written, some after the container ran (repaired: exited, 137).
	all := lines(m.must("ps", "-a", "--format", "{{.State}} {{.Status}}"))
	t.Logf("records after the kills: %q", all)
	if len(all) == 0 || !strings.Contains(strings.Join(all, "\n"), "Exited (137)") {
		t.Errorf("no kill came after the container started: %q", all)
	}
	// Every address and port is free again: a new container gets the port.
	m.must("run", "--rm", "-p", "8080:80", "base", "true")
}

// fileInTar returns the content of the entry name in the tar file.
func fileInTar(t *testing.T, file, name string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no %s: %v", file, name, err)
		}
		if strings.TrimPrefix(hdr.Name, "./") == name {
			data, _ := io.ReadAll(tr)
			return string(data)
		}
	}
}

// TestFinalVolumeTargetStaysInside gives a volume a target behind a symlink
// an image holds, pointing at a host path: the bind must land inside the
// container's root (where the symlink resolves, as if the rootfs were /),
// never on the host (CVE-2021-30465 is this mistake in runc).
func TestFinalVolumeTargetStaysInside(t *testing.T) {
	m := newMD(t)
	hostTarget, err := os.MkdirTemp("/var/tmp", "minidocker-tests-escape-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(hostTarget)
	m.must("run", "--name", "linker", "base", "ln", "-s", hostTarget, "/evil")
	m.must("commit", "linker", "evil:1")
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "marker"), []byte("volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := m.must("run", "--rm", "-v", src+":/evil/x", "evil:1", "cat", hostTarget+"/x/marker")
	if out != "volume\n" {
		t.Errorf("inside, the volume is not where /evil/x resolves in the rootfs: %q", out)
	}
	if entries, _ := os.ReadDir(hostTarget); len(entries) != 0 {
		t.Errorf("the volume's mount point was made on the host, in %s: %v", hostTarget, entries)
	}
}
