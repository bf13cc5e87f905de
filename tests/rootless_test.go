// Rootless minidocker (docs/12-user-namespaces.md): the binary run by an
// unprivileged user that the test makes itself, with HOME and
// XDG_RUNTIME_DIR in the test's own directories. The tests assert what
// the kernel shows: the container's uid_map, PID 1 of its own PID
// namespace, the owner of its mount namespace, the owners on the host of
// what root inside makes, the cgroup files under a subtree delegated the
// way systemd delegates one.

package tests

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rootlessUser is an unprivileged user made for one test: removed at the
// end with its /etc/passwd (or useradd's) and /etc/subuid, /etc/subgid
// entries, also when the test fails.
type rootlessUser struct {
	name                   string
	uid, gid               int
	home, runtime          string
	subUID, subGID         [2]uint32 // start, size
	cgroupFD               int       // >0: start commands in this cgroup (a delegated subtree's leaf)
	tun                    string    // a tun node of the test's, bound over /dev/net/tun for the commands (userTun)
	data                   string    // the XDG state root: $HOME/.local/share/minidocker
	madePasswd, madeSubIDs bool
}

// newRootlessUser makes the test's user, named after the test process,
// with a home and a runtime directory of its own (mode 0700) under a
// directory every user may enter.
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	containerTest(t)
	for _, name := range []string{"newuidmap", "newgidmap"} {
		needProgram(t, name, "uidmap")
	}
	u := &rootlessUser{name: fmt.Sprintf("mdrl%d", os.Getpid())}
	base, err := os.MkdirTemp("/var/tmp", "minidocker-tests-rootless-")
	if err == nil {
		err = os.Chmod(base, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	u.home, u.runtime = filepath.Join(base, "home"), filepath.Join(base, "run")
	u.data = filepath.Join(u.home, ".local", "share", "minidocker")
	t.Cleanup(func() { u.remove(t); os.RemoveAll(base) })
	u.addUser(t)
	u.addSubIDs(t)
	for _, dir := range []string{u.home, u.runtime} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// addUser makes the account: useradd where there is one, else (the VM's
// busybox) lines in /etc/passwd and /etc/group.
func (u *rootlessUser) addUser(t *testing.T) {
	t.Helper()
	if found, err := user.Lookup(u.name); err == nil { // a killed run's: reuse it
		u.uid, _ = strconv.Atoi(found.Uid)
		u.gid, _ = strconv.Atoi(found.Gid)
		return
	}
	if _, err := exec.LookPath("useradd"); err == nil {
		out, err := exec.Command("useradd", "-M", "-d", u.home, "-s", "/bin/false", "-U", u.name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v: %s", u.name, err, out)
		}
		found, err := user.Lookup(u.name)
		if err != nil {
			t.Fatal(err)
		}
		u.uid, _ = strconv.Atoi(found.Uid)
		u.gid, _ = strconv.Atoi(found.Gid)
		return
	}
	u.uid = 60000 + os.Getpid()%5000
	for _, err := user.LookupId(strconv.Itoa(u.uid)); err == nil; _, err = user.LookupId(strconv.Itoa(u.uid)) {
		u.uid++
	}
	u.gid, u.madePasswd = u.uid, true
	appendLocked(t, "/etc/passwd", fmt.Sprintf("%s:x:%d:%d::%s:/bin/false\n", u.name, u.uid, u.gid, u.home))
	appendLocked(t, "/etc/group", fmt.Sprintf("%s:x:%d:\n", u.name, u.gid))
}

// addSubIDs reads the user's subordinate ranges, adding 65536 ids after
// every other range where useradd added none.
func (u *rootlessUser) addSubIDs(t *testing.T) {
	t.Helper()
	for i, file := range []string{"/etc/subuid", "/etc/subgid"} {
		r, ok := subRange(readOrEmpty(file), u.name)
		if !ok {
			r = [2]uint32{nextSubRange(readOrEmpty(file)), 65536}
			appendLocked(t, file, fmt.Sprintf("%s:%d:%d\n", u.name, r[0], r[1]))
			u.madeSubIDs = true
		}
		if i == 0 {
			u.subUID = r
		} else {
			u.subGID = r
		}
	}
}

// remove takes the user out again: userdel for one useradd made (it
// removes the subordinate ranges too), else the lines the test added.
func (u *rootlessUser) remove(t *testing.T) {
	if u.uid == 0 {
		return
	}
	if !u.madePasswd {
		if out, err := exec.Command("userdel", u.name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", u.name, err, out)
		}
	}
	files := []string{"/etc/subuid", "/etc/subgid"}
	if u.madePasswd {
		files = append(files, "/etc/passwd", "/etc/group")
	}
	for _, file := range files {
		removeLinesLocked(t, file, u.name+":")
	}
}

// subRange is name's first range in a subordinate id file.
func subRange(data, name string) ([2]uint32, bool) {
	for _, line := range strings.Split(data, "\n") {
		var start, size uint32
		if n, rest, ok := strings.Cut(line, ":"); ok && n == name {
			if _, err := fmt.Sscanf(rest, "%d:%d", &start, &size); err == nil && size >= 65536 {
				return [2]uint32{start, size}, true
			}
		}
	}
	return [2]uint32{}, false
}

// nextSubRange is the start of a range after every range of a file.
func nextSubRange(data string) uint32 {
	end := uint32(100000)
	for _, line := range strings.Split(data, "\n") {
		var start, size uint32
		if _, rest, ok := strings.Cut(line, ":"); ok {
			if _, err := fmt.Sscanf(rest, "%d:%d", &start, &size); err == nil && start+size > end {
				end = start + size
			}
		}
	}
	return end
}

// readOrEmpty reads a file, "" when it is missing.
func readOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// appendLocked appends line to a file under flock, as minidocker's own
// writer of /etc/subuid does.
func appendLocked(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// removeLinesLocked removes the lines starting with prefix from a file,
// in place and under flock.
func removeLinesLocked(t *testing.T, path, prefix string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Error(err)
		return
	}
	var kept []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), prefix) {
			kept = append(kept, sc.Text()+"\n")
		}
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strings.Join(kept, "")), 0)
	}
	if err != nil {
		t.Errorf("remove %s's lines from %s: %v", prefix, path, err)
	}
}

