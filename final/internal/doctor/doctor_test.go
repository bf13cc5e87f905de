//go:build linux

package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeSystem is a healthy cgroup v2 host under a temporary root; tests
// break one thing each.
func fakeSystem(t *testing.T) (system, map[string]int64) {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"proc/sys/user/max_user_namespaces":    "15000",
		"proc/sys/net/ipv4/ip_forward":         "0",
		"proc/filesystems":                     "nodev\tproc\nnodev\toverlay\n\text4",
		"sys/fs/cgroup/cgroup.controllers":     "cpuset cpu io memory hugetlb pids",
		"sys/fs/cgroup/cgroup.subtree_control": "",
		"sys/fs/cgroup/cgroup.procs":           "1\n2",
	}
	for _, ns := range namespaceTypes {
		files["proc/self/ns/"+ns.name] = ""
	}
	for name, content := range files {
		writeFile(t, filepath.Join(root, name), content)
	}
	types := map[string]int64{
		filepath.Join(root, "sys/fs/cgroup"): unix.CGROUP2_SUPER_MAGIC,
	}
	s := system{
		root:     root,
		euid:     func() int { return 0 },
		release:  func() string { return "6.8.0-45-generic" },
		getenv:   func(string) string { return "" },
		lookPath: func(string) (string, error) { return "/usr/local/bin/go", nil },
		netProbe: func() netResult { return netResult{} },
		fsType: func(path string) (int64, error) {
			if typ, ok := types[path]; ok {
				return typ, nil
			}
			return unix.EXT4_SUPER_MAGIC, nil
		},
	}
	return s, types
}

// writeFile writes content to path, making its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// find returns the check named name.
func find(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check named %q", name)
	return Check{}
}

func TestHealthyHostPassesEveryCheck(t *testing.T) {
	s, _ := fakeSystem(t)
	for _, c := range s.run("/var/lib/minidocker") {
		if !c.OK {
			t.Errorf("%s: not OK on a healthy host: %s", c.Name, c.Detail)
		}
	}
}

