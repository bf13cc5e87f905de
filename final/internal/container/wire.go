//go:build linux

// Wiring a container to its record: its stdio, its Spec, its /etc files
// and the network settings inspect shows.

package container

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/rootfs"
	"github.com/minidocker/minidocker/final/internal/state"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// wire makes the container's stdio: a terminal or pipes, copied into the
// log and, when attached, to the user.
func wire(c *state.Container, log *logFile, att *Attach) (Stdio, *streams, error) {
	st := &streams{}
	var stdout, stderr io.Writer
	if att != nil {
		stdout, stderr = att.Stdout, att.Stderr
	}
	if c.Config.Tty {
		master, slave, err := tty.OpenPty()
		if err != nil {
			return Stdio{}, nil, err
		}
		if att != nil && att.Terminal != nil {
			tty.CopyWinsize(att.Terminal, master)
			go followWinsize(att.Terminal, master)
		} else if size := c.HostConfig.ConsoleSize; size[0] > 0 && size[1] > 0 {
			_ = tty.SetWinsize(master, size[0], size[1]) // the API client's terminal, at create
		}
		if att != nil && att.Stdin != nil {
			go func() { _, _ = io.Copy(master, att.Stdin) }()
		}
		if att == nil && c.Config.OpenStdin {
			if st.stopStdin, err = serveStdin(log.dir(), master, false); err != nil {
				master.Close()
				slave.Close()
				return Stdio{}, nil, err
			}
		}
		st.Add(1)
		go func() { defer st.Done(); log.copyTerminal(master, stdout); master.Close() }()
		return Stdio{Stdin: slave, Stdout: slave, Stderr: slave, Tty: true}, st, nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return Stdio{}, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return Stdio{}, nil, err
	}
	stdio := Stdio{Stdout: outW, Stderr: errW}
	if att != nil && att.Stdin != nil && c.Config.OpenStdin {
		inR, inW, err := os.Pipe()
		if err != nil {
			return Stdio{}, nil, err
		}
		stdio.Stdin = inR
		go func() { _, _ = io.Copy(inW, att.Stdin); inW.Close() }()
	}
	if att == nil && c.Config.OpenStdin {
		if err := detachedStdin(c, log, st, &stdio); err != nil {
			return Stdio{}, nil, err
		}
	}
	st.Add(2)
	go func() { defer st.Done(); log.copyStream("stdout", outR, stdout); outR.Close() }()
	go func() { defer st.Done(); log.copyStream("stderr", errR, stderr); errR.Close() }()
	return stdio, st, nil
}

// detachedStdin gives a detached container with -i a stdin pipe fed
// from its attach socket (attach.go).
func detachedStdin(c *state.Container, log *logFile, st *streams, stdio *Stdio) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	if st.stopStdin, err = serveStdin(log.dir(), inW, c.Config.StdinOnce); err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	stdio.Stdin = inR
	return nil
}

// closeChildEnds closes the parent's copies of the child's stdio, so the
// copiers see EOF when the container closes its own.
func closeChildEnds(s Stdio) {
	seen := map[*os.File]bool{}
	for _, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		if f != nil && !seen[f] {
			seen[f] = true
			f.Close()
		}
	}
}

// followWinsize passes window size changes (SIGWINCH) on to the container's terminal.
func followWinsize(from, to *os.File) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	for range ch {
		tty.CopyWinsize(from, to)
	}
}

// spec turns a record into what the child side needs.
func (rt *Runtime) spec(c *state.Container, res *resources) *Spec {
	p := PathsIn(rt.State.Dir(c.ID))
	hc := c.HostConfig
	s := &Spec{
		Hostname: c.Config.Hostname, Root: p.Rootfs, Lower: c.Minidocker.Layers, Upper: p.Upper, Work: p.Work,
		Args: append([]string{c.Path}, c.Args...), Env: c.Config.Env, Cwd: c.Config.WorkingDir,
		User: c.Config.User, Tty: c.Config.Tty, Privileged: hc.Privileged, ReadOnly: hc.ReadonlyRootfs,
		Init: hc.Init, OwnNetwork: hc.NetworkMode != "host", EtcFiles: res.etc,
		CapAdd: hc.CapAdd, CapDrop: hc.CapDrop, Discard: hc.AutoRemove,
		NoNewPrivs: NoNewPrivileges(hc.SecurityOpt), SecurityOpt: hc.SecurityOpt,
	}
	for _, m := range c.Mounts {
		s.Volumes = append(s.Volumes, Volume{Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW})
	}
	return s
}

// NoNewPrivileges reports whether the security options ask for the
// no_new_privs bit, which PID 1 and every exec of the container must share.
// The last no-new-privileges option decides, as in Docker.
func NoNewPrivileges(securityOpt []string) bool {
	on := false
	for _, opt := range securityOpt {
		if set, ok, err := ParseNoNewPrivileges(opt); ok && err == nil {
			on = set
		}
	}
	return on
}

// ParseNoNewPrivileges reads a no-new-privileges option as Docker does:
// alone, or with "=" (or the older ":") and a boolean. ok is false when
// opt is another option; err is set when its value is not a boolean.
func ParseNoNewPrivileges(opt string) (set, ok bool, err error) {
	if opt == "no-new-privileges" {
		return true, true, nil
	}
	for _, sep := range []string{"=", ":"} {
		if v, found := strings.CutPrefix(opt, "no-new-privileges"+sep); found {
			if set, err = strconv.ParseBool(v); err != nil {
				return false, true, fmt.Errorf("--security-opt %q: give no-new-privileges, or no-new-privileges=true|false", opt)
			}
			return set, true, nil
		}
	}
	return false, false, nil
}

// writeEtcFiles writes the container's hostname, hosts and resolv.conf
// into its directory, returning which file goes where inside.
func writeEtcFiles(dir string, c *state.Container, ep *network.Endpoint) (map[string]string, error) {
	files, err := network.WriteEtcFiles(dir, c.Config.Hostname, network.Mode(c.HostConfig.NetworkMode), ep)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"/etc/hostname": files.Hostname, "/etc/hosts": files.Hosts, "/etc/resolv.conf": files.ResolvConf,
	}, nil
}

// publishedPorts reads the record's PortBindings back into mappings.
func publishedPorts(c *state.Container) ([]network.PortMapping, error) {
	var out []network.PortMapping
	for port, bindings := range c.HostConfig.PortBindings {
		number, proto, _ := strings.Cut(port, "/")
		cp, err := strconv.ParseUint(number, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", port, err)
		}
		for _, b := range bindings {
			hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
			out = append(out, network.PortMapping{HostIP: b.HostIP, HostPort: uint16(hp), ContainerPort: uint16(cp), Proto: proto})
		}
	}
	return out, nil
}

// networkSettings is an endpoint as inspect shows it.
func networkSettings(ep *network.Endpoint) state.NetworkSettings {
	ns := state.NetworkSettings{
		Bridge: ep.Bridge, Gateway: ep.Gateway, IPAddress: ep.IPAddress, IPPrefixLen: ep.IPPrefixLen,
		MacAddress: ep.MacAddress, Ports: map[string][]state.PortBinding{},
	}
	for _, p := range ep.Ports {
		key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
		hostIP := p.HostIP
		if hostIP == "" {
			hostIP = "0.0.0.0"
		}
		ns.Ports[key] = append(ns.Ports[key], state.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return ns
}

// maskedPaths are the paths inspect lists as masked and read-only.
func maskedPaths(privileged bool) (masked, readonly []string) {
	if privileged {
		return nil, nil
	}
	return rootfs.MaskedPaths, rootfs.ReadonlyPaths
}