// command sets cmd up to run as the user: its ids, no supplementary
// group (as setpriv --reuid --regid --clear-groups), an environment with
// HOME and XDG_RUNTIME_DIR, in the delegated cgroup when there is one.
func (u *rootlessUser) command(cmd *exec.Cmd) {
	if u.tun != "" {
		cmd.Args = append([]string{"helper", "asuser", fmt.Sprint(u.uid), fmt.Sprint(u.gid), u.tun, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = helperBinary
	} else {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}
	}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.home}
	if u.runtime != "" {
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+u.runtime)
	}
	if u.cgroupFD > 0 {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, u.cgroupFD
	}
	cmd.Dir = "/"
}

// newRootlessMD is a test's minidocker run by its own unprivileged user,
// in the test's network namespace; at the end the user's containers are
// removed and nothing may be left on the host.
func newRootlessMD(t *testing.T) (*md, *rootlessUser) {
	t.Helper()
	u := newRootlessUser(t)
	before := hostState(t)
	m := &md{t: t, jobs: make(chan func()), as: u}
	ready := make(chan error)
	go m.netnsLoop(ready)
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ids := strings.Fields(m.run("ps", "-aq").stdout); len(ids) > 0 {
			m.run(append([]string{"rm", "-f"}, ids...)...)
		}
		for _, leak := range difference(hostState(t), before) {
			t.Errorf("left behind on the host by a rootless run: %s", leak)
		}
		close(m.jobs)
	})
	return m, u
}

// rootlessPid is the host pid of a running container's first process.
func rootlessPid(m *md, id string) int {
	m.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(m.must("inspect", "-f", "{{.State.Pid}}", id)))
	if err != nil || pid <= 0 {
		m.t.Fatalf("container %s has no pid: %v", id, err)
	}
	return pid
}