func TestEachProblemIsFoundWithItsFix(t *testing.T) {
	tests := []struct {
		name      string
		check     string
		breakIt   func(t *testing.T, s *system, types map[string]int64)
		wantInFix string
	}{
		{"old kernel", "kernel version", func(t *testing.T, s *system, _ map[string]int64) {
			s.release = func() string { return "4.9.0-8-amd64" }
		}, "4.15"},
		{"no user namespaces in the kernel", "user namespace", func(t *testing.T, s *system, _ map[string]int64) {
			os.Remove(filepath.Join(s.root, "proc/self/ns/user"))
		}, "CONFIG_USER_NS"},
		{"pid namespaces switched off", "pid namespace", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "proc/sys/user/max_pid_namespaces"), "0")
		}, "user.max_pid_namespaces"},
		{"Debian's switch", "unprivileged user namespaces", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "proc/sys/kernel/unprivileged_userns_clone"), "0")
		}, "kernel.unprivileged_userns_clone=1"},
		{"Ubuntu 24.04's AppArmor restriction", "unprivileged user namespaces", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "proc/sys/kernel/apparmor_restrict_unprivileged_userns"), "1")
		}, "apparmor_restrict_unprivileged_userns=0"},
		{"v2 controller held by v1", "cgroups", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "sys/fs/cgroup/cgroup.controllers"), "cpu io memory pids")
		}, "systemd.unified_cgroup_hierarchy=1"},
		{"v2 inside a container, controllers not delegable", "cgroups", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "sys/fs/cgroup/cgroup.type"), "domain")
		}, "cgroup.subtree_control"},
		{"v1 without a pids hierarchy", "cgroups", func(t *testing.T, s *system, types map[string]int64) {
			types[filepath.Join(s.root, "sys/fs/cgroup")] = unix.TMPFS_MAGIC
			var mounts []string
			for _, c := range []string{"cpu,cpuacct", "cpuset", "blkio", "memory"} {
				mounts = append(mounts, "30 25 0:26 / /sys/fs/cgroup/"+c+" rw shared:9 - cgroup cgroup rw,"+c)
			}
			writeFile(t, filepath.Join(s.root, "proc/self/mountinfo"), strings.Join(mounts, "\n"))
		}, "-o pids"},
		{"no overlay", "overlayfs", func(t *testing.T, s *system, _ map[string]int64) {
			writeFile(t, filepath.Join(s.root, "proc/filesystems"), "nodev\tproc\n\text4")
			writeFile(t, filepath.Join(s.root, "lib/modules/6.8.0-45-generic/kernel/fs/overlayfs/overlay.ko.zst"), "")
		}, "modprobe overlay"},
		{"state on a vboxsf shared folder", "state directory for overlay", func(t *testing.T, s *system, types map[string]int64) {
			os.MkdirAll(filepath.Join(s.root, "vagrant"), 0o755)
			types[filepath.Join(s.root, "vagrant")] = 0x786f4256
		}, "MINIDOCKER_ROOT="},
		{"TMPDIR on 9p", "temporary directory for overlay", func(t *testing.T, s *system, types map[string]int64) {
			os.MkdirAll(filepath.Join(s.root, "mnt/share"), 0o755)
			types[filepath.Join(s.root, "mnt/share")] = 0x01021997
			s.getenv = func(name string) string {
				if name == "TMPDIR" {
					return "/mnt/share/tmp"
				}
				return ""
			}
		}, "TMPDIR=/var/tmp"},
		{"no veth module", "veth", func(t *testing.T, s *system, _ map[string]int64) {
			s.netProbe = func() netResult { return netResult{veth: errors.New("operation not supported")} }
		}, "modprobe veth"},
		{"no nftables, not root", "nftables (NAT)", func(t *testing.T, s *system, _ map[string]int64) {
			s.netProbe = func() netResult { return netResult{namespace: unix.EPERM} }
			writeFile(t, filepath.Join(s.root, "sys/module/bridge/refcnt"), "0")
			writeFile(t, filepath.Join(s.root, "sys/module/veth/refcnt"), "0")
		}, "modprobe nf_tables"},
		{"the sudo PATH trap", "go on sudo's PATH", func(t *testing.T, s *system, _ map[string]int64) {
			s.getenv = func(name string) string {
				return map[string]string{"SUDO_USER": "vagrant", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}[name]
			}
			s.lookPath = func(string) (string, error) { return "", errors.New("not found") }
		}, `sudo env "PATH=$PATH"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, types := fakeSystem(t)
			tt.breakIt(t, &s, types)
			state := "/var/lib/minidocker"
			if tt.name == "state on a vboxsf shared folder" {
				state = "/vagrant/state"
			}
			checks := s.run(state)
			c := find(t, checks, tt.check)
			if c.OK {
				t.Fatalf("%s: OK, want a problem (%s)", c.Name, c.Detail)
			}
			if !strings.Contains(c.Fix, tt.wantInFix) {
				t.Errorf("%s: fix %q does not say %q", c.Name, c.Fix, tt.wantInFix)
			}
			for _, other := range checks {
				if !other.OK && other.Name != tt.check {
					t.Errorf("%s: not OK too (%s)", other.Name, other.Detail)
				}
			}
		})
	}
}

func TestModulesWithoutRootAreFoundOnDisk(t *testing.T) {
	s, _ := fakeSystem(t)
	s.netProbe = func() netResult { return netResult{namespace: unix.EPERM} }
	writeFile(t, filepath.Join(s.root, "sys/module/bridge/refcnt"), "0")
	writeFile(t, filepath.Join(s.root, "lib/modules/6.8.0-45-generic/kernel/drivers/net/veth.ko.zst"), "")
	writeFile(t, filepath.Join(s.root, "lib/modules/6.8.0-45-generic/modules.builtin"), "kernel/net/netfilter/nf_tables.ko\n")
	for _, name := range []string{"bridge", "veth", "nftables (NAT)"} {
		if c := find(t, s.run("/var/lib/minidocker"), name); !c.OK {
			t.Errorf("%s: not OK: %s", name, c.Detail)
		}
	}
}

func TestKernelVersions(t *testing.T) {
	tests := []struct {
		release string
		ok      bool
		lacks   string
	}{
		{"6.8.0-45-generic", true, ""},
		{"5.4.0-150-generic", true, "openat2"},
		{"5.10.0-28-amd64", true, "overlayfs inside a user namespace"},
		{"4.14.336", false, "cpu controller"},
		{"garbage", false, ""},
	}
	for _, tt := range tests {
		s, _ := fakeSystem(t)
		s.release = func() string { return tt.release }
		c := s.checkKernel()
		if c.OK != tt.ok || !strings.Contains(c.Detail, tt.lacks) || (tt.lacks == "" && strings.Contains(c.Detail, "lacks")) {
			t.Errorf("%s: OK %v, detail %q; want OK %v naming %q", tt.release, c.OK, c.Detail, tt.ok, tt.lacks)
		}
		if !c.OK && c.Fix == "" {
			t.Errorf("%s: no fix", tt.release)
		}
	}
}

// TestRunOnThisMachine runs the real checks: every one has a name, and
// every one that is not OK has a fix. The network probe runs in a
// namespace of its own, so the host is untouched.
func TestRunOnThisMachine(t *testing.T) {
	before, _ := os.ReadFile("/proc/net/dev")
	checks := Run(t.TempDir())
	if len(checks) < 10 {
		t.Fatalf("only %d checks", len(checks))
	}
	for _, c := range checks {
		if c.Name == "" || c.Detail == "" {
			t.Errorf("a check without a name or detail: %+v", c)
		}
		if !c.OK && c.Fix == "" {
			t.Errorf("%s: not OK and no fix: %s", c.Name, c.Detail)
		}
	}
	if after, _ := os.ReadFile("/proc/net/dev"); strings.Contains(string(after), "doctor") && !strings.Contains(string(before), "doctor") {
		t.Errorf("the network probe left links on the host:\n%s", after)
	}
}

// rootlessSystem is a healthy host for uid 1000 (alice): a setuid
// newuidmap and newgidmap, subordinate ranges, XDG_RUNTIME_DIR, a
// delegated cgroup v2 parent, slirp4netns, nsenter.
func rootlessSystem(t *testing.T) system {
	t.Helper()
	skipUnlessRoot(t) // chown of the fake files
	s, _ := fakeSystem(t)
	s.euid = func() int { return 1000 }
	s.username = func(int) string { return "alice" }
	s.lookPath = func(name string) (string, error) { return "/usr/bin/" + name, nil }
	for _, name := range []string{"newuidmap", "newgidmap"} {
		path := filepath.Join(s.root, "usr/bin", name)
		writeFile(t, path, "")
		if err := unix.Chmod(path, 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(s.root, "etc/subuid"), "alice:100000:65536\n")
	writeFile(t, filepath.Join(s.root, "dev/net/tun"), "")
	writeFile(t, filepath.Join(s.root, "etc/subgid"), "1000:100000:65536\n")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(s.root, "run/user/1000"), 0o700))
	must(os.Chown(filepath.Join(s.root, "run/user/1000"), 1000, 1000))
	writeFile(t, filepath.Join(s.root, "proc/self/cgroup"), "0::/user.slice/user@1000.service/app.slice/me.scope\n")
	deleg := filepath.Join(s.root, "sys/fs/cgroup/user.slice/user@1000.service/app.slice")
	writeFile(t, filepath.Join(deleg, "cgroup.procs"), "")
	writeFile(t, filepath.Join(deleg, "cgroup.controllers"), "cpu memory pids")
	must(os.Chown(filepath.Join(deleg, "cgroup.procs"), 1000, 1000))
	s.getenv = func(name string) string {
		return map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}[name]
	}
	return s
}

// skipUnlessRoot skips a test that needs root.
func skipUnlessRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// TestRootlessChecks checks a healthy rootless host passes, and that each
// thing rootless needs, broken, is found with its fix.
func TestRootlessChecks(t *testing.T) {
	for _, c := range rootlessSystem(t).run(t.TempDir()) {
		if !c.OK {
			t.Errorf("%s: not OK on a healthy rootless host: %s", c.Name, c.Detail)
		}
	}
	tests := []struct {
		name, check, wantInFix string
		breakIt                func(t *testing.T, s *system)
	}{
		{"newuidmap not setuid", "newuidmap", "chmod u+s", func(t *testing.T, s *system) {
			unix.Chmod(filepath.Join(s.root, "usr/bin/newuidmap"), 0o755)
		}},
		{"newgidmap missing", "newgidmap", "apt-get install uidmap", func(t *testing.T, s *system) {
			s.lookPath = func(name string) (string, error) { return "", errors.New("not found") }
		}},
		{"no subuid entry", "/etc/subuid", "usermod --add-subuids", func(t *testing.T, s *system) {
			writeFile(t, filepath.Join(s.root, "etc/subuid"), "bob:100000:65536\n")
		}},
		{"a small subgid range", "/etc/subgid", "usermod", func(t *testing.T, s *system) {
			writeFile(t, filepath.Join(s.root, "etc/subgid"), "alice:100000:1000\n")
		}},
		{"no XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR", "0700", func(t *testing.T, s *system) {
			s.getenv = func(string) string { return "" }
		}},
		{"old kernel", "overlay in a user namespace", "5.11", func(t *testing.T, s *system) {
			s.release = func() string { return "5.10.0-20-amd64" }
		}},
		{"no delegation", "delegated cgroup", "Delegate=yes", func(t *testing.T, s *system) {
			writeFile(t, filepath.Join(s.root, "proc/self/cgroup"), "0::/user.slice/user-1000.slice/session-2.scope\n")
		}},
		{"no slirp4netns", "slirp4netns", "apt-get install slirp4netns", func(t *testing.T, s *system) {
			s.lookPath = func(name string) (string, error) {
				if name == "slirp4netns" {
					return "", errors.New("not found")
				}
				return "/usr/bin/" + name, nil
			}
		}},
		{"no nsenter", "nsenter", "apt-get install util-linux", func(t *testing.T, s *system) {
			s.lookPath = func(name string) (string, error) {
				if name == "nsenter" {
					return "", errors.New("not found")
				}
				return "/usr/bin/" + name, nil
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := rootlessSystem(t)
			tc.breakIt(t, &s)
			c := find(t, s.run(t.TempDir()), tc.check)
			if c.OK || !strings.Contains(c.Fix, tc.wantInFix) {
				t.Errorf("%s: OK %v, fix %q; want not OK and a fix with %q", tc.check, c.OK, c.Fix, tc.wantInFix)
			}
		})
	}
}
