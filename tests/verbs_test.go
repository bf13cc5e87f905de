// The verbs pause, unpause, cp, rename, port, diff, container prune and
// image prune, through the minidocker CLI; each checked where the kernel
// or the state directory shows it (the freezer, /proc/PID/status, file
// bytes, the names index, the overlay upper dir). daemon_verbs_test.go
// drives the same verbs through the docker CLI and the Python SDK.

package tests

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// procState is the State line of /proc/PID/status, e.g. "D (disk sleep)".
func procState(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// assertFrozen checks what the kernel says of a paused container: its
// cgroup frozen (v1 freezer.state FROZEN, v2 cgroup.events "frozen 1"),
// and on v1 its process in the uninterruptible sleep a frozen task shows.
func assertFrozen(t *testing.T, id string, pid int, frozen bool) {
	t.Helper()
	if got := cgroupFrozen(t, "/minidocker/"+id); got != frozen {
		t.Errorf("cgroup of %s frozen = %v, want %v", id[:12], got, frozen)
	}
	st := procState(t, pid)
	if frozen && !hostCgroupV2() && !strings.HasPrefix(st, "D") {
		t.Errorf("a frozen task's state: %q, want D (the v1 freezer)", st)
	}
	if !frozen && strings.HasPrefix(st, "D") {
		t.Errorf("a thawed task's state: %q", st)
	}
}

func TestVerbsPauseUnpause(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "pz", "--network", "none", "base", "sleep", "1000"))
	pid := m.containerPid("pz")
	if out := m.must("pause", "pz"); out != "pz\n" {
		t.Errorf("pause printed %q", out)
	}
	assertFrozen(t, id, pid, true)
	info := m.inspect("pz")
	if field(info, "State", "Paused") != true || field(info, "State", "Status") != "paused" || field(info, "State", "Running") != true {
		t.Errorf("inspect of a paused container: %v", field(info, "State"))
	}
	if ps := m.must("ps", "--format", "{{.Status}}"); !strings.HasSuffix(ps, "(Paused)\n") {
		t.Errorf("ps: %q, want a status ending in (Paused)", ps)
	}
	m.fails(125, "is paused, unpause the container before exec", "exec", "pz", "true")
	m.fails(1, "is already paused", "pause", "pz")

	m.must("unpause", "pz")
	assertFrozen(t, id, pid, false)
	if out := m.must("exec", "pz", "echo", "thawed"); out != "thawed\n" {
		t.Errorf("exec after unpause: %q", out)
	}
	m.fails(1, "is not paused", "unpause", "pz")

	// kill (SIGKILL) of a paused container: the signal, then the thaw,
	// and the process is gone.
	m.must("pause", "pz")
	m.must("kill", "pz")
	if !exited(pid) {
		t.Errorf("pid %d still runs after kill of the paused container", pid)
	}
	if st := field(m.inspect("pz"), "State"); field(st, "Paused") != false || field(st, "ExitCode") != float64(137) {
		t.Errorf("after kill: %v", st)
	}
	m.fails(1, "is not running", "pause", "pz")

	// stop and rm -f of a paused container.
	for _, verb := range [][]string{{"stop", "-t", "1"}, {"rm", "-f"}} {
		m.must("start", "pz")
		pid = m.containerPid("pz")
		m.must("pause", "pz")
		m.must(append(verb, "pz")...)
		if !exited(pid) {
			t.Errorf("pid %d still runs after %s of the paused container", pid, verb[0])
		}
	}

	// cleanup of a paused container whose monitor it kills: the cgroup's
	// removal thaws what it killed, so that it dies.
	id = strings.TrimSpace(m.must("run", "-d", "--name", "pz2", "--network", "none", "base", "sleep", "1000"))
	pid = m.containerPid("pz2")
	m.must("pause", "pz2")
	m.must("cleanup")
	if !exited(pid) {
		t.Errorf("pid %d still runs after cleanup of the paused container", pid)
	}
	for _, dir := range []string{"/sys/fs/cgroup/freezer/minidocker/" + id, "/sys/fs/cgroup/minidocker/" + id} {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cleanup left the paused container's cgroup %s", dir)
		}
	}
}