// fileInode is the inode of a file (a namespace's, to compare).
func fileInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestRootlessRun runs containers as the user and checks what the kernel
// shows: the maps, PID 1, the mount namespace with the union, owned by
// the user's namespace, owned in turn by the user; files made inside
// owned on the host by the user and the range; logs, stop, kill (of a
// process that is not root inside too), rm, --network none and host.
func TestRootlessRun(t *testing.T) {
	m, u := newRootlessMD(t)
	vol := filepath.Join(u.home, "vol")
	if err := os.Mkdir(vol, 0o711); err != nil || os.Chown(vol, u.uid, u.gid) != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(m.must("run", "-d", "--network", "none", "-v", vol+":/vol", "base",
		"sh", "-c", "echo made > /vol/root && mkdir -m 777 /vol/open && echo ready && exec sleep 1000"))
	waitFor(t, func() bool { return strings.Contains(m.run("logs", id).stdout, "ready") })
	pid := rootlessPid(m, id)

	uidMap := strings.Join(strings.Fields(mustRead(t, fmt.Sprintf("/proc/%d/uid_map", pid))), " ")
	if want := fmt.Sprintf("0 %d 1 1 %d %d", u.uid, u.subUID[0], u.subUID[1]); uidMap != want {
		t.Errorf("uid_map %q, want %q", uidMap, want)
	}
	gidMap := strings.Join(strings.Fields(mustRead(t, fmt.Sprintf("/proc/%d/gid_map", pid))), " ")
	if want := fmt.Sprintf("0 %d 1 1 %d %d", u.gid, u.subGID[0], u.subGID[1]); gidMap != want {
		t.Errorf("gid_map %q, want %q", gidMap, want)
	}
	if nspid := pidStatus(t, pid, "NSpid"); !strings.HasSuffix(nspid, "\t1") && !strings.HasSuffix(nspid, " 1") {
		t.Errorf("NSpid %q: the container's command is not PID 1 of its own namespace", nspid)
	}
	checkMountNamespaceOwner(t, pid, u.uid)
	checkOwner(t, filepath.Join(vol, "root"), u.uid, u.gid)
	m.must("run", "--rm", "--network", "none", "--user", "1000:1000", "-v", vol+":/vol", "base", "touch", "/vol/open/other")
	checkOwner(t, filepath.Join(vol, "open", "other"), int(u.subUID[0])+999, int(u.subGID[0])+999)

	m.must("stop", "-t", "1", id)
	if st := m.must("inspect", "-f", "{{.State.Status}}", id); strings.TrimSpace(st) != "exited" {
		t.Errorf("after stop: %s", st)
	}
	m.must("rm", id)
	if _, err := os.Stat(filepath.Join(u.data, "containers", id)); !os.IsNotExist(err) {
		t.Errorf("rm left %s/containers/%s (%v)", u.data, id, err)
	}

	// A process that is not root inside is a subordinate id outside: kill
	// reaches it through the user's process (internal/rootless/signal.go).
	id = strings.TrimSpace(m.must("run", "-d", "--network", "none", "--user", "1000", "base", "sleep", "1000"))
	pid = rootlessPid(m, id)
	if uid := pidStatus(t, pid, "Uid"); !strings.HasPrefix(uid, fmt.Sprint(u.subUID[0]+999)) {
		t.Errorf("--user 1000 runs as host uid %q, want %d", uid, u.subUID[0]+999)
	}
	m.must("kill", id)
	waitForDeath(t, pid)
	m.must("rm", id)

	// --network host is the test's namespace; none is a new one.
	var testNet uint64
	m.inNetns(func() { testNet = fileInode(t, "/proc/thread-self/ns/net") })
	for _, tc := range []struct {
		network string
		same    bool
	}{{"host", true}, {"none", false}} {
		out := strings.TrimSpace(m.must("run", "--rm", "--network", tc.network, "base", "readlink", "/proc/self/ns/net"))
		if same := out == fmt.Sprintf("net:[%d]", testNet); same != tc.same {
			t.Errorf("--network %s: the container's %s, the test's net:[%d]", tc.network, out, testNet)
		}
	}
	if ps := m.must("ps", "-aq"); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
}

