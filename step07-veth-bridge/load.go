//go:build linux

// Load generators for the cgroup experiments, so that no stress binary is
// needed in the rootfs. The program copies itself into the rootfs it builds
// as /bin/load; run under that name it does one of:
//
//	load cpu N [SECONDS]   keep N threads busy, then report the CPU time used
//	load mem SIZE          allocate SIZE bytes and touch every page
//	load fork              start processes until the kernel refuses one
//	load write FILE SIZE   write SIZE bytes with O_DIRECT, report the rate
//	load serve PORT[/udp], load connect HOST:PORT[/udp]: see netload.go

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// loadUsage is printed when load is called with bad arguments.
const loadUsage = "usage: load cpu N [SECONDS] | load mem SIZE | load fork | load write FILE SIZE | load serve PORT[/udp] | load connect HOST:PORT[/udp]"

// installLoad copies this program, with its libraries, into the rootfs as /bin/load.
func installLoad(rootfs string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	host("copying %s into the rootfs as /bin/load (the load generator)", filepath.Base(self))
	return copyWithLibraries(rootfs, self, "/bin/load")
}

// loadMain runs one load generator and returns the exit status.
func loadMain(args []string) int {
	var err error
	switch {
	case len(args) >= 2 && args[0] == "cpu":
		err = loadCPU(args[1:])
	case len(args) == 2 && args[0] == "mem":
		err = loadMemory(args[1])
	case len(args) == 1 && args[0] == "fork":
		err = loadFork()
	case len(args) == 3 && args[0] == "write":
		err = loadWrite(args[1], args[2])
	case len(args) == 2 && (args[0] == "serve" || args[0] == "connect"):
		err = netLoad(args[0], args[1])
	default:
		err = fmt.Errorf("%s", loadUsage)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

// loadCPU spins N threads for a number of seconds and reports the CPU time.
func loadCPU(args []string) error {
	threads, err := strconv.Atoi(args[0])
	seconds := 10.0
	if len(args) > 1 {
		seconds, err = strconv.ParseFloat(args[1], 64)
	}
	if err != nil || threads < 1 {
		return fmt.Errorf("%s", loadUsage)
	}
	runtime.GOMAXPROCS(threads + 1)
	start, before := time.Now(), cpuTime()
	deadline := start.Add(time.Duration(seconds * float64(time.Second)))
	done := make(chan bool)
	for i := 0; i < threads; i++ {
		go func() {
			runtime.LockOSThread()
			for time.Now().Before(deadline) {
			}
			done <- true
		}()
	}
	for i := 0; i < threads; i++ {
		<-done
	}
	used, wall := cpuTime()-before, time.Since(start).Seconds()
	fmt.Printf("load cpu: %d busy thread(s), %.1fs: %.2fs of CPU time = %.0f%% of one CPU\n", threads, wall, used, 100*used/wall)
	return nil
}

// cpuTime is the user plus system CPU time this process has used, in seconds.
func cpuTime() float64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// loadMemory allocates size bytes, a MiB at a time, touching every page
// so that the kernel really has to provide it.
func loadMemory(size string) error {
	n, err := parseSize("load mem", size)
	if err != nil {
		return err
	}
	fmt.Printf("load mem: allocating %d MiB\n", n>>20)
	var chunks [][]byte
	for total := int64(0); total < n; total += 1 << 20 {
		chunk := make([]byte, 1<<20)
		for i := 0; i < len(chunk); i += os.Getpagesize() {
			chunk[i] = 1
		}
		chunks = append(chunks, chunk)
	}
	fmt.Printf("load mem: allocated and touched %d MiB\n", len(chunks))
	return nil
}

// loadFork starts sleeping processes until fork fails, then ends them all.
func loadFork() error {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(1) // as few threads as possible: pids.max counts threads too
	var children []*os.Process
	for len(children) < 100000 {
		p, err := os.StartProcess(sleep, []string{"sleep", "600"}, &os.ProcAttr{})
		if err != nil {
			fmt.Printf("load fork: started %d processes, then: %v\n", len(children), err)
			break
		}
		children = append(children, p)
	}
	for _, p := range children {
		_ = p.Kill()
		_, _ = p.Wait()
	}
	return nil
}

// loadWrite writes size bytes to file with O_DIRECT, bypassing the page
// cache so that every byte goes to the block device, and reports the rate.
func loadWrite(file, size string) error {
	n, err := parseSize("load write", size)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_DIRECT, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	// O_DIRECT wants an aligned buffer: a fresh mapping is page-aligned.
	block, err := unix.Mmap(-1, 0, 1<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(block)
	start := time.Now()
	for written := int64(0); written < n; written += int64(len(block)) {
		if _, err := f.Write(block); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
	}
	seconds := time.Since(start).Seconds()
	fmt.Printf("load write: %d MiB in %.2fs = %.2f MiB/s\n", n>>20, seconds, float64(n)/(1<<20)/seconds)
	return nil
}
