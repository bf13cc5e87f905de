//go:build linux

// The container's /etc/resolv.conf, /etc/hosts and /etc/hostname. As
// Docker does, the host side writes them for each container into a
// directory of its own (a temporary one, removed afterwards), which does
// not change the image. run() stacks that directory as the top read-only
// layer of the overlay (step 06), so the container sees these files over
// the image's; a commit (step 08) takes only the writable layer, so they
// never end up in an image.
//
// resolv.conf is the host's, less what cannot work from inside. A host
// running systemd-resolved names 127.0.0.53 there: an address on the
// host's loopback, which is not the container's loopback, since each
// network namespace has its own. Then the container gets the upstream
// servers that systemd-resolved itself asks, listed in
// /run/systemd/resolve/resolv.conf; failing those, public resolvers, as
// Docker does. The container has IPv4 only, so IPv6 servers are left out.

package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// systemdResolvConf lists the servers systemd-resolved asks upstream.
const systemdResolvConf = "/run/systemd/resolve/resolv.conf"

// publicResolvers are the last resort when the host names no usable server.
var publicResolvers = []string{"1.1.1.1", "8.8.8.8"}

// writeEtcFiles writes the container's resolv.conf, hosts and hostname
// into DIR/etc, for a new directory DIR, and returns DIR.
func writeEtcFiles(hostname string, addr netip.Addr) (string, error) {
	dir, err := lockedTempDir("minidocker-etc-")
	if err != nil {
		return "", fmt.Errorf("make a directory for the /etc files: %w", err)
	}
	// It is made 0700; root of a user namespace is not the host's root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		return dir, err
	}
	hostConf, _ := os.ReadFile("/etc/resolv.conf")
	upstream, _ := os.ReadFile(systemdResolvConf)
	resolv, why := resolvConf(string(hostConf), string(upstream))
	for name, content := range map[string]string{
		"resolv.conf": resolv,
		"hosts":       hostsFile(hostname, addr),
		"hostname":    hostname + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			return dir, fmt.Errorf("write %s: %w", name, err)
		}
	}
	host("wrote resolv.conf, hosts, hostname for the container in %s/etc, its top layer", dir)
	host("resolv.conf: %s", why)
	return dir, nil
}

// resolvConf makes the container's resolv.conf from the host's and
// systemd-resolved's upstream list, and says where its servers came from.
func resolvConf(hostConf, upstreamConf string) (content, why string) {
	servers, skipped, other := nameservers(hostConf)
	why = "the nameservers of the host's /etc/resolv.conf"
	if len(servers) == 0 && len(skipped) > 0 {
		why = fmt.Sprintf("the host's /etc/resolv.conf names only %s, which the container cannot reach (its loopback is its own, and it has no IPv6)", strings.Join(skipped, ", "))
		if servers, _, _ = nameservers(upstreamConf); len(servers) > 0 {
			why += ": using systemd-resolved's upstream servers from " + systemdResolvConf
		}
	}
	if len(servers) == 0 {
		servers = publicResolvers
		if len(skipped) == 0 {
			why = "the host's /etc/resolv.conf names no nameserver"
		}
		why += ": falling back to public resolvers " + strings.Join(publicResolvers, " and ") + ", as Docker does"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# written by %s: %s\n", stepName, why)
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