// checkMountNamespaceOwner checks that pid's root is an overlay, in a
// mount namespace owned by pid's user namespace (not the host's), which
// is owned by uid.
func checkMountNamespaceOwner(t *testing.T, pid, uid int) {
	t.Helper()
	root := ""
	for _, line := range strings.Split(mustRead(t, fmt.Sprintf("/proc/%d/mountinfo", pid)), "\n") {
		if f := strings.Fields(line); len(f) > 8 && f[4] == "/" {
			if i := strings.Index(line, " - "); i > 0 {
				root = strings.Fields(line[i+3:])[0]
			}
		}
	}
	if root != "overlay" {
		t.Errorf("the container's / is %q, want overlay", root)
	}
	mnt, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mnt)
	owner, err := unix.IoctlRetInt(mnt, unix.NS_GET_USERNS)
	if err != nil {
		t.Fatalf("ioctl(NS_GET_USERNS): %v", err)
	}
	defer unix.Close(owner)
	var st unix.Stat_t
	if err := unix.Fstat(owner, &st); err != nil {
		t.Fatal(err)
	}
	if own := fileInode(t, fmt.Sprintf("/proc/%d/ns/user", pid)); st.Ino != own || own == fileInode(t, "/proc/self/ns/user") {
		t.Errorf("the mount namespace is owned by user namespace %d; the container's is %d, the host's %d", st.Ino, own, fileInode(t, "/proc/self/ns/user"))
	}
	var ownerUID uint32
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(owner), unix.NS_GET_OWNER_UID, uintptr(unsafe.Pointer(&ownerUID))); errno != 0 {
		t.Fatalf("ioctl(NS_GET_OWNER_UID): %v", errno)
	}
	if int(ownerUID) != uid {
		t.Errorf("the user namespace is owned by uid %d, want the user's %d", ownerUID, uid)
	}
}

// checkOwner checks a host file's owner.
func checkOwner(t *testing.T, path string, uid, gid int) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("%s is owned by %d:%d on the host, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

// TestRootlessImagesAndRefusals checks import (a file of uid 1000 in the
// layer is the range's on the host) and images, and the one-line
// refusals of what a rootless container cannot have, which leave nothing.
func TestRootlessImagesAndRefusals(t *testing.T) {
	m, u := newRootlessMD(t)
	archive := filepath.Join(u.home, "image.tar")
	writeOwnedTar(t, archive, u.uid, u.gid)
	m.must("import", archive, "owned:1")
	if out := m.must("images"); !strings.Contains(out, "owned") {
		t.Errorf("images does not list the import:\n%s", out)
	}
	if out := m.must("run", "--rm", "--network", "none", "-v", helperVolume(t), "owned:1", "/helper", "print", "x"); strings.TrimSpace(out) != "x" {
		t.Errorf("a container of the imported image printed %q", out)
	}
	layers, _ := filepath.Glob(filepath.Join(u.data, "image", "layers", "*", "diff", "owned")) // unpacked by the first run
	if len(layers) != 1 {
		t.Fatalf("the imported layer's file: %v", layers)
	}
	checkOwner(t, layers[0], int(u.subUID[0])+999, int(u.subGID[0])+999)

	m.fails(125, "rootless: --privileged is refused", "run", "--rm", "--network", "none", "--privileged", "base", "true")
	m.fails(125, "rootless: --userns-remap is refused", "run", "--rm", "--network", "none", "--userns-remap=default", "base", "true")
	m.must("run", "-d", "--name", "sleeper", "--network", "none", "base", "sleep", "1000")
	if top := m.must("top", "sleeper"); !strings.Contains(top, "sleep 1000") {
		t.Errorf("top of a container without a cgroup:\n%s", top)
	}
	m.must("rm", "-f", "sleeper")
	if ps := m.must("ps", "-aq"); ps != "" {
		t.Errorf("refused runs left containers: %s", ps)
	}

	// save, rmi, load; then cleanup kills what runs and removes the
	// user's state root, and nothing of root's.
	saved := filepath.Join(u.home, "saved.tar")
	m.must("save", "-o", saved, "owned:1")
	m.must("rmi", "owned:1")
	m.must("load", "-i", saved)
	if out := m.must("images"); !strings.Contains(out, "owned") {
		t.Errorf("images after load:\n%s", out)
	}
	pid := rootlessPid(m, strings.TrimSpace(m.must("run", "-d", "--network", "none", "base", "sleep", "1000")))
	m.must("cleanup")
	waitForDeath(t, pid)
	if _, err := os.Stat(u.data); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s (%v)", u.data, err)
	}
}

