//go:build linux

// Package slirp gives a rootless container a network without root:
// slirp4netns (Debian's package), a user-mode TCP/IP stack. It joins the
// container's network namespace, makes a tap device there (tap0,
// 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3), and turns each
// connection the container makes into an ordinary socket of its own, on
// the side of the user who started it. A published port is a listening
// socket of slirp4netns's that it forwards into the container: asked for
// through its API socket (add_hostfwd). --disable-host-loopback keeps the
// container from reaching the user's 127.0.0.1 through the gateway.
package slirp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/minidocker/minidocker/final/internal/network"
)

// Guest is the container's address on the user-mode network, and
// Gateway its way out.
// Gateway its way out, DNS slirp4netns's forwarder to the user's servers.
const (
	Guest   = "10.0.2.100"
	Gateway = "10.0.2.2"
	DNS     = "10.0.2.3"
)

// readyTimeout bounds the wait for slirp4netns to configure the tap device.
const readyTimeout = 10 * time.Second

// Net is a running slirp4netns.
type Net struct {
	cmd   *exec.Cmd
	exitW *os.File // closing it tells slirp4netns to exit (--exit-fd)
	api   string
}

// Start starts slirp4netns for the network namespace of pid, with its
// API socket at api, and publishes ports. It dies with the calling thread
// (PR_SET_PDEATHSIG) and when Stop closes its exit pipe.
func Start(pid int, api string, ports []network.PortMapping) (*Net, error) {
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		return nil, fmt.Errorf("slirp4netns is missing: a rootless container's default network needs it (Debian: apt-get install slirp4netns), or run with --network none or host")
	}
	_ = os.Remove(api)
	var stderr bytes.Buffer
	cmd := exec.Command(path, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--api-socket", api, "--ready-fd=3", "--exit-fd=4", strconv.Itoa(pid), "tap0")
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n, ready, err := start(cmd, api)
	if err != nil {
		return nil, err
	}
	defer ready.Close()
	if err := waitReady(ready); err != nil {
		n.Stop()
		return nil, fmt.Errorf("slirp4netns for pid %d: %w: %s", pid, err, bytes.TrimSpace(stderr.Bytes()))
	}
	for _, p := range ports {
		if err := n.addHostfwd(p); err != nil {
			n.Stop()
			return nil, err
		}
	}
	return n, nil
}

// start starts cmd with its ready pipe as fd 3 and its exit pipe as fd
// 4; it returns the read end of the first.
func start(cmd *exec.Cmd, api string) (*Net, *os.File, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	defer readyW.Close()
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		return nil, nil, err
	}
	defer exitR.Close()
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	if err := cmd.Start(); err != nil {
		readyR.Close()
		exitW.Close()
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return &Net{cmd: cmd, exitW: exitW, api: api}, readyR, nil
}

// waitReady waits for the byte slirp4netns writes on --ready-fd once
// the tap device is configured.
func waitReady(r *os.File) error {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		_, err := r.Read(buf)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("it exited before the network was ready")
		}
		return nil
	case <-time.After(readyTimeout):
		return fmt.Errorf("the network was not ready after %v", readyTimeout)
	}
}

// hostfwd is the add_hostfwd request of slirp4netns's API.
type hostfwd struct {
	Execute   string `json:"execute"`
	Arguments struct {
		Proto     string `json:"proto"`
		HostAddr  string `json:"host_addr,omitempty"`
		HostPort  uint16 `json:"host_port"`
		GuestAddr string `json:"guest_addr"`
		GuestPort uint16 `json:"guest_port"`
	} `json:"arguments"`
}

// addHostfwd asks slirp4netns to listen on the mapping's host address and
// port and forward to the container's port.
func (n *Net) addHostfwd(p network.PortMapping) error {
	var req hostfwd
	req.Execute = "add_hostfwd"
	req.Arguments.Proto, req.Arguments.HostAddr, req.Arguments.HostPort = p.Proto, p.HostIP, p.HostPort
	req.Arguments.GuestAddr, req.Arguments.GuestPort = Guest, p.ContainerPort
	c, err := net.Dial("unix", n.api)
	if err != nil {
		return fmt.Errorf("slirp4netns's API socket %s: %w", n.api, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(readyTimeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("publish %s through slirp4netns: %w", p, err)
	}
	_ = c.(*net.UnixConn).CloseWrite()
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("publish %s through slirp4netns: no answer: %w", p, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("publish %s through slirp4netns: %s", p, resp.Error.Desc)
	}
	return nil
}

// Stop ends slirp4netns and removes its API socket.
func (n *Net) Stop() error {
	if n == nil {
		return nil
	}
	n.exitW.Close()
	_ = n.cmd.Process.Kill()
	err := n.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // killed, as asked
	}
	if rmErr := os.Remove(n.api); rmErr != nil && !os.IsNotExist(rmErr) {
		err = errors.Join(err, rmErr)
	}
	return err
}
