//go:build linux

// top: the processes of a container, found in its cgroup and described
// from /proc, as ps -ef would.

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
)

// topCommand is the top verb.
var topCommand = &command{
	name: "top", usage: "top CONTAINER", short: "Show the processes of a container",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runTop(s, args) }
	},
}

// runTop lists the container's processes.
func runTop(s *session, args []string) error {
	if len(args) != 1 {
		return usagef("requires exactly 1 argument")
	}
	if err := s.open(); err != nil {
		return err
	}
	c, err := s.findRunning(args[0])
	if err != nil {
		return err
	}
	pids, err := s.rt.Processes(c)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "UID\tPID\tPPID\tCMD")
	for _, pid := range pids {
		uid, ppid, cmd := describeProcess(pid)
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", uid, pid, ppid, cmd)
	}
	return w.Flush()
}

// describeProcess reads a process's uid, parent and command line from /proc.
func describeProcess(pid int) (uid, ppid, cmd string) {
	dir := "/proc/" + strconv.Itoa(pid)
	status, _ := os.ReadFile(dir + "/status")
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Uid:" {
			uid = f[1]
		}
		if len(f) >= 2 && f[0] == "PPid:" {
			ppid = f[1]
		}
	}
	raw, _ := os.ReadFile(dir + "/cmdline")
	cmd = strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
	return uid, ppid, cmd
}