// TestRootlessExec runs exec in a rootless container: the command joins
// the container's user namespace (made by another command), as the user
// on the host for root inside and as the range for the others
// (checkExecVerbs in userns_test.go).
func TestRootlessExec(t *testing.T) {
	m, u := newRootlessMD(t)
	m.must("run", "-d", "--name", "sleeper", "--network", "none", "base", "sleep", "1000")
	pid1 := rootlessPid(m, "sleeper")
	// -u 1000 is 999 past the start of the user's range (0 is the user).
	checkExecVerbs(t, m, pid1, u.uid, u.gid, int(u.subUID[0])+999, int(u.subGID[0])+999)
	m.must("rm", "sleeper")
}

// writeOwnedTar writes a one-layer archive for import: a file owned by 1000
// inside.
func writeOwnedTar(t *testing.T, path string, uid, gid int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = tw.WriteHeader(&tar.Header{Name: "owned", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 1000, Size: 2})
	if err == nil {
		_, err = tw.Write([]byte("x\n"))
	}
	err = errors.Join(err, tw.Close(), f.Close(), os.Chown(path, uid, gid))
	if err != nil {
		t.Fatal(err)
	}
}

// TestRootlessUserErrors checks the refusals before any namespace is
// made: no XDG_RUNTIME_DIR, one that is not the user's, no subordinate
// ids; and doctor, run by the user, names each with its fix.
func TestRootlessUserErrors(t *testing.T) {
	m, u := newRootlessMD(t)
	runtime := u.runtime
	u.runtime = ""
	m.fails(1, "XDG_RUNTIME_DIR is not set", "ps")
	m.fails(125, "XDG_RUNTIME_DIR is not set", "run", "--rm", "--network", "none", "base", "true")
	r := m.run("doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  XDG_RUNTIME_DIR: not set") {
		t.Errorf("doctor without XDG_RUNTIME_DIR: exit %d\n%s", r.code, r.stdout)
	}
	u.runtime = "/tmp"
	m.fails(1, "XDG_RUNTIME_DIR /tmp is not a directory of yours", "ps")
	u.runtime = runtime

	r = m.run("doctor")
	for _, want := range []string{"OK    newuidmap", "OK    /etc/subuid: " + u.name, "OK    XDG_RUNTIME_DIR", "OK    overlay in a user namespace"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor does not say %q:\n%s", want, r.stdout)
		}
	}
	removeLinesLocked(t, "/etc/subuid", u.name+":")
	m.fails(1, "/etc/subuid has no range for "+u.name, "ps")
	if r := m.run("doctor"); !strings.Contains(r.stdout, "FAIL  /etc/subuid: no entry for "+u.name) || !strings.Contains(r.stdout, "usermod --add-subuids") {
		t.Errorf("doctor without a subuid range:\n%s", r.stdout)
	}
	appendLocked(t, "/etc/subuid", fmt.Sprintf("%s:%d:%d\n", u.name, u.subUID[0], u.subUID[1]))
}

// TestRootlessEscapes runs the escape suite (escape_test.go) as the
// unprivileged user: every attack fails in a rootless container too, and
// where a capability added inside lifted the defence, it is the user
// namespace's capability, which the host's kernel objects do not honour.
func TestRootlessEscapes(t *testing.T) {
	m, _ := newRootlessMD(t)
	hostOnly, ro := openDir(t), openDir(t)
	for _, e := range escapes(t, hostOnly, ro) {
		t.Run(e.attack, func(t *testing.T) { tryEscape(m.on(t), e) })
	}
	if entries, _ := os.ReadDir(hostOnly); len(entries) != 0 {
		t.Errorf("an attack reached the host's %s: %v", hostOnly, entries)
	}
}

