// The container's /etc/hostname, /etc/hosts and /etc/resolv.conf. As
// Docker does, the runtime has them written into a directory of the
// container's own and binds each over the rootfs's file of that name, so
// that the image is not changed at run time. Each file is written to a
// temporary name and renamed, so a reader never sees half of one.
//
// With --network host the container shares the host's network, so it
// gets the host's hosts and resolv.conf as they are. Otherwise hosts
// names the container at its own address (127.0.1.1 without one, as
// Debian does), and resolv.conf is the host's, less what cannot work
// from inside: a host running systemd-resolved names 127.0.0.53 there,
// an address on the host's loopback, which is not the container's. Then
// the container gets the upstream servers that systemd-resolved itself
// asks (/run/systemd/resolve/resolv.conf); failing those, public
// resolvers, as Docker does. Containers have IPv4 only, so IPv6 servers
// are left out.

package network

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Mode is a container's network, as --network names it.
type Mode string

// The networks a container can have.
const (
	ModeBridge Mode = "bridge" // a veth pair on the bridge, with NAT: Allocate, Attach, Release
	ModeHost   Mode = "host"   // the host's own network namespace
	ModeNone   Mode = "none"   // a network namespace with loopback only
)

// ParseMode reads a --network value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeBridge, ModeHost, ModeNone:
		return m, nil
	}
	return "", fmt.Errorf("invalid network %q: want bridge, host or none", s)
}

// EtcFiles are the paths of the files WriteEtcFiles wrote, to bind over
// the container's /etc/hostname, /etc/hosts and /etc/resolv.conf.
type EtcFiles struct {
	Hostname, Hosts, ResolvConf string
	ResolvSource                string // where resolv.conf's servers came from, for a debug line
}

// etcSources are the host's files the container's are made from.
type etcSources struct {
	resolvConf, upstreamResolvConf, hosts string
}

// hostEtc are the host's files.
var hostEtc = etcSources{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf", "/etc/hosts"}

// publicResolvers are the last resort when the host names no usable server.
var publicResolvers = []string{"1.1.1.1", "8.8.8.8"}

// WriteEtcFiles writes hostname, hosts and resolv.conf for a container
// with network mode into dir, creating it; ep is the container's
// endpoint with ModeBridge, and nil otherwise.
func WriteEtcFiles(dir, hostname string, mode Mode, ep *Endpoint) (EtcFiles, error) {
	return writeEtcFiles(dir, hostname, mode, ep, hostEtc)
}

// writeEtcFiles is WriteEtcFiles, reading the host's files from src.
func writeEtcFiles(dir, hostname string, mode Mode, ep *Endpoint, src etcSources) (EtcFiles, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return EtcFiles{}, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	var addr netip.Addr
	if ep != nil {
		addr, _ = netip.ParseAddr(ep.IPAddress)
	}
	hostConf, _ := os.ReadFile(src.resolvConf)
	upstream, _ := os.ReadFile(src.upstreamResolvConf)
	resolv, why := resolvConf(string(hostConf), string(upstream))
	hosts := hostsFile(hostname, addr)
	if mode == ModeHost {
		resolv, why, hosts = hostCopies(src, resolv, why, hosts)
	}
	files := EtcFiles{
		Hostname:     filepath.Join(dir, "hostname"),
		Hosts:        filepath.Join(dir, "hosts"),
		ResolvConf:   filepath.Join(dir, "resolv.conf"),
		ResolvSource: why,
	}
	for path, content := range map[string]string{files.Hostname: hostname + "\n", files.Hosts: hosts, files.ResolvConf: resolv} {
		if err := writeFileAtomic(path, []byte(content), 0o644); err != nil {
			return EtcFiles{}, err
		}
	}
	return files, nil
}

// hostCopies are the host's resolv.conf and hosts as they are, for a
// container on the host's network; where one is missing, the fallback.
func hostCopies(src etcSources, resolv, why, hosts string) (string, string, string) {
	if data, err := os.ReadFile(src.resolvConf); err == nil {
		resolv, why = string(data), "the host's "+src.resolvConf+", as it is: the container shares the host's network"
	}
	if data, err := os.ReadFile(src.hosts); err == nil {
		hosts = string(data)
	}
	return resolv, why, hosts
}

// resolvConf makes the container's resolv.conf from the host's and
// systemd-resolved's upstream list, and says where its servers came from.
func resolvConf(hostConf, upstreamConf string) (content, why string) {
	servers, skipped, other := nameservers(hostConf)
	why = "the nameservers of the host's /etc/resolv.conf"
	if len(servers) == 0 && len(skipped) > 0 {
		why = fmt.Sprintf("the host's /etc/resolv.conf names only %s, which a container cannot reach", strings.Join(skipped, ", "))
		if servers, _, _ = nameservers(upstreamConf); len(servers) > 0 {
			why += ": using systemd-resolved's upstream servers"
		}
	}
	if len(servers) == 0 {
		servers = publicResolvers
		if len(skipped) == 0 {
			why = "the host's /etc/resolv.conf names no nameserver"
		}
		why += ": falling back to public resolvers " + strings.Join(publicResolvers, " and ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# written by minidocker: %s\n", why)
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	for _, line := range other {
		fmt.Fprintln(&b, line)
	}
	return b.String(), why
}

// nameservers reads a resolv.conf: the IPv4 servers a container can use,
// those it cannot (loopback, IPv6), and its search and options lines.
func nameservers(conf string) (usable, skipped, other []string) {
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";"):
		case f[0] == "nameserver" && len(f) > 1:
			addr, err := netip.ParseAddr(f[1])
			if err == nil && addr.Is4() && !addr.IsLoopback() {
				usable = append(usable, f[1])
			} else {
				skipped = append(skipped, f[1])
			}
		case f[0] == "search" || f[0] == "domain" || f[0] == "options":
			other = append(other, strings.Join(f, " "))
		}
	}
	return usable, skipped, other
}

// hostsFile is the container's /etc/hosts: localhost, and its own name
// at its own address (at 127.0.1.1 without one, as Debian does).
func hostsFile(hostname string, addr netip.Addr) string {
	own := "127.0.1.1"
	if addr.IsValid() {
		own = addr.String()
	}
	return fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", own, hostname)
}

// writeFileAtomic writes data to a temporary file beside path and
// renames it over path, so that a reader sees the old file or the new.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing of that name
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return nil
}
