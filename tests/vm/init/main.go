//go:build linux

// init — PID 1 of the cgroup v2 test VM (see vm/README.md).
//
// The kernel unpacks the initramfs that vm/run-tests.sh built and runs this
// program as /init, with the console on stdin, stdout and stderr and the
// words after "--" on the kernel command line as its arguments. It makes the
// VM look enough like a systemd host for the tests, in this order:
//
//  1. switch root (rootfs.go): pivot_root(2), which the steps under test use,
//     refuses to move the initramfs ("rootfs"), so the tree is copied onto a
//     tmpfs that becomes / the way switch_root(8) does it;
//  2. mount proc, sys, dev, devpts, /dev/shm, /tmp, /run and cgroup2, and
//     make / shared, as systemd does;
//  3. enable the cgroup v2 controllers, load the kernel modules, bring up lo
//     (kernel.go);
//  4. print MINIDOCKER-VM-TESTS-STARTED, run /minidocker/tests.test as a child
//     and reap every process until it exits: a bare PID 1 inherits the
//     orphans of the containers the tests start;
//  5. print MINIDOCKER-VM-EXIT=<code> and power off.
//
// A watchdog (watchdog.go) bounds both the setup and the tests: when a
// deadline passes it dumps the process list to the console, asks the test
// binary for its goroutine stacks, and powers off with code 124. Any setup
// failure powers off with code 125, so the host never mistakes a broken VM
// for a passing run.

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Markers that vm/run-tests.sh looks for on the console.
const (
	startedMarker = "MINIDOCKER-VM-TESTS-STARTED"
	exitMarker    = "MINIDOCKER-VM-EXIT="
)

// Exit codes of the VM that are not the test binary's own.
const (
	exitSetupFailed = 125
	exitTimedOut    = 124
)

// testBinary is the program under test, built by `go test -c`.
const testBinary = "/minidocker/tests.test"

// setupDeadline bounds everything before the tests start.
const setupDeadline = 45 * time.Second

// bootConfig is what the host passes as minidocker.* kernel parameters.
type bootConfig struct {
	deadline time.Duration // minidocker.deadline=SECONDS for the tests, 0 for none
	workdir  string        // minidocker.workdir=DIR, the test binary's working directory
	env      []string      // minidocker.env=KEY=VALUE, repeatable
}

// main runs the VM's life and never returns: it powers the machine off.
func main() {
	logf("started, pid %d", os.Getpid())
	wd := startWatchdog(setupDeadline, "setup", 0)
	code := run(wd)
	finish(code)
}

// run sets the VM up and runs the tests, returning the VM's exit code.
func run(wd *watchdog) int {
	if err := switchRoot(); err != nil {
		logf("switch root: %v", err)
		return exitSetupFailed
	}
	if err := mountSystem(); err != nil {
		logf("mount: %v", err)
		return exitSetupFailed
	}
	setupCgroup2()
	loadModules("/lib/modules/load-order")
	if err := loopbackUp(); err != nil {
		logf("loopback: %v", err)
		return exitSetupFailed
	}
	if err := unix.Sethostname([]byte("minidocker-vm")); err != nil {
		logf("sethostname: %v", err)
	}
	cfg := readBootConfig("/proc/cmdline")
	if !wd.stop() {
		select {} // the watchdog fired: it reports and powers off
	}
	logf("setup done")
	return runTests(cfg, os.Args[1:])
}

// runTests starts the test binary, reaps every child until it exits, and
// returns its exit code (128+signal when killed).
func runTests(cfg bootConfig, args []string) int {
	if len(args) == 0 {
		args = []string{"-test.v"}
	}
	argv := []string{testBinary}
	if cfg.deadline > 2*time.Minute {
		// Earlier than the watchdog, so Go reports the stuck test by name;
		// a -test.timeout among args comes later and wins.
		argv = append(argv, fmt.Sprintf("-test.timeout=%ds", int((cfg.deadline-time.Minute).Seconds())))
	}
	argv = append(argv, args...)
	devnull, err := os.Open("/dev/null")
	if err != nil {
		logf("open /dev/null: %v", err)
		return exitSetupFailed
	}
	unix.Umask(0o022)
	fmt.Printf("%s %s\n", startedMarker, strings.Join(argv, " "))
	p, err := os.StartProcess(testBinary, argv, &os.ProcAttr{
		Dir:   cfg.workdir,
		Env:   testEnv(cfg.env),
		Files: []*os.File{devnull, os.Stdout, os.Stderr},
	})
	if err != nil {
		logf("start %s: %v", testBinary, err)
		return exitSetupFailed
	}
	var wd *watchdog
	if cfg.deadline > 0 {
		wd = startWatchdog(cfg.deadline, "tests", p.Pid)
	}
	code := reapUntil(p.Pid)
	if wd != nil && !wd.stop() {
		select {} // the watchdog fired: it reports and powers off
	}
	return code
}

// reapUntil waits for any child, again and again, until pid has exited.
func reapUntil(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			logf("wait4: %v", err)
			return exitSetupFailed
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			logf("%s killed by %v", testBinary, ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// testEnv is the test binary's whole environment.
func testEnv(extra []string) []string {
	return append([]string{
		"PATH=/bin:/sbin:/usr/bin:/usr/sbin",
		"HOME=/root",
		"TMPDIR=/tmp",
		"TERM=dumb",
		"MINIDOCKER_STEP_BINS=/minidocker/bin",
		"MINIDOCKER_STRICT=1",
		"MINIDOCKER_IN_VM=1",
	}, extra...)
}

// readBootConfig parses the minidocker.* parameters before "--" in path.
func readBootConfig(path string) bootConfig {
	cfg := bootConfig{workdir: "/minidocker"}
	b, err := os.ReadFile(path)
	if err != nil {
		logf("read %s: %v", path, err)
		return cfg
	}
	for _, f := range strings.Fields(string(b)) {
		if f == "--" {
			break
		}
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "minidocker.deadline":
			if s, err := strconv.Atoi(val); err == nil {
				cfg.deadline = time.Duration(s) * time.Second
			}
		case "minidocker.workdir":
			if st, err := os.Stat(val); err == nil && st.IsDir() {
				cfg.workdir = val
			}
		case "minidocker.env":
			cfg.env = append(cfg.env, val)
		}
	}
	return cfg
}

// finishOnce makes sure only one caller reports the exit code and powers off.
var finishOnce sync.Once

// finish prints the exit marker, syncs and powers the VM off.
func finish(code int) {
	finishOnce.Do(func() {
		fmt.Printf("\n%s%d\n", exitMarker, code)
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
			logf("power off: %v", err)
		}
		// QEMU runs with -no-reboot, so a restart ends it too.
		unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	})
	select {}
}

// logf prints one line of init's own narration to the console, stamped with
// the time since the kernel booted.
func logf(format string, args ...any) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	fmt.Printf("vm-init: [%6.2fs] "+format+"\n", append([]any{float64(ts.Nano()) / 1e9}, args...)...)
}
