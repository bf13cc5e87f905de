//go:build linux

// rm -f of a container whose record is corrupt: what the record would have
// named is found by the container's id instead (final/rm_corrupt.go).

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFinalRmForceCorruptRecord truncates the record of a running and of
// a stopped container (bridged, so that each had a lease and a veth) and
// removes each with rm -f by name and by id: exit 0, the container's
// process is dead, and nothing of it is left (newMD checks the mounts,
// cgroups and leases; the test checks its directory and name). A third,
// running, corrupt container is left to cleanup, which must remove it as
// well as the readable one beside it.
func TestFinalRmForceCorruptRecord(t *testing.T) {
	m := newMD(t)
	running := startSleeper(m, []string{"run", "-d", "--name", "running", "base", "sleep", "1000"})
	stopped := strings.TrimSpace(m.must("run", "-d", "--name", "stopped", "base", "true"))
	m.must("wait", "stopped")
	for _, id := range []string{running.id, stopped} {
		truncateRecord(t, m, id)
	}
	m.fails(1, "corrupt record", "inspect", "running")
	m.fails(1, "remove it with: minidocker rm -f", "rm", "stopped")

	for _, ref := range []string{"running", stopped} {
		r := m.run("rm", "-f", ref)
		if r.code != 0 || strings.TrimSpace(r.stdout) != ref || !strings.Contains(r.stderr, "its record was unreadable") {
			t.Errorf("rm -f %s of a corrupt record: exit %d, stdout %q, stderr %q", ref, r.code, r.stdout, r.stderr)
		}
		t.Logf("rm -f %s: %s", ref, r.stderr)
	}
	waitForDeath(t, running.pid)
	for _, id := range []string{running.id, stopped} {
		if _, err := os.Lstat(filepath.Join(m.root, "containers", id)); !os.IsNotExist(err) {
			t.Errorf("rm -f left the directory of %s (%v)", id, err)
		}
	}
	if names, _ := os.ReadDir(filepath.Join(m.root, "names")); len(names) != 0 {
		t.Errorf("rm -f left names in the index: %v", names)
	}
	if out := m.must("ps", "-aq"); out != "" {
		t.Errorf("ps -a still lists %q", out)
	}
	m.must("run", "--rm", "--name", "running", "base", "true") // the name is free again

	left := startSleeper(m, []string{"run", "-d", "--name", "left", "base", "sleep", "1000"})
	readable := startSleeper(m, []string{"run", "-d", "--name", "readable", "base", "sleep", "1000"})
	truncateRecord(t, m, left.id)
	t.Logf("cleanup: %s", m.must("cleanup"))
	waitForDeath(t, left.pid)
	waitForDeath(t, readable.pid)
}

// TestFinalRmForceSparesALookAlike removes a stopped container with a
// corrupt record (it has no monitor) while a process that is not
// minidocker, but whose command line is that of the container's monitor
// ("monitor --root ROOT ID"), runs: rm -f finds monitors by their command
// line, and must check that the program is minidocker before it kills.
func TestFinalRmForceSparesALookAlike(t *testing.T) {
	m := newMD(t)
	id := strings.TrimSpace(m.must("run", "-d", "--name", "stopped", "base", "true"))
	m.must("wait", "stopped")
	truncateRecord(t, m, id)
	decoy := exec.Command(helperBinary, "monitor", "--root", m.root, id)
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	if r := m.run("rm", "-f", "stopped"); r.code != 0 {
		t.Errorf("rm -f of a corrupt record: exit %d, stderr %q", r.code, r.stderr)
	}
	// A SIGKILL sent by rm -f would have decided the decoy's end already.
	_ = decoy.Process.Signal(syscall.SIGTERM)
	_ = decoy.Wait()
	if ws := decoy.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("rm -f killed a process that only looked like the monitor: it ended with %v", decoy.ProcessState)
	}
}

// truncateRecord cuts container id's record in half, as a crash of the
// disk or a hand edit might leave it.
func truncateRecord(t *testing.T, m *md, id string) {
	t.Helper()
	record := filepath.Join(m.root, "containers", id, "config.json")
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
}
