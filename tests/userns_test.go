// --userns-remap=default: root inside is the first id of minidocker's
// range in /etc/subuid and /etc/subgid, and the attacks that need the
// host's root fail even with the capability added, because of the user
// namespace (docs/12-user-namespaces.md).

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// remap is run's flag for a remapped container.
const remap = "--userns-remap=default"

// subidStart is the start of minidocker's range in a subordinate id file.
func subidStart(t *testing.T, path string) uint32 {
	t.Helper()
	for _, line := range strings.Split(mustRead(t, path), "\n") {
		var start, size uint32
		if name, rest, ok := strings.Cut(line, ":"); ok && name == "minidocker" {
			if _, err := fmt.Sscanf(rest, "%d:%d", &start, &size); err == nil && size == 65536 {
				return start
			}
		}
	}
	t.Fatalf("%s has no minidocker entry of 65536 ids", path)
	return 0
}

// openDir makes a directory every user may enter (the container's root
// is not the host's: it needs the x bit to reach a volume), removed at
// the end; the test's own temporary directories are 0700.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "minidocker-tests-userns-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// openHelper is -v for the helper, from a directory the container's root can enter.
func openHelper(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(helperBinary)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(openDir(t), "helper")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path + ":/helper:ro"
}

// TestFinalUsernsRemap checks the mapping: /etc/subuid and /etc/subgid
// hold minidocker's range, /proc/self/uid_map shows it, the user
// namespace is not the host's, a file root makes inside is owned on the
// host by the range's first id (and by 0 in a commit), a host file of
// root's in a volume cannot be written, and inspect shows the mapping.
func TestFinalUsernsRemap(t *testing.T) {
	m := newMD(t)
	vol := openDir(t)
	hostFile := filepath.Join(vol, "rootfile")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := m.must("run", "--name", "maker", "--network", "none", remap, "-v", vol+":/vol", "base", "sh", "-c",
		"cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user; id -u; touch /made; "+
			"echo x >>/vol/rootfile || echo append refused; touch /vol/new || echo create refused")
	uid, gid := subidStart(t, "/etc/subuid"), subidStart(t, "/etc/subgid")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 6 || strings.Join(strings.Fields(lines[0]), " ") != fmt.Sprintf("0 %d 65536", uid) ||
		strings.Join(strings.Fields(lines[1]), " ") != fmt.Sprintf("0 %d 65536", gid) || lines[3] != "0" {
		t.Fatalf("inside a remapped container: %q; want the maps 0 %d 65536 and 0 %d 65536, and uid 0", out, uid, gid)
	}
	hostNS, _ := os.Readlink("/proc/self/ns/user")
	if lines[2] == hostNS || !strings.HasPrefix(lines[2], "user:[") {
		t.Errorf("the container's user namespace is %q, the host's %q", lines[2], hostNS)
	}
	if !strings.Contains(out, "append refused") || !strings.Contains(out, "create refused") || mustRead(t, hostFile) != "host\n" {
		t.Errorf("root inside could write to the host's root-owned volume: %q", out)
	}
	if _, err := os.Stat(filepath.Join(vol, "new")); err == nil {
		t.Errorf("root inside made a file in the host's root-owned directory")
	}
	id := fmt.Sprint(field(m.inspect("maker"), "Id"))
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(m.root, "containers", id, "upper", "made"), &st); err != nil || st.Uid != uid || st.Gid != gid {
		t.Errorf("the file root made inside: %v, owned on the host by %d:%d; want %d:%d", err, st.Uid, st.Gid, uid, gid)
	}
	// The container's root may pass through the state root to its layer,
	// and nobody else: the layers hold setuid files made inside.
	for _, dir := range []string{m.root, filepath.Join(m.root, "containers")} {
		var ds syscall.Stat_t
		if err := syscall.Stat(dir, &ds); err != nil || ds.Mode&0o007 != 0 || ds.Gid != gid {
			t.Errorf("%s: %v, mode %o, group %d; want no access for others and group %d", dir, err, ds.Mode&0o777, ds.Gid, gid)
		}
	}
	m.must("ps", "-a") // any command opens the state root: it must stay passable for the group
	if info, err := os.Stat(m.root); err != nil || info.Mode().Perm() != 0o710 {
		t.Errorf("after another command the state root is %v (%v), want 0710", info.Mode().Perm(), err)
	}
	if copies, _ := filepath.Glob(filepath.Join(m.root, "image", "layers", "*", "remapped-*")); len(copies) > 0 {
		t.Logf("the layers are shifted copies (%d): this kernel cannot id-map their filesystem", len(copies))
	} else {
		t.Logf("the layers are id-mapped mounts")
	}
	idmap := field(m.inspect("maker"), "Minidocker", "IDMap", "UIDMappings")
	if fmt.Sprint(idmap) != fmt.Sprintf("[map[ContainerID:0 HostID:%d Size:65536]]", uid) {
		t.Errorf("inspect's Minidocker.IDMap.UIDMappings: %v", idmap)
	}
	// commit gives the files back their ids inside: the image is as if
	// the container had not been remapped.
	m.must("commit", "maker", "made:1")
	if f := strings.Fields(m.must("run", "--rm", "--network", "none", "made:1", "ls", "-ln", "/made")); len(f) < 4 || f[2] != "0" || f[3] != "0" {
		t.Errorf("the committed /made is owned by %v, want 0 0", f)
	}
	m.must("rm", "maker")
}

