//go:build linux

// cleanup and a step that is still setting up: the step's temporary
// directories are its own while it lives (final/stepdirs.go), whether or
// not its container has started.

package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCleanupSkipsAStepStillSettingUp holds each step in the middle of
// building its root filesystem: its MINIDOCKER_BUSYBOX is a FIFO that the
// test opens but never writes, so the step waits in the copy of busybox.
// cleanup must then keep the step's directories and say it skipped them;
// once the step is killed with SIGKILL, cleanup must remove them.
func TestCleanupSkipsAStepStillSettingUp(t *testing.T) {
	containerTest(t)
	if finalBinary == "" {
		t.Fatal("the minidocker binary (./final) was not built")
	}
	forSteps(t, stepsFrom(3), func(t *testing.T, s step) {
		tmp, state := t.TempDir(), filepath.Join(t.TempDir(), "step08-state")
		fifo := filepath.Join(t.TempDir(), "busybox")
		if err := unix.Mkfifo(fifo, 0o755); err != nil {
			t.Fatal(err)
		}
		env := []string{"TMPDIR=" + tmp, "MINIDOCKER_ROOT=" + state}
		cmd := exec.Command(s.binary, "--", "true")
		cmd.Env = append(os.Environ(), append(env, "MINIDOCKER_BUSYBOX="+fifo)...)
		cmd.SysProcAttr = isolatedNetwork()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		defer func() { _ = cmd.Process.Kill(); <-exited }()
		writer := openWhenRead(t, fifo, exited)
		defer unix.Close(writer)

		dirs, _ := filepath.Glob(filepath.Join(tmp, "minidocker-*"))
		if len(dirs) == 0 {
			t.Fatal("the step made no directory in its TMPDIR before reading busybox")
		}
		out := cleanupWithEnv(t, env, state)
		for _, dir := range dirs {
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("cleanup removed %s while its step was setting up (%v)", dir, err)
			}
			if !strings.Contains(out, "skipped "+dir) {
				t.Errorf("cleanup did not say it skipped %s; it printed:\n%s", dir, out)
			}
		}

		_ = cmd.Process.Kill()
		<-exited
		out = cleanupWithEnv(t, env, state)
		for _, dir := range dirs {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup left %s of a step killed with SIGKILL (%v); it printed:\n%s", dir, err, out)
			}
		}
	})
}

// openWhenRead opens fifo for writing once its reader (the step) has it
// open; it fails the test if the step exits first or within a minute.
func openWhenRead(t *testing.T, fifo string, exited <-chan struct{}) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			return fd
		}
		if !errors.Is(err, unix.ENXIO) { // ENXIO: no reader yet
			t.Fatalf("open %s for writing: %v", fifo, err)
		}
		select {
		case <-exited:
			t.Fatal("the step ended before it read busybox")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the step did not open busybox within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cleanupWithEnv runs minidocker cleanup of root with env, in a network
// namespace of its own; its stdout and stderr.
func cleanupWithEnv(t *testing.T, env []string, root string) string {
	t.Helper()
	cmd := exec.Command(finalBinary, "--root", root, "cleanup")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = isolatedNetwork()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("minidocker cleanup: %v\n%s", err, out)
	}
	return string(out)
}
