//go:build linux

// update: change a container's memory, CPU and pids limits, running or
// not (container.Runtime.Update), as docker update does. Only the flags
// given change; the others keep the container's values.

package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/state"
)

// updateCommand is the update verb.
var updateCommand = &command{
	name: "update", usage: "update [OPTIONS] CONTAINER [CONTAINER...]", short: "Update configuration of one or more containers",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		var f cgroups.Flags
		fs.StringVarP(&f.Memory, "memory", "m", "", "Memory limit, e.g. 64m")
		fs.StringVar(&f.MemorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
		fs.Int64VarP(&f.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
		fs.Var((*cpusValue)(&f.CPUs), "cpus", "Number of CPUs")
		fs.StringVar(&f.CpusetCPUs, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
		fs.Int64Var(&f.PidsLimit, "pids-limit", 0, "Tune container pids limit")
		return func(s *session, args []string) error {
			if len(args) == 0 {
				return usagef("requires at least 1 argument")
			}
			if f.Memory == "" && f.MemorySwap == "" && f.CPUShares == 0 && f.CPUs == 0 && f.CpusetCPUs == "" && f.PidsLimit == 0 {
				return usagef("you must provide one or more flags when using this command")
			}
			if err := s.open(); err != nil {
				return err
			}
			return eachLocked(s, args, func(c *state.Container) error { return updateLimits(s, c, f) })
		}
	},
}

// updateLimits merges the flags given over c's limits, checks them as
// run does and applies them. The caller holds c's lock.
func updateLimits(s *session, c *state.Container, given cgroups.Flags) error {
	old := c.HostConfig.Resources
	f := cgroups.Flags{CPUShares: old.CPUShares, CpusetCPUs: old.CpusetCPUs, CPUs: float64(old.NanoCPUs) / 1e9, PidsLimit: old.PidsLimit}
	if old.Memory > 0 {
		f.Memory = strconv.FormatInt(old.Memory, 10)
	}
	if old.MemorySwap != 0 {
		f.MemorySwap = strconv.FormatInt(old.MemorySwap, 10)
	}
	if given.Memory != "" {
		f.Memory = given.Memory
		if given.MemorySwap == "" && old.MemorySwap > 0 {
			f.MemorySwap = "" // docker's default again: swap as much as memory
		}
	}
	if given.MemorySwap != "" {
		f.MemorySwap = given.MemorySwap
	}
	if given.CPUShares != 0 {
		f.CPUShares = given.CPUShares
	}
	if given.CPUs != 0 {
		f.CPUs = given.CPUs
	}
	if given.CpusetCPUs != "" {
		f.CpusetCPUs = given.CpusetCPUs
	}
	if given.PidsLimit != 0 {
		f.PidsLimit = given.PidsLimit
	}
	r, err := cgroups.Parse(f)
	if err != nil {
		return invalidf("%v", err)
	}
	r.Devices, r.Files = old.Devices, old.Files
	return s.rt.Update(c, r)
}