// TestFinalUsernsOptions checks what surrounds remapping: --userns=host
// opts out, and bad combinations are refused with nothing made.
func TestFinalUsernsOptions(t *testing.T) {
	m := newMD(t)
	if out := m.must("run", "--rm", "--network", "none", remap, "--userns", "host", "base", "cat", "/proc/self/uid_map"); strings.Join(strings.Fields(out), " ") != "0 0 4294967295" {
		t.Errorf("--userns=host: uid_map %q, want the host's", out)
	}
	m.fails(125, "--privileged cannot be used with --userns-remap", "run", "--rm", remap, "--privileged", "base", "true")
	m.fails(125, `only "default"`, "run", "--rm", "--userns-remap", "someone", "base", "true")
	m.fails(125, `the only mode is "host"`, "run", "--rm", "--userns", "private", "base", "true")
	if ps := m.must("ps", "-aq"); ps != "" {
		t.Errorf("refused runs left containers behind:\n%s", ps)
	}
}

// TestFinalUsernsEscapes runs attacks that need the host's root with the
// capability that lifts seccomp (TestFinalEscapes): without a user
// namespace the kernel lets them through (or fails later, for another
// reason); with --userns-remap the kernel's capability check is made in
// the host's user namespace, where root inside has nothing.
func TestFinalUsernsEscapes(t *testing.T) {
	m := newMD(t)
	disk := hostBlockDevice(t)
	vol := openDir(t)
	if err := os.WriteFile(filepath.Join(vol, "rootfile"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	helper := openHelper(t)
	for _, tc := range []struct {
		attack, defence  string
		flags, cmd       []string
		remapped, hostNS string // what the attempt prints with and without the user namespace
	}{
		{"mknod + open of a host disk", "CAP_MKNOD of the host's namespace", nil,
			try("mknod_open", "/disk", fmt.Sprint(disk[0]), fmt.Sprint(disk[1])), "mknod EPERM", "EACCES"},
		{"mount a host disk", "the filesystem type needs the host's CAP_SYS_ADMIN", []string{"--cap-add", "SYS_ADMIN"},
			try("mount_disk", "/dev/null", "/tmp"), "EPERM", "ENOTBLK"},
		{"open_by_handle_at (shocker)", "CAP_DAC_READ_SEARCH of the host's namespace", []string{"--cap-add", "DAC_READ_SEARCH"},
			try("open_by_handle", "/helper"), "EPERM", "ok"},
		{"bpf", "CAP_SYS_ADMIN of the host's namespace", []string{"--cap-add", "SYS_ADMIN"}, try("bpf"), "EPERM", "ok"},
		{":ro volume remounted rw, then written", "the host's root owns the files", []string{"--cap-add", "SYS_ADMIN", "-v", vol + ":/vol:ro"},
			try("remount_rw", "/vol"), "EACCES", "ok"},
		{"write a host file of root's through a volume", "the host's root owns the file", []string{"-v", vol + ":/vol"},
			try("write", "/vol/rootfile"), "EACCES", "ok"},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			m := m.on(t)
			base := append([]string{"run", "--rm", "--network", "none", "-v", helper}, tc.flags...)
			in := func(extra ...string) string {
				return strings.TrimSpace(m.must(append(append(append([]string{}, base...), extra...), append([]string{"base"}, tc.cmd...)...)...))
			}
			if got := in(remap); got != tc.remapped {
				t.Errorf("with %s %v: got %q, want %q (%s)", remap, tc.flags, got, tc.remapped, tc.defence)
			}
			if got := in(); got != tc.hostNS {
				t.Errorf("without a user namespace, %v: got %q, want %q", tc.flags, got, tc.hostNS)
			}
		})
	}
}

// execMarker is a unique argument for a command that exec starts, to
// find it among the host's processes.
func execMarker(i int) string {
	return fmt.Sprint(100000000 + os.Getpid()*10 + i)
}

// findSleep waits for the host's process running "sleep marker" and
// returns its pid.
func findSleep(t *testing.T, marker string) int {
	t.Helper()
	want := "sleep\x00" + marker + "\x00"
	pid := 0
	waitFor(t, func() bool {
		paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, path := range paths {
			if data, err := os.ReadFile(path); err == nil && string(data) == want {
				fmt.Sscanf(path, "/proc/%d/cmdline", &pid)
				return true
			}
		}
		return false
	})
	return pid
}

