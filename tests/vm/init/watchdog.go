//go:build linux

// watchdog.go — the VM's own deadline, so that a hang still tells its story.
//
// The host kills QEMU when its hard timeout passes, but by then the console
// has shown nothing about what hung. This watchdog fires earlier, inside the
// VM: it asks the kernel for its blocked tasks (sysrq "w"), lists every user
// process from /proc (pid, parent, state, what it waits in, its command line,
// and the kernel stack of any process in D state), sends SIGQUIT to the test binary
// so the Go runtime prints every goroutine's stack, and powers off with exit
// code 124.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// watchdog is one armed deadline.
type watchdog struct {
	timer *time.Timer
}

// startWatchdog arms a deadline for phase; testPid (0 for none) gets SIGQUIT.
func startWatchdog(d time.Duration, phase string, testPid int) *watchdog {
	return &watchdog{timer: time.AfterFunc(d, func() {
		fmt.Printf("\nvm-init: WATCHDOG: %s still running after %s\n", phase, d)
		if err := os.WriteFile("/proc/sysrq-trigger", []byte("w"), 0); err != nil {
			logf("sysrq w: %v", err)
		}
		time.Sleep(time.Second) // let the kernel's lines out before ours
		dumpProcesses()
		if testPid > 0 {
			logf("sending SIGQUIT to %s (pid %d) for its goroutine stacks", testBinary, testPid)
			unix.Kill(testPid, unix.SIGQUIT)
			time.Sleep(10 * time.Second)
		}
		finish(exitTimedOut)
	})}
}

// stop disarms the watchdog; it returns false if the watchdog already fired.
func (w *watchdog) stop() bool {
	return w.timer.Stop()
}

// procInfo is what the dump shows of one process.
type procInfo struct {
	pid, ppid   int
	state, comm string
	wchan, cmd  string
}

// dumpProcesses prints every process, sorted by pid, to the console.
func dumpProcesses() {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var procs []procInfo
	for _, d := range dirs {
		if p, ok := readProc(d); ok {
			procs = append(procs, p)
		}
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid < procs[j].pid })
	fmt.Printf("%7s %7s %s %-24s %s\n", "PID", "PPID", "S", "WCHAN", "COMMAND")
	kthreads := 0
	for _, p := range procs {
		if (p.pid == 2 || p.ppid == 2) && p.state != "D" {
			kthreads++ // kernel threads: shown only when blocked
			continue
		}
		cmd := p.cmd
		if cmd == "" {
			cmd = "[" + p.comm + "]"
		}
		fmt.Printf("%7d %7d %s %-24s %s\n", p.pid, p.ppid, p.state, p.wchan, cmd)
		if p.state == "D" {
			stack, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stack", p.pid))
			fmt.Printf("%s", stack)
		}
	}
	fmt.Printf("(%d kernel threads not in D state not shown)\n", kthreads)
}

// readProc reads one /proc/PID directory; ok is false if the process is gone.
func readProc(dir string) (p procInfo, ok bool) {
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return p, false
	}
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 2 {
		return p, false
	}
	p.pid, _ = strconv.Atoi(strings.TrimSpace(s[:open]))
	p.comm, p.state = s[open+1:closing], rest[0]
	p.ppid, _ = strconv.Atoi(rest[1])
	wchan, _ := os.ReadFile(dir + "/wchan")
	p.wchan = string(wchan)
	cmd, _ := os.ReadFile(dir + "/cmdline")
	p.cmd = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	return p, true
}
