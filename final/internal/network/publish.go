// Published ports: the -p flag's grammar, as Docker spells it, turned
// into PortMapping values. Parsing is pure; choosing a free host port for
// "-p 80" and checking that a host port is free happen in Allocate, under
// the state's lock, where the answer cannot go stale before it is used.
//
//	80                 container port 80, on a host port chosen by Allocate
//	8080:80            host port 8080 to container port 80, TCP
//	8080:80/udp        the same, UDP
//	127.0.0.1:8080:80  only on the host address 127.0.0.1
//	127.0.0.1::80      on 127.0.0.1, host port chosen
//	8000-8001:80-81    8000 to 80 and 8001 to 81

package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortMapping is one published port: traffic to HostPort (on HostIP, or
// on every host address if HostIP is empty) goes to ContainerPort.
type PortMapping struct {
	HostIP        string `json:"HostIP,omitempty"`
	HostPort      uint16 // 0 until Allocate has chosen one
	ContainerPort uint16
	Proto         string // "tcp" or "udp"
}

// publishUsage is the -p grammar, quoted in errors.
const publishUsage = "want [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. 8080:80"

// String spells a mapping as -p takes it, e.g. 127.0.0.1:8080:80/tcp.
func (m PortMapping) String() string {
	s := fmt.Sprintf("%d:%d/%s", m.HostPort, m.ContainerPort, m.Proto)
	if m.HostIP != "" {
		s = m.HostIP + ":" + s
	}
	return s
}

// ParsePublish reads one -p value into its mappings (several for a port
// range); the caller names the flag in its own error.
func ParsePublish(spec string) ([]PortMapping, error) {
	ports, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	} else if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("invalid protocol %q in %q: want tcp or udp", proto, spec)
	}
	if strings.HasPrefix(ports, "[") {
		return nil, fmt.Errorf("IPv6 host address in %q: containers get IPv4 only", spec)
	}
	parts := strings.Split(ports, ":")
	var hostIP, hostPorts, containerPorts string
	switch len(parts) {
	case 1:
		containerPorts = parts[0]
	case 2:
		hostPorts, containerPorts = parts[0], parts[1]
	case 3:
		hostIP, hostPorts, containerPorts = parts[0], parts[1], parts[2]
	default:
		return nil, fmt.Errorf("too many colons in %q: %s", spec, publishUsage)
	}
	if err := checkHostIP(hostIP); err != nil {
		return nil, err
	}
	if containerPorts == "" {
		return nil, fmt.Errorf("missing container port in %q: %s", spec, publishUsage)
	}
	return mappings(hostIP, hostPorts, containerPorts, proto)
}

// checkHostIP accepts an empty host address (every one) or an IPv4 address.
func checkHostIP(ip string) error {
	if ip == "" {
		return nil
	}
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		return fmt.Errorf("invalid host IP %q: want an IPv4 address such as 127.0.0.1", ip)
	}
	return nil
}

// mappings pairs host ports with container ports, range with range.
func mappings(hostIP, hostPorts, containerPorts, proto string) ([]PortMapping, error) {
	cLo, cHi, err := parseRange(containerPorts, "container")
	if err != nil {
		return nil, err
	}
	var hLo, hHi uint16 // 0: Allocate chooses
	if hostPorts != "" {
		if hLo, hHi, err = parseRange(hostPorts, "host"); err != nil {
			return nil, err
		}
		if hHi-hLo != cHi-cLo {
			return nil, fmt.Errorf("host ports %s and container ports %s differ in number: give as many of each", hostPorts, containerPorts)
		}
	}
	var ms []PortMapping
	for i := 0; i <= int(cHi-cLo); i++ {
		m := PortMapping{HostIP: hostIP, ContainerPort: cLo + uint16(i), Proto: proto}
		if hLo != 0 {
			m.HostPort = hLo + uint16(i)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseRange reads a port, 80, or a range of ports, 8000-8010.
func parseRange(s, what string) (lo, hi uint16, err error) {
	first, last, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(first, what); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parsePort(last, what); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("invalid %s port range %s: the first port is above the last", what, s)
	}
	return lo, hi, nil
}

// parsePort reads one port number, 1 to 65535.
func parsePort(s, what string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("missing %s port: %s", what, publishUsage)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid %s port %s: ports are 1-65535", what, s)
	}
	return uint16(n), nil
}
