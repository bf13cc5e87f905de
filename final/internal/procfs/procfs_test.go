//go:build linux

package procfs

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestZombieIsNotAlive checks that a process that has exited but is not
// yet reaped (a zombie, as a SIGKILLed monitor is until init reaps it) is
// not alive, while a running one is, and a reused pid is not.
func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep on this machine:", err)
	}
	pid := cmd.Process.Pid
	start := StartTime(pid)
	if !Alive(pid, start) {
		t.Fatalf("a running process (pid %d) is not alive", pid)
	}
	if Alive(pid, start+1) {
		t.Errorf("a process that started at another time counts as alive")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, _ := ReadStat(pid); st.State == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed child never became a zombie")
		}
	}
	if Alive(pid, start) {
		t.Errorf("a zombie (pid %d, killed, not yet reaped) counts as alive", pid)
	}
	_ = cmd.Wait()
	if Alive(pid, start) || Alive(os.Getpid(), 0) {
		t.Errorf("a reaped process, or a start time of 0, counts as alive")
	}
}

// TestEnded checks Ended on this process (running) and on a reaped child.
func TestEnded(t *testing.T) {
	if Ended(os.Getpid()) {
		t.Errorf("this process counts as ended")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true on this machine:", err)
	}
	if !Ended(cmd.Process.Pid) {
		t.Errorf("a reaped child (pid %d) does not count as ended", cmd.Process.Pid)
	}
}

// TestParseMount checks the fields of a mountinfo line, with optional
// fields and an escaped space in the mount point, and that a malformed
// line is refused.
func TestParseMount(t *testing.T) {
	line := `36 35 98:0 /mnt1 /mnt\0402 rw,noatime master:1 shared:2 - overlay overlay rw,lowerdir=/a:/b,upperdir=/u`
	m, ok := parseMount(line)
	want := Mount{Dev: "98:0", Root: "/mnt1", Point: "/mnt 2", Options: "rw,noatime",
		FSType: "overlay", Source: "overlay", SuperOptions: "rw,lowerdir=/a:/b,upperdir=/u"}
	if !ok || m != want {
		t.Errorf("parseMount(%q) = %+v, %v; want %+v", line, m, ok, want)
	}
	if _, ok := parseMount("36 35 98:0 /mnt1"); ok {
		t.Errorf("a line without its \" - \" part was accepted")
	}
}

// TestMountinfoOfThisProcess reads this process's mounts: "/" is one.
func TestMountinfoOfThisProcess(t *testing.T) {
	mounts, err := Mountinfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Point == "/" {
			return
		}
	}
	t.Errorf("no mount at / among %d", len(mounts))
}
