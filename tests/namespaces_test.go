// Checks of step 01 and every step after it: the namespaces clone(2) makes.

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHostnameIsIsolated(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		before, _ := os.Hostname()
		r := mustRun(t, s, "--hostname", "inside-box", "--", "hostname")
		if got := strings.TrimSpace(r.stdout); got != "inside-box" {
			t.Errorf("hostname inside = %q, want inside-box", got)
		}
		if after, _ := os.Hostname(); after != before {
			t.Errorf("the host's hostname changed from %q to %q", before, after)
		}
	})
}

func TestCommandIsPID1(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "--", "sh", "-c", "echo $$")
		if got := strings.TrimSpace(r.stdout); got != "1" {
			t.Errorf("the command's pid inside = %q, want 1", got)
		}
	})
}

func TestEveryNamespaceIsNew(t *testing.T) {
	names := []string{"uts", "pid", "mnt", "ipc", "net"}
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "--", "ls", "-l", "/proc/self/ns/")
		for _, ns := range names {
			host, err := os.Readlink("/proc/self/ns/" + ns)
			if err != nil {
				t.Fatal(err)
			}
			inside := namespaceIn(r.stdout, ns)
			if inside == "" {
				t.Errorf("no %s namespace in the container's listing:\n%s", ns, r.stdout)
			} else if inside == host {
				t.Errorf("%s namespace inside is the host's own (%s)", ns, host)
			}
		}
	})
}

// namespaceIn finds "ns:[inode]" for ns in the output of ls -l /proc/self/ns.
func namespaceIn(listing, ns string) string {
	for _, l := range lines(listing) {
		if f := strings.Fields(l); len(f) >= 3 && f[len(f)-3] == ns && f[len(f)-2] == "->" {
			return f[len(f)-1]
		}
	}
	return ""
}

func TestNetworkNamespaceHasOnlyLoopback(t *testing.T) {
	forSteps(t, stepsBetween(1, 6), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "--", "cat", "/proc/net/dev")
		var links []string
		for _, l := range lines(r.stdout) {
			if name, _, ok := strings.Cut(l, ":"); ok {
				links = append(links, strings.TrimSpace(name))
			}
		}
		if strings.Join(links, " ") != "lo" {
			t.Errorf("links in the container = %v, want only lo", links)
		}
	})
}

func TestMessageQueueOfTheHostIsInvisible(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		const key = 0x6d696e69 // "mini"
		id, _, errno := syscall.Syscall(unix.SYS_MSGGET, key, unix.IPC_CREAT|0o600, 0)
		if errno != 0 {
			t.Fatalf("msgget on the host: %v", errno)
		}
		defer syscall.Syscall(unix.SYS_MSGCTL, id, unix.IPC_RMID, 0)
		hostView, err := os.ReadFile("/proc/sysvipc/msg")
		if err != nil {
			t.Fatal(err)
		}
		if len(lines(string(hostView))) < 2 {
			t.Fatalf("the host does not list its own queue:\n%s", hostView)
		}
		r := mustRun(t, s, "--", "cat", "/proc/sysvipc/msg")
		if n := len(lines(r.stdout)); n != 1 {
			t.Errorf("the container lists %d lines of message queues, want the header only:\n%s", n, r.stdout)
		}
	})
}

func TestMountNamespaceAloneStillShowsHostFiles(t *testing.T) {
	// The lesson that leads to step 03: a mount namespace copies the host's
	// mounts, so without a rootfs of its own the container sees the host's files.
	forSteps(t, stepsBetween(1, 2), func(t *testing.T, s step) {
		containerTest(t)
		marker := filepath.Join(sharedDir(t), "host-file")
		if err := os.WriteFile(marker, []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := mustRun(t, s, "--", "cat", marker)
		if r.stdout != "from the host\n" {
			t.Errorf("cat %s inside printed %q, want the host's file", marker, r.stdout)
		}
	})
}

func TestUserNamespaceMapsRootToUnprivileged(t *testing.T) {
	forSteps(t, stepsFrom(1), func(t *testing.T, s step) {
		containerTest(t)
		r := mustRun(t, s, "--userns", "--", "sh", "-c", "id -u; cat /proc/self/uid_map")
		got := lines(r.stdout)
		if len(got) != 2 || got[0] != "0" || strings.Join(strings.Fields(got[1]), " ") != "0 100000 65536" {
			t.Errorf("inside: id -u and uid_map = %q, want 0 and \"0 100000 65536\"", got)
		}
	})
	// Where the container still shares the host's files, what root makes
	// inside belongs to the unprivileged uid outside.
	forSteps(t, stepsBetween(1, 2), func(t *testing.T, s step) {
		containerTest(t)
		file := filepath.Join(sharedDir(t), "made-inside")
		mustRun(t, s, "--userns", "--", "touch", file)
		var st syscall.Stat_t
		if err := syscall.Stat(file, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 100000 {
			t.Errorf("a file root made inside is owned by uid %d on the host, want 100000", st.Uid)
		}
	})
}

// sharedDir makes a directory that a container sharing the host's files can
// reach: under /var/tmp, never under /tmp (steps 02 on mount a tmpfs there,
// and this repository may itself be checked out under /tmp), and open to
// every uid (root of a user namespace is not the host's root).
func sharedDir(t *testing.T) string {
	t.Helper()
	if err := os.MkdirAll("/var/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "minidocker-tests-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
