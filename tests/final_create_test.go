// create: the container is made (record, writable layer) and nothing
// runs until start.

package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFinalCreate checks that create leaves a "created" container with no
// process, no monitor and no cgroup; that start runs it as PID 1 of its
// own pid namespace; and that a bad create leaves nothing behind.
func TestFinalCreate(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("create", "--name", "made", "--network", "none", "-m", "64m", "base", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 4"))
	if len(id) != 64 {
		t.Fatalf("create printed %q, want a 64-hex id", id)
	}
	info := m.inspect("made")
	if s, pid := field(info, "State", "Status"), field(info, "State", "Pid"); s != "created" || pid != float64(0) {
		t.Errorf("after create: Status=%v Pid=%v, want created and 0", s, pid)
	}
	if pids := monitorsOf(id); len(pids) > 0 {
		t.Errorf("create left monitors running: %v", pids)
	}
	for _, pattern := range []string{"/sys/fs/cgroup/minidocker/" + id, "/sys/fs/cgroup/*/minidocker/" + id} {
		if dirs, _ := filepath.Glob(pattern); len(dirs) > 0 {
			t.Errorf("create made cgroups: %v", dirs)
		}
	}
	if _, err := os.Stat(filepath.Join(m.root, "containers", id, "upper")); err != nil {
		t.Errorf("create made no writable layer: %v", err)
	}
	if out := m.must("ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(out, "made Created") {
		t.Errorf("ps -a shows %q, want made Created", out)
	}
	if out := m.must("ps", "-q"); out != "" {
		t.Errorf("ps (running only) shows %q for a created container", out)
	}
	m.must("start", "made")
	// NSpid lists the pid in each pid namespace, the container's last: 1.
	pid := m.containerPid("made")
	if status := procStatusField(pid, "NSpid"); !strings.HasSuffix(status, "\t1") {
		t.Errorf("the started container's first process is not PID 1 in its namespace: NSpid %q", status)
	}
	m.must("exec", "made", "touch", "/tmp/go")
	if out := m.must("wait", "made"); out != "4\n" {
		t.Errorf("wait after start printed %q, want 4", out)
	}
	m.fails(125, "is already in use", "create", "--name", "made", "base", "true")
	m.fails(125, "no such image", "create", "--name", "other", "nosuch.invalid/x", "true")
	if out := m.must("ps", "-a", "-q"); strings.Count(out, "\n") != 1 {
		t.Errorf("failed creates left containers: %q", out)
	}
	m.must("rm", "made")
	if found := traces(m.root, id); len(found) > 0 {
		t.Errorf("rm left %v", found)
	}
}

// procStatusField is one line of /proc/PID/status, without its name.
func procStatusField(pid int, name string) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

// TestFinalLookupReadsOnlyItsRecord checks that a name, an id or an id
// prefix is resolved by reading that container's record alone: another
// container's unreadable record does not stop inspect, stop or rm of
// this one (it did while every lookup read every record, which also made
// `rm` of N containers cost N² record reads).
func TestFinalLookupReadsOnlyItsRecord(t *testing.T) {
	m := newMD(t)
	good := strings.TrimSpace(m.must("create", "--name", "good", "--network", "none", "base", "true"))
	bad := strings.TrimSpace(m.must("create", "--name", "bad", "--network", "none", "base", "true"))
	record := filepath.Join(m.root, "containers", bad, "config.json")
	saved, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := good[:1]
	for strings.HasPrefix(bad, prefix) {
		prefix = good[:len(prefix)+1]
	}
	for _, ref := range []string{"good", good, prefix} {
		if info := m.inspect(ref); field(info, "Id") != good {
			t.Errorf("inspect %s: Id %v, want %s", ref, field(info, "Id"), good)
		}
	}
	m.fails(1, "corrupt record", "inspect", "bad")
	m.must("stop", "good")
	m.must("rm", prefix)
	if err := os.WriteFile(record, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	m.must("rm", "bad")
}