// writeFileTar makes a tar of the given entries for `cp -`.
func writeFileTar(t *testing.T, entries []tar.Header, bodies map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h := h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(bodies[h.Name]))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(bodies[h.Name]))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// hostTarget makes a host directory with a marker file, which no copy may
// reach, and returns it and a check that it is untouched.
func hostTarget(t *testing.T) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func() {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		data, _ := os.ReadFile(filepath.Join(dir, "marker"))
		if len(entries) != 1 || string(data) != "host" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("the host directory %s was reached: %v, marker %q", dir, names, data)
		}
	}
}

func TestVerbsCp(t *testing.T) {
	m := newMD(t)
	hostDir, untouched := hostTarget(t)
	m.must("run", "-d", "--name", "cp1", "--network", "none", "base", "sh", "-c",
		"mkdir -p /d/e "+hostDir+" && printf 'in the box' > /d/e/f && ln -s "+hostDir+" /abs && ln -s ../../../../../.."+hostDir+" /rel && touch /ready && exec sleep 1000")
	waitFor(t, func() bool { return m.run("exec", "cp1", "cat", "/ready").code == 0 })
	out := t.TempDir()

	// Out of the container: a file, a directory into a directory.
	m.must("cp", "cp1:/d/e/f", filepath.Join(out, "f"))
	m.must("cp", "cp1:/d", out+"/")
	for _, p := range []string{"f", "d/e/f"} {
		if data, err := os.ReadFile(filepath.Join(out, p)); err != nil || string(data) != "in the box" {
			t.Errorf("copied %s: %q %v", p, data, err)
		}
	}
	// Into it: the bytes, owned by the container's root.
	src := filepath.Join(out, "up")
	os.WriteFile(src, []byte("from the host\x00\xff"), 0o640)
	os.Chown(src, 1234, 1234)
	m.must("cp", src, "cp1:/d/")
	if got := m.must("exec", "cp1", "sh", "-c", "cat /d/up; stat -c ' %u:%g %a' /d/up"); got != "from the host\x00\xff 0:0 640\n" {
		t.Errorf("in the container: %q", got)
	}
	m.must("cp", "-a", src, "cp1:/d/kept")
	if got := m.must("exec", "cp1", "stat", "-c", "%u:%g", "/d/kept"); got != "1234:1234\n" {
		t.Errorf("cp -a: owner %q, want 1234:1234", got)
	}
	// A tar on stdout.
	r := m.run("cp", "cp1:/d/e", "-")
	tr := tar.NewReader(strings.NewReader(r.stdout))
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "e/ e/f" {
		t.Errorf("cp to -: entries %v (exit %d, %s)", names, r.code, r.stderr)
	}
	m.fails(1, "Could not find the file /nope in container cp1", "cp", "cp1:/nope", out)

	// Symlinks resolve inside the container, never on the host: read
	// through them finds nothing, a write lands in the container's
	// directory of the same name.
	for i, link := range []string{"/abs", "/rel"} {
		m.fails(1, "Could not find the file", "cp", "cp1:"+link+"/marker", filepath.Join(out, "stolen"))
		m.must("cp", src, "cp1:"+link+"/up"+strconv.Itoa(i))
	}
	if got := m.must("exec", "cp1", "ls", hostDir); got != "up0\nup1\n" {
		t.Errorf("the container's %s holds %q, want the two copies", hostDir, got)
	}
	if _, err := os.Stat(filepath.Join(out, "stolen")); err == nil {
		t.Error("a copy through a symlink read the host's file")
	}
	// Hostile tars: a ".." name, and a symlink then a file through it.
	dotdot := m.runInput(string(writeFileTar(t, []tar.Header{{Name: "../../../../" + hostDir + "/evil", Typeflag: tar.TypeReg, Mode: 0o644}}, nil)), "cp", "-", "cp1:/d")
	if dotdot.code != 1 || !strings.Contains(dotdot.stderr, `".." element`) {
		t.Errorf("a tar with a .. name: exit %d %q, want 1 and a refusal", dotdot.code, dotdot.stderr)
	}
	evil := writeFileTar(t, []tar.Header{
		{Name: "s", Typeflag: tar.TypeSymlink, Linkname: hostDir},
		{Name: "s/pwned", Typeflag: tar.TypeReg, Mode: 0o644},
	}, map[string]string{"s/pwned": "x"})
	r = m.runInput(string(evil), "cp", "-", "cp1:/d")
	t.Logf("a tar with a symlink to the host's %s and a file through it: exit %d %s", hostDir, r.code, r.stderr)
	if r.code == 0 {
		if got := m.must("exec", "cp1", "find", "/d/s/"); !strings.Contains(got, "pwned") {
			t.Errorf("the file through the unpacked symlink is neither refused nor in the container: %q", got)
		}
	}
	untouched()

	// A stopped container: its layers, mounted where only the copy sees them.
	m.must("stop", "-t", "0", "cp1")
	m.must("cp", src, "cp1:/stopped")
	m.must("cp", "cp1:/stopped", filepath.Join(out, "back"))
	if data, _ := os.ReadFile(filepath.Join(out, "back")); string(data) != "from the host\x00\xff" {
		t.Errorf("copied from the stopped container: %q", data)
	}
	id := strings.TrimSpace(m.must("inspect", "-f", "{{.ID}}", "cp1"))
	if data, err := os.ReadFile(filepath.Join(m.root, "containers", id, "upper", "stopped")); err != nil || string(data) != "from the host\x00\xff" {
		t.Errorf("the upper dir's copy: %q %v", data, err)
	}
	untouched()
	m.must("rm", "cp1")
}