// statusFields reads fields of /proc/PID/status.
func statusFields(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(mustRead(t, fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// checkExecJoined checks what the kernel shows of pid, a command exec
// started, against pid1, the container's first process: the same six
// namespaces (the user namespace among them) and maps, the same cgroup,
// capability bounding set, seccomp mode and no_new_privs, and the host
// ids uid and gid (the mapped ones: never the host's root). With asRoot,
// its effective capabilities are pid1's too.
func checkExecJoined(t *testing.T, pid1, pid, uid, gid int, asRoot bool) {
	t.Helper()
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts"} {
		a, b := fmt.Sprintf("/proc/%d/ns/%s", pid1, ns), fmt.Sprintf("/proc/%d/ns/%s", pid, ns)
		if fileInode(t, a) != fileInode(t, b) {
			t.Errorf("the exec'd command is not in the container's %s namespace", ns)
		}
	}
	for _, file := range []string{"uid_map", "gid_map", "cgroup"} {
		a, b := mustRead(t, fmt.Sprintf("/proc/%d/%s", pid1, file)), mustRead(t, fmt.Sprintf("/proc/%d/%s", pid, file))
		if a != b {
			t.Errorf("/proc/PID/%s: the exec'd command's %q, the container's %q", file, b, a)
		}
	}
	first, got := statusFields(t, pid1), statusFields(t, pid)
	want := []string{"CapBnd", "Seccomp", "NoNewPrivs"}
	if asRoot {
		want = append(want, "CapEff", "CapPrm")
	}
	for _, k := range want {
		if got[k] != first[k] || got[k] == "" {
			t.Errorf("%s: the exec'd command's %q, the container's first process's %q", k, got[k], first[k])
		}
	}
	if got["Seccomp"] != "2" {
		t.Errorf("the exec'd command's seccomp mode is %q, want 2 (a filter)", got["Seccomp"])
	}
	ids := func(id int) string { return fmt.Sprintf("%d %d %d %d", id, id, id, id) } // real, effective, saved, fs
	if got["Uid"] != ids(uid) || got["Gid"] != ids(gid) {
		t.Errorf("the exec'd command's host ids: Uid %q Gid %q; want %d and %d", got["Uid"], got["Gid"], uid, gid)
	}
}

// checkExecVerbs runs exec's common forms in the running container
// sleeper, whose root is host uid:gid and whose 1000:1000 is host
// uid1000:gid1000: the facts of a detached command
// as root and with -u, the exit status, -w, -e, -u and -t, and the
// one-line refusal once the container has stopped.
func checkExecVerbs(t *testing.T, m *md, pid1, uid, gid, uid1000, gid1000 int) {
	t.Helper()
	m.must("exec", "-d", "sleeper", "sleep", execMarker(1))
	checkExecJoined(t, pid1, findSleep(t, execMarker(1)), uid, gid, true)
	m.must("exec", "-d", "-u", "1000:1000", "sleeper", "sleep", execMarker(2))
	checkExecJoined(t, pid1, findSleep(t, execMarker(2)), uid1000, gid1000, false)
	if r := m.run("exec", "sleeper", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("exec sh -c 'exit 7': status %d (%s), want 7", r.code, r.stderr)
	}
	out := m.must("exec", "-w", "/tmp", "-e", "GREETING=hi", "-u", "1000", "sleeper", "sh", "-c", "pwd; echo $GREETING; id -u; test -t 0 || echo no terminal")
	if want := "/tmp\nhi\n1000\nno terminal\n"; out != want {
		t.Errorf("exec -w /tmp -e GREETING=hi -u 1000: %q, want %q", out, want)
	}
	if out := m.must("exec", "-it", "sleeper", "sh", "-c", "test -t 0 && test -t 1 && echo terminal; id -u"); strings.ReplaceAll(out, "\r", "") != "terminal\n0\n" {
		t.Errorf("exec -it: %q, want a terminal and uid 0", out)
	}
	m.must("stop", "-t", "0", "sleeper")
	r := m.run("exec", "sleeper", "true")
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("exec in a stopped container: exit %d, stderr %q; want 125 and one line", r.code, r.stderr)
	}
}

// TestFinalUsernsExec runs exec in a remapped container, from the
// command line and through the daemon: the command joins the user
// namespace too, as the range's first id, never the host's root.
func TestFinalUsernsExec(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "sleeper", "--network", "none", remap, "base", "sleep", "1000")
	pid1 := int(field(m.inspect("sleeper"), "State", "Pid").(float64))
	uid, gid := int(subidStart(t, "/etc/subuid")), int(subidStart(t, "/etc/subgid"))

	d := m.startDaemon()
	code, body := d.apiCall(t, "POST", "/v1.44/containers/sleeper/exec", fmt.Sprintf(`{"Cmd":["sleep",%q]}`, execMarker(3)))
	var created struct{ Id string }
	if code != 201 || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("POST /containers/sleeper/exec: %d %s", code, body)
	}
	if code, body := d.apiCall(t, "POST", "/v1.44/exec/"+created.Id+"/start", `{"Detach":true}`); code != 200 {
		t.Fatalf("POST /exec/ID/start: %d %s", code, body)
	}
	checkExecJoined(t, pid1, findSleep(t, execMarker(3)), uid, gid, true)
	d.stop(t)

	checkExecVerbs(t, m, pid1, uid, gid, uid+1000, gid+1000)
	m.must("rm", "sleeper")
}
