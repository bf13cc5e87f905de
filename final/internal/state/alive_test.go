//go:build linux

package state

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
		if st, _ := procStat(pid); st == 'Z' {
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