func TestVerbsRename(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("create", "--name", "old1", "--network", "none", "base", "true"))
	m.must("create", "--name", "other", "--network", "none", "base", "true")
	index := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(m.root, "names", name))
		return string(data)
	}
	if out := m.must("rename", "old1", "new1"); out != "" {
		t.Errorf("rename printed %q", out)
	}
	if index("new1") != id || index("old1") != "" {
		t.Errorf("names index: new1=%q old1=%q, want new1=%s and no old1", index("new1"), index("old1"), id)
	}
	if got := m.must("inspect", "-f", "{{.Name}}", id); got != "new1\n" && got != "/new1\n" {
		t.Errorf("record's name: %q", got)
	}
	m.fails(1, "no such object: old1", "inspect", "old1")
	m.fails(1, `Conflict. The container name "/other" is already in use by container`, "rename", "new1", "other")
	m.fails(1, "Renaming a container with the same name as its current name", "rename", "new1", "new1")
	m.fails(1, "Invalid container name", "rename", "new1", "a/b")
	if index("new1") != id || index("other") == id {
		t.Errorf("a refused rename changed the index: new1=%q other=%q", index("new1"), index("other"))
	}
	m.must("create", "--name", "old1", "--network", "none", "base", "true") // the old name is free again
}

func TestVerbsPort(t *testing.T) {
	m := newMD(t)
	m.must("run", "-d", "--name", "pt", "-p", "8080:80", "-p", "127.0.0.1:9090:90/udp", "base", "sleep", "1000")
	if out := m.must("port", "pt"); out != "80/tcp -> 0.0.0.0:8080\n90/udp -> 127.0.0.1:9090\n" {
		t.Errorf("port: %q", out)
	}
	if out := m.must("port", "pt", "80"); out != "0.0.0.0:8080\n" {
		t.Errorf("port pt 80: %q", out)
	}
	m.fails(1, "No public port '81/tcp' published for pt", "port", "pt", "81")
	m.must("rm", "-f", "pt")
}

