//go:build linux

// port: a container's published ports, as docker port prints them from
// inspect's NetworkSettings.Ports ("80/tcp -> 0.0.0.0:8080").

package main

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// portCommand is the port verb.
var portCommand = &command{
	name: "port", usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]", short: "List port mappings or a specific mapping for the container",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		return func(s *session, args []string) error { return runPort(s, args) }
	},
}

// runPort prints every mapping, or the host addresses of one port.
func runPort(s *session, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usagef("requires at least 1 and at most 2 arguments")
	}
	if err := s.open(); err != nil {
		return err
	}
	c, err := s.rt.Find(args[0])
	if err != nil {
		return err
	}
	ports := c.NetworkSettings.Ports
	if len(args) == 2 {
		port := args[1]
		if !strings.Contains(port, "/") {
			port += "/tcp"
		}
		if len(ports[port]) == 0 {
			return fmt.Errorf("No public port '%s' published for %s", port, args[0])
		}
		for _, b := range ports[port] {
			fmt.Println(net.JoinHostPort(b.HostIP, b.HostPort))
		}
		return nil
	}
	var lines []string
	for port, bindings := range ports {
		for _, b := range bindings {
			lines = append(lines, port+" -> "+net.JoinHostPort(b.HostIP, b.HostPort))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}
