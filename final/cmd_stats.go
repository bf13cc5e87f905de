//go:build linux

// stats: CPU, memory and pids of running containers, read from their
// cgroups. CPU % is measured over a short interval, as docker stats does:
// the cgroup's CPU time used in it, over the wall time.

package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// statsCommand is the stats verb.
var statsCommand = &command{
	name: "stats", usage: "stats [OPTIONS] [CONTAINER...]", short: "Show containers' resource usage",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		fs.Bool("no-stream", false, "print once and exit (the only mode minidocker has)")
		return func(s *session, args []string) error { return runStats(s, args) }
	},
}

// statsTargets are the containers args name, or all running ones.
func statsTargets(s *session, args []string) ([]*state.Container, error) {
	var list []*state.Container
	for _, ref := range args {
		c, err := s.rt.Find(ref)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	if len(args) > 0 {
		return list, nil
	}
	all, err := s.containers()
	for _, c := range all {
		if container.Running(c) {
			list = append(list, c)
		}
	}
	return list, err
}

// runStats samples each container's cgroup twice and prints the usage.
func runStats(s *session, args []string) error {
	if err := s.open(); err != nil {
		return err
	}
	list, err := statsTargets(s, args)
	if err != nil {
		return err
	}
	managers := make([]cgroups.Manager, len(list))
	first := make([]cgroups.Stats, len(list))
	for i, c := range list {
		managers[i] = s.rt.Cgroup(c)
		first[i], _ = managers[i].Stats()
	}
	const interval = 500 * time.Millisecond
	time.Sleep(interval)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
	for i, c := range list {
		s, _ := managers[i].Stats()
		cpu := float64(s.CPUNanos-first[i].CPUNanos) / float64(interval.Nanoseconds()) * 100
		limit, memPct := "unlimited", "--"
		if s.MemoryLimit > 0 {
			limit = humanBytes(int64(s.MemoryLimit))
			memPct = fmt.Sprintf("%.2f%%", float64(s.MemoryUsage)/float64(s.MemoryLimit)*100)
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%s\t%d\n", state.Short(c.ID), c.Name, cpu, humanBytes(int64(s.MemoryUsage)), limit, memPct, s.Pids)
	}
	return w.Flush()
}

// humanBytes says a size as docker does: 1.5MiB.
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