func TestVerbsDiff(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "mk", "--network", "none", "base", "sh", "-c", "mkdir /od && touch /od/a /od/b")
	m.must("commit", "mk", "difftest:v1")
	id := strings.TrimSpace(m.must("run", "-d", "--name", "df", "--network", "none", "difftest:v1", "sh", "-c",
		"rm /etc/group && echo more >> /etc/passwd && mkdir /new && touch /new/f && rm -rf /od && mkdir /od && touch /od/c && touch /ready && exec sleep 1000"))
	waitFor(t, func() bool { return m.run("exec", "df", "cat", "/ready").code == 0 })
	want := []string{"C /etc", "D /etc/group", "C /etc/passwd", "A /new", "A /new/f", "C /od", "D /od/a", "D /od/b", "A /od/c", "A /ready"}
	got := strings.Split(strings.TrimSpace(m.must("diff", "df")), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the letters were read from: a whiteout and an opaque dir.
	upper := filepath.Join(m.root, "containers", id, "upper")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(upper, "etc/group"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("upper/etc/group is not a 0/0 whiteout: %v %o", err, st.Mode)
	}
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(filepath.Join(upper, "od"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("upper/od is not opaque: %v %q", err, buf[:n])
	}
	m.must("rm", "-f", "df", "mk")
}

// TestVerbsDiffLeavesOutMountPoints runs an image that has nothing but
// /bin/helper: start makes /dev, /proc, /sys and /etc/hostname, hosts and
// resolv.conf in the container's upper dir, only to mount over them.
// They are not the container's changes: diff lists nothing, and commit's
// layer holds none of them (Docker keeps them in its init layer).
func TestVerbsDiffLeavesOutMountPoints(t *testing.T) {
	m := newMD(t)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	helper, err := os.ReadFile(helperBinary)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*tar.Header{{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "bin/helper", Mode: 0o755, Size: int64(len(helper))}} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Write(helper)
	tw.Close()
	if r := m.runInput(archive.String(), "import", "-", "bare:1"); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	id := strings.TrimSpace(m.must("run", "-d", "--name", "bare", "--network", "none", "bare:1", "/bin/helper", "hold"))
	upper := filepath.Join(m.root, "containers", id, "upper")
	for _, p := range []string{"dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(upper, p)); err != nil {
			t.Errorf("the upper dir has no %s, so this test proves nothing: %v", p, err)
		}
	}
	if out := m.must("diff", "bare"); out != "" {
		t.Errorf("diff of a container that changed nothing:\n%s", out)
	}
	m.must("commit", "bare", "bare:2")
	saved := filepath.Join(t.TempDir(), "bare.tar")
	m.must("save", "-o", saved, "bare:2")
	if names := lastLayerNames(t, saved); len(names) != 0 {
		t.Errorf("the committed layer holds %v, want nothing", names)
	}
	m.must("rm", "-f", "bare")
}

// lastLayerNames lists the entries of the top layer of a saved image.
func lastLayerNames(t *testing.T, saved string) []string {
	t.Helper()
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal([]byte(fileInTar(t, saved, "manifest.json")), &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json of %s: %v", saved, err)
	}
	layers := manifest[0].Layers
	tr := tar.NewReader(strings.NewReader(fileInTar(t, saved, layers[len(layers)-1])))
	var names []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			return names
		}
		names = append(names, hdr.Name)
	}
}

