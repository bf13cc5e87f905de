//go:build linux

// The bridge network of a rootless container: slirp4netns (internal/slirp)
// in place of the bridge, veth and NAT, which need root.

package container

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/slirp"
	"github.com/minidocker/minidocker/final/internal/state"
)

// userNetwork reports whether c gets a user-mode network: a rootless
// runtime's bridge.
func (rt *Runtime) userNetwork(c *state.Container) bool {
	return rt.Rootless && c.HostConfig.NetworkMode == "bridge"
}

// userPorts are c's published ports, each -p without a host port given
// a free one, as Docker chooses one.
func userPorts(c *state.Container) ([]network.PortMapping, error) {
	ports, err := publishedPorts(c)
	for i := range ports {
		if err != nil || ports[i].HostPort != 0 {
			continue
		}
		var l net.Listener
		if l, err = net.Listen(ports[i].Proto+"4", net.JoinHostPort(ports[i].HostIP, "0")); err == nil {
			ports[i].HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
			l.Close()
		}
	}
	return ports, err
}

// startUserNetwork starts slirp4netns for the container whose first
// process is pid, its API socket in the runtime directory.
func (rt *Runtime) startUserNetwork(c *state.Container, pid int, ports []network.PortMapping) (*slirp.Net, error) {
	if rt.RuntimeDir == "" {
		return nil, fmt.Errorf("no runtime directory for slirp4netns's socket")
	}
	return slirp.Start(pid, rt.slirpSocket(c.ID), ports)
}

// slirpSocket is the path of slirp4netns's API socket for container id.
func (rt *Runtime) slirpSocket(id string) string {
	return filepath.Join(rt.RuntimeDir, "slirp-"+state.Short(id)+".sock")
}

// userResolvConf points a user-mode network's container at slirp4netns's
// DNS forwarder: the host's own servers may be on its loopback
// (systemd-resolved's 127.0.0.53), which the container cannot reach.
func userResolvConf(path string) error {
	if err := os.WriteFile(path, []byte("# written by minidocker: slirp4netns's DNS forwarder\nnameserver "+slirp.DNS+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// userNetworkSettings is a user-mode network as inspect shows it.
func userNetworkSettings(ports []network.PortMapping) state.NetworkSettings {
	ns := state.NetworkSettings{Gateway: slirp.Gateway, IPAddress: slirp.Guest, IPPrefixLen: 24, Ports: map[string][]state.PortBinding{}}
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		hostIP := p.HostIP
		if hostIP == "" {
			hostIP = "0.0.0.0"
		}
		ns.Ports[key] = append(ns.Ports[key], state.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return ns
}