// TestRootlessLimits checks limit flags rootless. On cgroup v1, or
// without a subtree of the user's, they are refused, and nothing is made.
// On v2 the test delegates a subtree as systemd's Delegate=yes does (the
// directory, its cgroup.procs, cgroup.subtree_control and cgroup.threads
// the user's) and starts minidocker in a leaf of it; each container's
// cgroup is then made beside that leaf, with its limits, and the fork
// bomb of the escape suite stops at --pids-limit.
func TestRootlessLimits(t *testing.T) {
	m, u := newRootlessMD(t)
	if !cgroupV2() {
		m.fails(125, "cgroup v1, which cannot be delegated to a user", "run", "--rm", "--network", "none", "--memory", "64m", "base", "true")
		m.fails(125, "cgroup v1, which cannot be delegated to a user", "run", "-d", "--network", "none", "--pids-limit", "20", "base", "true")
		if ps := m.must("ps", "-aq"); ps != "" {
			t.Errorf("refused runs left containers: %s", ps)
		}
		return
	}
	m.fails(125, "is not delegated to you", "run", "--rm", "--network", "none", "--memory", "64m", "base", "true")
	dir := delegate(t, u)
	id := strings.TrimSpace(m.must("run", "-d", "--network", "none", "--memory", "64m", "--pids-limit", "20", "base", "sleep", "1000"))
	leaf := filepath.Join(dir, id)
	for file, want := range map[string]string{"memory.max": "67108864", "pids.max": "20"} {
		if got := strings.TrimSpace(mustRead(t, filepath.Join(leaf, file))); got != want {
			t.Errorf("%s/%s is %q, want %q", leaf, file, got, want)
		}
	}
	pid := rootlessPid(m, id)
	if procs := mustRead(t, filepath.Join(leaf, "cgroup.procs")); !strings.Contains("\n"+procs, fmt.Sprintf("\n%d\n", pid)) {
		t.Errorf("the container's pid %d is not in %s/cgroup.procs: %q", pid, leaf, procs)
	}
	checkOwner(t, leaf, u.uid, u.gid)
	m.must("rm", "-f", id)
	if _, err := os.Stat(leaf); !os.IsNotExist(err) {
		t.Errorf("rm -f left the cgroup %s (%v)", leaf, err)
	}
	for _, e := range escapes(t, openDir(t), openDir(t)) {
		if hasFlag(e.flags, "--pids-limit") {
			t.Run(e.attack, func(t *testing.T) { tryEscape(m.on(t), e) })
		}
	}
}

// cgroupV2 reports whether /sys/fs/cgroup is the unified hierarchy.
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// delegate makes a cgroup v2 subtree for the user, removed at the end:
// /sys/fs/cgroup/minidocker-tests-rootless-PID, the user's as systemd
// delegates, with a leaf "launch" in which the user's commands start.
func delegate(t *testing.T, u *rootlessUser) string {
	t.Helper()
	dir := fmt.Sprintf("/sys/fs/cgroup/minidocker-tests-rootless-%d", os.Getpid())
	launch := filepath.Join(dir, "launch")
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory +pids +cpu"), 0); err != nil {
		t.Fatalf("enable memory, pids and cpu at the root: %v", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{launch, dir} {
			waitFor(t, func() bool { err := unix.Rmdir(d); return err == nil || errors.Is(err, unix.ENOENT) })
		}
	})
	for _, name := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(dir, name), u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(launch, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(launch, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd); u.cgroupFD = 0 })
	u.cgroupFD = fd
	return dir
}

// userTun gives the user's commands a /dev/net/tun they may open, as
// Debian's udev rule makes the host's (mode 0666): a node of the test's
// own, bound over it in a mount namespace of each command's (helper
// asuser), so that the host's is left as it is.
func userTun(t *testing.T, u *rootlessUser) {
	t.Helper()
	needProgram(t, "slirp4netns", "slirp4netns")
	node := filepath.Join(t.TempDir(), "tun")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(10, 200))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(node, 0o666); err != nil {
		t.Fatal(err)
	}
	u.tun = node
	t.Cleanup(func() { u.tun = "" })
}