func TestVerbsPrune(t *testing.T) {
	m := newMD(t)
	a := strings.TrimSpace(m.must("create", "--name", "pa", "--network", "none", "base", "true"))
	m.must("run", "--name", "pb", "--network", "none", "base", "sh", "-c", "echo 12345 > /payload")
	b := strings.TrimSpace(m.must("inspect", "-f", "{{.ID}}", "pb"))
	live := strings.TrimSpace(m.must("run", "-d", "--name", "pl", "--network", "none", "base", "sleep", "1000"))

	// Without -f it asks; "n" keeps everything.
	if out := m.runInput("n\n", "container", "prune"); out.code != 0 || !strings.Contains(out.stdout, "WARNING! This will remove all stopped containers.") {
		t.Errorf("container prune, answered n: exit %d %q", out.code, out.stdout)
	}
	if _, err := os.Stat(filepath.Join(m.root, "containers", a)); err != nil {
		t.Errorf("a refused prune removed %s: %v", a, err)
	}
	out := m.must("container", "prune", "-f")
	want1 := "Deleted Containers:\n" + b + "\n" + a + "\n\nTotal reclaimed space: 6B\n"
	want2 := "Deleted Containers:\n" + a + "\n" + b + "\n\nTotal reclaimed space: 6B\n"
	if out != want1 && out != want2 {
		t.Errorf("container prune -f:\n%s\nwant:\n%s", out, want1)
	}
	for _, id := range []string{a, b} {
		if _, err := os.Stat(filepath.Join(m.root, "containers", id)); !os.IsNotExist(err) {
			t.Errorf("%s is still in the state directory: %v", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(m.root, "containers", live)); err != nil {
		t.Errorf("prune removed the running container: %v", err)
	}
	if out := m.must("container", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("a prune with nothing to do: %q", out)
	}

	// image prune: an untagged image goes, a tagged one stays.
	m.must("run", "--name", "src", "--network", "none", "base", "touch", "/x")
	img := strings.TrimSpace(m.must("commit", "src"))
	m.must("rm", "src")
	out = m.must("image", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\ndeleted: "+img+"\n") || !strings.Contains(out, "\nTotal reclaimed space: ") {
		t.Errorf("image prune -f: %q (the image was %s)", out, img)
	}
	if m.run("inspect", img).code == 0 {
		t.Errorf("image %s is still there after prune", img)
	}
	if m.run("inspect", "base").code != 0 {
		t.Error("image prune removed a tagged image")
	}
	m.must("rm", "-f", "pl")
}

func TestVerbsEvents(t *testing.T) {
	m := newMD(t)
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "ev", "--network", "none", "base", "sleep", "1000"))
	m.must("pause", "ev")
	m.must("unpause", "ev")
	m.must("rename", "ev", "ev2")
	m.must("rm", "-f", "ev2")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := m.must("events", "--since", since, "--until", until, "--filter", "container="+id)
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "container" || f[3] != id {
			t.Fatalf("events line %q", line)
		}
		actions = append(actions, f[2])
	}
	// rm -f stops: SIGTERM (which sleep, as PID 1, ignores), then SIGKILL.
	if got := strings.Join(actions, " "); got != "create start pause unpause rename kill kill die destroy" {
		t.Errorf("events of the container: %s\n%s", got, out)
	}
	if !strings.Contains(out, "(exitCode=137, image=base, name=ev2)") || !strings.Contains(out, "oldName=/ev") || !strings.Contains(out, "signal=9)") {
		t.Errorf("events' attributes: %s", out)
	}
	// The log they came from: one JSON line per event in the state root.
	data, err := os.ReadFile(filepath.Join(m.root, "events.log"))
	if err != nil || strings.Count(string(data), `"Action":"destroy"`) != 1 {
		t.Errorf("events.log: %v\n%s", err, data)
	}
	m.fails(2, "invalid filter 'nosuch'", "events", "--filter", "nosuch=1", "--until", until)
}

func TestVerbsUpdate(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "up", "--network", "none", "-m", "64m", "base", "sleep", "1000"))
	if out := m.must("update", "-m", "256m", "--cpus", "0.5", "--pids-limit", "50", "up"); out != "up\n" {
		t.Errorf("update printed %q", out)
	}
	check := func(controller, v1, v2, want1, want2 string) {
		t.Helper()
		want := want1
		if hostCgroupV2() {
			want = want2
		}
		if got := cgroupFile(id, controller, v1, v2); got != want {
			t.Errorf("%s: %q, want %q", v2, got, want)
		}
	}
	check("memory", "memory.limit_in_bytes", "memory.max", "268435456", "268435456")
	check("cpu", "cpu.cfs_quota_us", "cpu.max", "50000", "50000 100000")
	check("pids", "pids.max", "pids.max", "50", "50")
	// A cut below the current limit: v1 must write memory before memsw.
	m.must("update", "-m", "32m", "up")
	check("memory", "memory.limit_in_bytes", "memory.max", "33554432", "33554432")
	check("memory", "memory.memsw.limit_in_bytes", "memory.swap.max", "67108864", "33554432")
	if got := m.must("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCPUs}}", "up"); got != "33554432 500000000\n" {
		t.Errorf("the record after update: %q", got)
	}
	m.fails(1, "Minimum memory limit allowed is 6MB", "update", "-m", "1m", "up")
	check("memory", "memory.limit_in_bytes", "memory.max", "33554432", "33554432")
	m.fails(2, "you must provide one or more flags", "update", "up")
	m.must("rm", "-f", "up")
}
