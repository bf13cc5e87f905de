// Tests of the container's /etc files for each network mode, from host
// files in testdata. No root needed.

package network

import (
	"os"
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	cases := []struct {
		name, host, upstream string
		servers              []string
		why                  string
	}{
		{"usable", "nameserver 192.0.2.10\nnameserver 127.0.0.1\nsearch lan\n", "", []string{"192.0.2.10"}, "host's /etc/resolv.conf"},
		{"systemd-resolved", "nameserver 127.0.0.53\noptions edns0\n", "nameserver 192.0.2.1\nnameserver fe80::1%eth0\n", []string{"192.0.2.1"}, "upstream servers"},
		{"nothing upstream", "nameserver 127.0.0.53\n", "", publicResolvers, "public resolvers"},
		{"no file", "", "", publicResolvers, "names no nameserver"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content, why := resolvConf(c.host, c.upstream)
			servers, skipped, _ := nameservers(content)
			if strings.Join(servers, " ") != strings.Join(c.servers, " ") || len(skipped) > 0 || !strings.Contains(why, c.why) {
				t.Errorf("servers %v, skipped %v (%s); want %v and %q", servers, skipped, why, c.servers, c.why)
			}
			if strings.Contains(c.host, "search lan") && !strings.Contains(content, "\nsearch lan\n") {
				t.Errorf("the search line was lost:\n%s", content)
			}
		})
	}
}

func TestWriteEtcFiles(t *testing.T) {
	src := etcSources{"testdata/resolv-systemd.conf", "testdata/resolv-upstream.conf", "testdata/hosts"}
	ep := &Endpoint{IPAddress: "10.99.0.7"}
	cases := []struct {
		name        string
		mode        Mode
		ep          *Endpoint
		hosts       string // a line the hosts file must hold
		nameservers string
	}{
		{"bridge", ModeBridge, ep, "10.99.0.7\tbox\n", "192.0.2.1"},
		{"none", ModeNone, nil, "127.0.1.1\tbox\n", "192.0.2.1"},
		// The host's own resolver on 127.0.0.53 works: the container shares its loopback.
		{"host", ModeHost, nil, "127.0.1.1\tthe-host\n", "127.0.0.53"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := writeEtcFiles(dir, "box", c.mode, c.ep, src)
			if err != nil {
				t.Fatal(err)
			}
			hostname, _ := os.ReadFile(files.Hostname)
			hosts, _ := os.ReadFile(files.Hosts)
			resolv, _ := os.ReadFile(files.ResolvConf)
			usable, skipped, _ := nameservers(string(resolv))
			got := strings.Join(append(usable, skipped...), " ")
			if string(hostname) != "box\n" || !strings.Contains(string(hosts), c.hosts) || got != c.nameservers {
				t.Errorf("hostname %q, hosts %q, nameservers %q; want hosts with %q, nameservers %q", hostname, hosts, got, c.hosts, c.nameservers)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 3 {
				t.Errorf("%d files in %s, want 3: a temporary file was left", len(entries), dir)
			}
		})
	}
}
