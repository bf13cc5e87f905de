// docs/final.md cannot rot either: its command reference is generated from
// minidocker's own help (the command table), and its guided tour is run
// for real, in a state root and network namespace of its own, and compared
// with what changes from run to run (ids, times, sizes) masked.
// "make docs" rewrites both blocks.

package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// finalDoc is the runtime's chapter.
var finalDoc = filepath.Join(repoRoot, "docs", "final.md")

// tourCommands are the guided tour, in order.
var tourCommands = [][]string{
	{"run", "--rm", "base", "echo", "hello from a container"},
	// One process from the start: a shell that forks its command later
	// would make exec's ps list it before or after ps itself, by chance.
	{"run", "-d", "--name", "web", "base", "sleep", "3600"},
	{"ps"},
	{"exec", "web", "ps", "-o", "pid,args"},
	{"inspect", "--format", "{{.State.Status}} pid={{.State.Pid}} ip={{.NetworkSettings.IPAddress}}", "web"},
	{"stop", "-t", "1", "web"},
	// A log shown right after run -d could be empty: the container may not
	// have printed yet. wait makes the tour's output the same every time.
	{"run", "-d", "--name", "job", "base", "sh", "-c", "echo working; exit 3"},
	{"wait", "job"},
	{"logs", "job"},
	{"ps", "-a", "--format", "{{.Names}}: {{.Status}}"},
	{"run", "--name", "maker", "base", "sh", "-c", "echo hello > /greeting"},
	{"commit", "-m", "add a greeting", "maker", "greeting:v1"},
	{"run", "--rm", "greeting:v1", "cat", "/greeting"},
	{"images"},
	{"history", "greeting:v1"},
	{"save", "-o", "/tmp/greeting.tar", "greeting:v1"},
	{"rm", "web", "job", "maker"},
	{"rmi", "greeting:v1"},
	{"load", "-i", "/tmp/greeting.tar"},
}

// TestDocsFinalReference checks the command reference against the help
// that the command table renders.
func TestDocsFinalReference(t *testing.T) {
	if finalBinary == "" {
		t.Skip("minidocker was not built")
	}
	var b strings.Builder
	help := runBinary(t, finalBinary, "help")
	b.WriteString("```text\n$ minidocker help\n" + help + "```\n")
	for _, line := range strings.Split(help, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(line, "  ") || strings.HasPrefix(f[0], "-") {
			continue
		}
		b.WriteString("\n### " + f[0] + "\n\n```text\n" + runBinary(t, finalBinary, f[0], "--help") + "```\n")
	}
	checkDocBlock(t, "reference", b.String(), func(a, b string) bool { return a == b })
}

// TestDocsFinalTour runs the guided tour and compares its output.
func TestDocsFinalTour(t *testing.T) {
	if os.Getenv("MINIDOCKER_IN_VM") != "" {
		t.Skip("the tour shows what minidocker prints on the machines that build this project; checked there, not in the test VM")
	}
	name, value, _ := strings.Cut(docsRootfs, "=")
	t.Setenv(name, value) // the base image from the host's commands, busybox or not
	m := newMD(t)
	defer os.Remove("/tmp/greeting.tar")
	var b strings.Builder
	b.WriteString("```console\n")
	for _, args := range tourCommands {
		r := m.run(args...)
		b.WriteString("$ sudo minidocker " + shellQuote(args) + "\n" + r.stderr + r.stdout) // stderr first: the notes come before the output
	}
	b.WriteString("```\n")
	checkDocBlock(t, "tour", b.String(), func(a, b string) bool { return maskTour(a) == maskTour(b) })
}

// runBinary runs a program that must succeed, returning its stdout.
func runBinary(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return string(out)
}

// checkDocBlock compares (or with -update rewrites) the block between
// "<!-- name -->" and "<!-- end -->" in docs/final.md.
func checkDocBlock(t *testing.T, name, want string, same func(a, b string) bool) {
	t.Helper()
	checkDocBlockIn(t, finalDoc, name, want, same)
}

// checkDocBlockIn is checkDocBlock for the chapter finalDoc.
func checkDocBlockIn(t *testing.T, finalDoc, name, want string, same func(a, b string) bool) {
	t.Helper()
	data, err := os.ReadFile(finalDoc)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)(<!-- " + name + " -->\n)(.*?)(<!-- end -->)")
	m := re.FindSubmatchIndex(data)
	if m == nil {
		t.Fatalf("%s has no <!-- %s --> block", finalDoc, name)
	}
	got := string(data[m[4]:m[5]])
	if same(got, want) {
		return // -update too keeps it: only what masks hide changed
	}
	if *update {
		out := string(data[:m[4]]) + want + string(data[m[5]:])
		if err := os.WriteFile(finalDoc, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the %s block of %s is stale: run 'sudo make docs'\n--- in the doc:\n%s\n--- now:\n%s", name, finalDoc, got, want)
}

// tourMasks are what changes between runs of the tour.
var tourMasks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{12,64}`), "<id>"},
	{regexp.MustCompile(`(Less than a second|About a minute|\d+ (seconds?|minutes?|hours?|days?))`), "<time>"},
	{regexp.MustCompile(`\d+(\.\d+)?[kMG]?B\b`), "<size>"},
	{regexp.MustCompile(`pid=\d+`), "pid=<pid>"},
	{regexp.MustCompile(`\n\s+\d+ `), "\n <pid> "},
	{regexp.MustCompile(`[ \t]+`), " "},
}

// maskTour replaces what changes from run to run with placeholders.
func maskTour(s string) string {
	for _, m := range tourMasks {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// shellQuote spells args as a shell command line.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$;&|<>{}()*?!#\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
