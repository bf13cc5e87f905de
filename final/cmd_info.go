//go:build linux

// info and version: what this minidocker is and what it runs on.

package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/network"
)

// Version is minidocker's version.
const Version = "0.1.0"

// versionCommand is the version verb.
var versionCommand = &command{
	name: "version", usage: "version", short: "Show the version",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error {
			fmt.Printf("minidocker version %s\nGo version:  %s\nOS/Arch:     %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		}
	},
}

// infoCommand is the info verb.
var infoCommand = &command{
	name: "info", usage: "info", short: "Show system-wide information",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runInfo(s) }
	},
}

// runInfo prints counts, cgroup version, storage and network.
func runInfo(s *session) error {
	if err := s.open(); err != nil {
		return err
	}
	list, err := s.containers()
	if err != nil {
		return err
	}
	running := 0
	for _, c := range list {
		if container.Running(c) {
			running++
		}
	}
	images, err := s.images.List()
	if err != nil {
		return err
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	version := 1
	if cgroups.IsV2() {
		version = 2
	}
	fmt.Printf("Containers: %d\n Running: %d\n Stopped: %d\nImages: %d\n", len(list), running, len(list)-running, len(images))
	fmt.Printf("Server Version: %s\nStorage Driver: overlay2\nDocker Root Dir: %s\n", Version, s.root)
	fmt.Printf("Cgroup Driver: cgroupfs\nCgroup Version: %d\nCgroup Parent: %s\n", version, s.cgroupParent)
	fmt.Printf("Network: bridge %s (%s), host, none\n", network.DefaultBridge, network.DefaultSubnet)
	fmt.Printf("Kernel Version: %s\nOperating System: %s\nArchitecture: %s\nCPUs: %d\n",
		unix.ByteSliceToString(uts.Release[:]), osName(), runtime.GOARCH, runtime.NumCPU())
	return nil
}

// osName reads PRETTY_NAME from /etc/os-release.
func osName() string {
	data, _ := os.ReadFile("/etc/os-release")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}
