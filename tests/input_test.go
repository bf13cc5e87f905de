// Hostile input to final: names, references, paths and numbers that
// Docker refuses, an archive that is a tar bomb, and commits and loads
// killed half way. Each must end with a clear one-line error and Docker's
// status, and leave nothing behind.

package tests

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFinalBadInput gives run, commit and tag what Docker refuses: each
// must fail with Docker's message and status, and create nothing (no
// record, no name, no image, no mount, no volume directory).
func TestFinalBadInput(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "cc", "--network", "none", "base", "true")
	volume := filepath.Join(t.TempDir(), "never-made")
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"name of 246 characters", []string{"run", "--name", long(246), "base", "true"}, 125, "at most 240 are allowed"},
		{"name of 300 characters", []string{"run", "--name", long(300), "base", "true"}, 125, "at most 240 are allowed"},
		{"name of one character", []string{"run", "--name", "x", "base", "true"}, 125, "Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"name with a slash", []string{"run", "--name", "a/b", "base", "true"}, 125, "Invalid container name (a/b)"},
		{"commit to upper case", []string{"commit", "cc", "Bad:tag"}, 1, "invalid reference format: repository name must be lowercase"},
		{"tag to upper case", []string{"tag", "base", "Base"}, 1, "invalid reference format: repository name must be lowercase"},
		{"commit to ..", []string{"commit", "cc", "../../etc"}, 1, `"../../etc" is not a valid repository/tag: invalid reference format`},
		{"several colons", []string{"tag", "base", "a:b:c"}, 1, "invalid reference format"},
		{"empty component", []string{"tag", "base", "a//b"}, 1, "invalid reference format"},
		{"separator at the end", []string{"tag", "base", "a-"}, 1, "invalid reference format"},
		{"bad tag", []string{"tag", "base", "a:-x"}, 1, "invalid reference format"},
		{"name of 300 characters", []string{"tag", "base", long(300)}, 1, "repository name must not be more than 255 characters"},
		{"relative -w", []string{"run", "-w", "x", "base", "pwd"}, 125, "the working directory 'x' is invalid, it needs to be an absolute path"},
		{"-v on /proc", []string{"run", "-v", volume + ":/proc", "base", "true"}, 125, `"/proc" cannot be mounted because it is inside /proc`},
		{"-v inside /proc", []string{"run", "-v", volume + ":/proc/sys/kernel", "base", "true"}, 125, "cannot be mounted because it is inside /proc"},
		{"-v climbing to /proc", []string{"run", "-v", volume + ":/tmp/../proc", "base", "true"}, 125, "cannot be mounted because it is inside /proc"},
		{"-v on /", []string{"run", "-v", volume + ":/", "base", "true"}, 125, "destination can't be '/'"},
		{"-v relative", []string{"run", "-v", volume + ":data", "base", "true"}, 125, "invalid mount path: 'data' mount path must be absolute"},
		{"--cpus abc", []string{"run", "--cpus", "abc", "base", "true"}, 125, `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := m.on(t)
			r := m.run(tc.args...)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if r.code != tc.code || !strings.Contains(first, tc.want) {
				t.Errorf("minidocker %s: exit %d, stderr %q; want exit %d and a first line with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
			}
			if !strings.HasPrefix(r.stderr, "minidocker") || strings.Contains(r.stderr, "strconv") || strings.Count(r.stderr, "\n") > 2 {
				t.Errorf("not a clear error: %q", r.stderr)
			}
		})
	}
	if ps := m.must("ps", "-a", "--format", "{{.Names}}"); ps != "cc\n" {
		t.Errorf("the refused commands left containers: %q", ps)
	}
	if names, _ := os.ReadDir(filepath.Join(m.root, "names")); len(names) != 1 {
		t.Errorf("the names index holds %d names, want only cc's", len(names))
	}
	if images := m.must("images", "--format", "{{.Repository}}:{{.Tag}}"); images != "base:latest\n" {
		t.Errorf("the refused commands left images: %q", images)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), m.root) {
		t.Errorf("a mount under %s was left", m.root)
	}
	if _, err := os.Stat(volume); err == nil {
		t.Errorf("the volume directory %s was made for a refused run", volume)
	}
}

// TestFinalLoadTarBomb feeds load a gzip of a tar whose one member holds
// 2 GiB of zeros (a few MB compressed, generated as load reads it): as a
// file no image archive has, and as a blob named by a digest. The state
// root is a 64 MiB tmpfs, so a load that spooled before checking would
// fail with "no space left on device" instead of the clear refusal, and
// could never use more than that bound.
func TestFinalLoadTarBomb(t *testing.T) {
	m := newMD(t)
	if err := unix.Mount("tmpfs", m.root, "tmpfs", 0, "size=64m,mode=0711"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", m.root, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(m.root, unix.MNT_DETACH) })
	blob := "blobs/sha256/" + strings.Repeat("0", 64)
	for _, tc := range []struct{ member, want string }{
		{"disk.img", `load: not an image archive: it holds "disk.img", which neither a docker-archive nor an OCI layout has`},
		{blob, "load: archive member " + blob + " is 2147483648 bytes, more than the"},
	} {
		t.Run(tc.member, func(t *testing.T) {
			r := loadStream(t, m, func(w io.Writer) error { return writeZeroBomb(w, tc.member, 2<<30) })
			if r.code != 1 || !strings.HasPrefix(r.stderr, "minidocker: "+tc.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("load of a tar bomb: exit %d, stderr %q; want exit 1 and one line starting %q", r.code, r.stderr, tc.want)
			}
			if left := tempEntries(t, m); len(left) != 0 {
				t.Errorf("load left %v in the store's tmp/", left)
			}
		})
	}
	var st unix.Statfs_t
	if err := unix.Statfs(m.root, &st); err != nil {
		t.Fatal(err)
	}
	if used := int64(st.Blocks-st.Bfree) * st.Bsize; used > 1<<20 {
		t.Errorf("the state root holds %d bytes after the refused loads", used)
	}
	if images := m.must("images", "-q"); images != "" {
		t.Errorf("the refused loads left images: %q", images)
	}
}

// writeZeroBomb writes a gzip of a tar with one member, name, of size zeros.
func writeZeroBomb(w io.Writer, name string, size int64) error {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(zeros)) {
		if _, err := tw.Write(zeros); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// loadStream runs minidocker load with its stdin a pipe that feed writes
// to (until feed ends or load stops reading), and waits for it.
func loadStream(t *testing.T, m *md, feed func(io.Writer) error) result {
	t.Helper()
	cmd, pw := startLoad(t, m)
	go func() {
		_ = feed(pw) // EPIPE once load has refused the archive
		pw.Close()
	}()
	return finishCmd(t, cmd)
}

// startLoad starts minidocker load reading a pipe, and returns the pipe's
// write end.
func startLoad(t *testing.T, m *md) (*exec.Cmd, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(finalBinary, "--root", m.root, "load")
	cmd.Stdin = pr
	cmd.Stdout, cmd.Stderr = new(strings.Builder), new(strings.Builder)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	t.Cleanup(func() { pw.Close() })
	return cmd, pw
}

// finishCmd waits for a command started with string builders as its outputs.
func finishCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	code, err := exitCode(cmd.Wait())
	if err != nil {
		t.Fatal(err)
	}
	return result{stdout: cmd.Stdout.(*strings.Builder).String(), stderr: cmd.Stderr.(*strings.Builder).String(), code: code}
}

// tempEntries lists the image store's tmp/ directory.
func tempEntries(t *testing.T, m *md) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(m.root, "image", "tmp"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// tempSize adds up the bytes under the image store's tmp/.
func tempSize(m *md) int64 {
	var n int64
	_ = filepath.Walk(filepath.Join(m.root, "image", "tmp"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// holdStoreLock takes the image store's lock, as a slow image command
// would, so that a commit or load stops at the moment it needs it; the
// returned function releases it.
func holdStoreLock(t *testing.T, m *md) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(m.root, "image", "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// waitingForLock reports whether pid is blocked on a file lock
// (/proc/locks lists a waiter as "-> FLOCK ... <pid> ...").
func waitingForLock(pid int) bool {
	data, _ := os.ReadFile("/proc/locks")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[1] == "->" && f[5] == fmt.Sprint(pid) {
			return true
		}
	}
	return false
}

// dfTemporary is the "Temporary files" line of system df: entries and size.
func dfTemporary(t *testing.T, m *md) (string, string) {
	t.Helper()
	out := m.must("system", "df")
	match := regexp.MustCompile(`(?m)^Temporary files\s+(\d+)\s+\d+\s+(\S+)`).FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("system df has no Temporary files line:\n%s", out)
	}
	return match[1], match[2]
}

// TestFinalKilledCommitAndLoad SIGKILLs commit and load at several
// moments, each reached for certain (a load's input stops half way; the
// test holds the store's lock, which a commit or load takes only once its
// files are written): while they live, their temp files are counted by
// system df and kept by other commands; once they are dead, the next
// command of any kind (ps) removes them.
func TestFinalKilledCommitAndLoad(t *testing.T) {
	m := newMD(t)
	m.must("run", "--name", "big", "base", "sh", "-c", "head -c 20000000 /dev/zero > /big")
	archive := filepath.Join(t.TempDir(), "base.tar")
	m.must("save", "-o", archive, "base")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	type moment struct {
		name  string
		start func(t *testing.T) *exec.Cmd // returns once the command is at the moment
	}
	moments := []moment{
		{"commit writing its layer", func(t *testing.T) *exec.Cmd {
			cmd := startCmd(t, m, "commit", "big", "big:1")
			waitFor(t, func() bool { return tempSize(m) > 0 })
			return cmd
		}},
		{"commit waiting for the lock", func(t *testing.T) *exec.Cmd {
			cmd := startCmd(t, m, "commit", "big", "big:1")
			waitFor(t, func() bool { return waitingForLock(cmd.Process.Pid) })
			return cmd
		}},
		{"load reading half the archive", func(t *testing.T) *exec.Cmd {
			cmd, pw := startLoad(t, m)
			go func() { _, _ = pw.Write(data[:len(data)/2]) }()
			waitFor(t, func() bool { return tempSize(m) > int64(len(data))/4 })
			t.Run("live", func(t *testing.T) { checkLiveTemp(t, m.on(t)) })
			return cmd
		}},
		{"load waiting for the lock", func(t *testing.T) *exec.Cmd {
			cmd, pw := startLoad(t, m)
			go func() { _, _ = pw.Write(data); pw.Close() }()
			waitFor(t, func() bool { return waitingForLock(cmd.Process.Pid) })
			return cmd
		}},
	}
	for _, mo := range moments {
		t.Run(mo.name, func(t *testing.T) {
			m := m.on(t)
			release := holdStoreLock(t, m)
			defer release()
			cmd := mo.start(t)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if left := tempEntries(t, m); len(left) == 0 {
				t.Fatalf("the killed command left nothing in tmp/: the moment was missed")
			}
			m.must("ps")
			if left := tempEntries(t, m); len(left) != 0 {
				t.Errorf("ps did not remove what the killed command left: %v", left)
			}
		})
	}
	if n, size := dfTemporary(t, m); n != "0" || size != "0B" {
		t.Errorf("system df counts %s temporary files of %s after the cleanup", n, size)
	}
	if out := m.must("images", "--format", "{{.Repository}}"); out != "base\n" {
		t.Errorf("the killed commits and loads left images: %q", out)
	}
}

// checkLiveTemp checks, while a load is alive half way through, that ps
// leaves its temp files and system df counts them.
func checkLiveTemp(t *testing.T, m *md) {
	before, size := tempEntries(t, m), tempSize(m)
	m.must("ps")
	if after := tempEntries(t, m); strings.Join(after, " ") != strings.Join(before, " ") || tempSize(m) < size {
		t.Errorf("ps touched a live load's temp files: %v, then %v", before, after)
	}
	if n, human := dfTemporary(t, m); n != fmt.Sprint(len(before)) || human == "0B" {
		t.Errorf("system df counts %s temporary files of %s; tmp/ holds %d entries of %d bytes", n, human, len(before), size)
	}
}

// startCmd starts minidocker with args, its output kept.
func startCmd(t *testing.T, m *md, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(finalBinary, append([]string{"--root", m.root}, args...)...)
	cmd.Stdout, cmd.Stderr = new(strings.Builder), new(strings.Builder)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