// TestRootlessPublish runs a server in a rootless container on the
// default network, which rootless is slirp4netns's user-mode network, and
// publishes its port through slirp4netns's API (add_hostfwd): the test
// connects to 127.0.0.1:PORT in its own network namespace and reads the
// server's greeting. The container has a tap device and slirp's address,
// reaches nothing on the test's loopback through the gateway
// (--disable-host-loopback), and slirp4netns ends with the container.
func TestRootlessPublish(t *testing.T) {
	m, u := newRootlessMD(t)
	userTun(t, u)
	id := strings.TrimSpace(m.must("run", "-d", "-p", "127.0.0.1:18080:8080", "-v", helperVolume(t), "base", "/helper", "serve", "8080"))
	waitFor(t, func() bool { return strings.Contains(m.run("logs", id).stdout, "listening") })
	if ps := m.must("ps"); !strings.Contains(ps, "127.0.0.1:18080->8080/tcp") {
		t.Errorf("ps does not show the published port:\n%s", ps)
	}
	var got string
	var err error
	m.inNetns(func() { got, err = dialLine("127.0.0.1:18080") })
	if want := "hello from " + id[:12]; err != nil || got != want {
		t.Errorf("through the published port: %q, %v; want %q", got, err, want)
	}
	if ip := strings.TrimSpace(m.must("inspect", "-f", "{{.NetworkSettings.IPAddress}}", id)); ip != "10.0.2.100" {
		t.Errorf("inspect shows the address %q, want slirp4netns's 10.0.2.100", ip)
	}
	if out := m.run("run", "--rm", "-v", helperVolume(t), "base", "sh", "-c", "grep -c tap0 /proc/net/dev; /helper dial 10.0.2.2:18080 2>&1").stdout; !strings.HasPrefix(out, "1\n") || !strings.Contains(out, "unreachable") {
		t.Errorf("a second container: %q; want a tap0 and the test's loopback out of reach", out)
	}
	slirps := slirpPids(t, u.uid)
	if len(slirps) != 1 {
		t.Errorf("slirp4netns processes of the user: %v, want the running container's one", slirps)
	}
	m.must("rm", "-f", id)
	for _, pid := range slirps {
		waitForDeath(t, pid)
	}
}

// dialLine connects to addr and reads the first line it is sent.
func dialLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// slirpPids lists the slirp4netns processes running as uid.
func slirpPids(t *testing.T, uid int) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		var st unix.Stat_t
		if strings.TrimSpace(string(comm)) == "slirp4netns" && unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) == nil && int(st.Uid) == uid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestRootlessInterruptIsPassedOn sends SIGINT with kill(2) to the
// user's process outside the namespace (the one a shell knows, as $!)
// of an attached run, which has no terminal: it must reach the
// container, whose shell exits 7 on it, and the run with it. Ctrl-C on a
// terminal reaches the whole foreground group itself; a kill does not.
func TestRootlessInterruptIsPassedOn(t *testing.T) {
	m, u := newRootlessMD(t)
	cmd := exec.Command(finalBinary, "run", "--rm", "--network", "none", "base",
		"sh", "-c", `trap "exit 7" INT; echo ready; sleep 1000 & wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true} // no terminal
	u.command(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.inNetns(func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the container said %q (%v), want ready", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case err := <-ended:
		if code, _ := exitCode(err); code != 7 {
			t.Errorf("after kill -INT of the run: exit %d (%v), want 7 from the container's trap", code, err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-ended
		t.Errorf("kill -INT of the rootless run did not reach the container within 30 s")
	}
}

// TestRootlessRmForceCorruptRecord removes a running rootless container,
// on slirp4netns, whose record is corrupt: its process ends, and the API
// socket of its slirp4netns, in the user's runtime directory, is gone.
func TestRootlessRmForceCorruptRecord(t *testing.T) {
	m, u := newRootlessMD(t)
	userTun(t, u)
	id := strings.TrimSpace(m.must("run", "-d", "base", "sleep", "1000"))
	pid := rootlessPid(m, id)
	sock := filepath.Join(u.runtime, "minidocker", "slirp-"+id[:12]+".sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the running container has no slirp4netns socket: %v", err)
	}
	record := filepath.Join(u.data, "containers", id, "config.json")
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	r := m.run("rm", "-f", id)
	if r.code != 0 || !strings.Contains(r.stderr, "killed its monitor") {
		t.Errorf("rm -f of a corrupt rootless record: exit %d, stderr %q", r.code, r.stderr)
	}
	waitForDeath(t, pid)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("rm -f left the slirp4netns socket %s (%v)", sock, err)
	}
}
