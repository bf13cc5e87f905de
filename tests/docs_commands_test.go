// Every command the docs ask the learner to type must exist on a machine
// that lab/provision.sh prepared. The test reads the shell blocks of the
// chapters, the labs, the troubleshooting page, the READMEs and the
// translations under docs/ (```sh blocks, and the "$ " lines of ```console
// blocks), takes the command of each line and of each part of a pipeline
// or list (the first word, with sudo, env, time and VAR=value set aside),
// and checks that it is a shell builtin, one of the project's own
// programs, a command of a package every Debian and Ubuntu system has, or
// a command of a package in provision.sh's PACKAGES list. A command that a
// page tells the learner to install first ("apt-get install PKG" in a
// shell block) counts as provided.
//
// docs/benchmarks.md is left out: bench/run.sh installs what it compares
// against (runc, crun, podman) itself.
//
// A new command in the docs fails this test until it is in the tables
// below, and its package in provision.sh.

package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// shellBuiltins are the words a shell runs itself, or shell syntax.
var shellBuiltins = set("cd", "echo", "exec", "exit", "export", "for", "while", "do", "done", "if", "then", "fi",
	"wait", "kill", "read", "set", "test", "[", "true", "false", "printf", "{", "}", "(", ")", "source", ".")

// projectPrograms are the project's own programs and the names they run
// under: go runs the steps, make the labs' Makefiles.
var projectPrograms = set("go", "minidocker", "./minidocker", "minidocker-runc", "load")

// projectProgram matches the base name of a step or lab binary the learner
// built and runs by path (bin/step04-pivot-root, /tmp/step02).
var projectProgram = regexp.MustCompile(`^step\d\d(-[a-z0-9-]+)?$`)

// commandPackage names the Debian/Ubuntu package of each external command
// the docs use.
var commandPackage = map[string]string{
	"cat": "coreutils", "ls": "coreutils", "mkdir": "coreutils", "rm": "coreutils", "rmdir": "coreutils",
	"ln": "coreutils", "sleep": "coreutils", "readlink": "coreutils", "truncate": "coreutils", "chroot": "coreutils",
	"head": "coreutils", "tail": "coreutils", "stat": "coreutils", "touch": "coreutils", "cp": "coreutils",
	"tee": "coreutils", "sort": "coreutils", "wc": "coreutils", "id": "coreutils", "env": "coreutils",
	"dd": "coreutils", "sha256sum": "coreutils", "du": "coreutils", "df": "coreutils", "mv": "coreutils",
	"tr": "coreutils", "od": "coreutils", "mktemp": "coreutils", "chmod": "coreutils", "chown": "coreutils",
	"sh": "dash", "bash": "bash", "grep": "grep", "sed": "sed", "find": "findutils", "xargs": "findutils",
	"tar": "tar", "gzip": "gzip", "ldd": "libc-bin", "hostname": "hostname", "apt-get": "apt",
	"systemctl": "systemd",
	"mount":     "mount", "umount": "mount", "losetup": "mount",
	"findmnt": "util-linux", "unshare": "util-linux", "nsenter": "util-linux", "ipcs": "util-linux",
	"ipcmk": "util-linux", "ipcrm": "util-linux", "lsns": "util-linux", "setpriv": "util-linux",
	"ps": "procps", "top": "procps", "pgrep": "procps", "free": "procps",
	"ip": "iproute2", "ss": "iproute2", "mkfs.ext4": "e2fsprogs", "git": "git", "make": "make", "sudo": "sudo",
	"nft": "nftables", "getfattr": "attr", "setfattr": "attr", "readelf": "binutils", "objdump": "binutils",
	"curl": "curl", "jq": "jq",
	"docker-registry": "docker-registry",
}

// notProvisioned are commands the docs use that provision.sh leaves out on
// purpose, with the reason, which the docs give too.
var notProvisioned = map[string]string{
	// Chapter 10 drives the daemon with a docker CLI of 25 or later and
	// says so; Debian's and Ubuntu's docker.io packages also bring dockerd,
	// whose firewall rules (br_netfilter, FORWARD policy DROP) would change
	// what step07's bridge does on the lab VM.
	"docker": "a docker CLI >= 25, chapter 10",
}

// basePackages are on every Debian and Ubuntu system (Essential, or
// priority required, and systemd, the lab VM's init): provision.sh need not
// install them.
var basePackages = set("coreutils", "dash", "bash", "grep", "sed", "findutils", "tar", "gzip", "libc-bin",
	"hostname", "apt", "mount", "util-linux", "systemd")

// docsAskedToType lists the pages with commands for the learner.
func docsAskedToType(t *testing.T) []string {
	var files []string
	for _, pattern := range []string{"docs/*.md", "docs/*/*.md", "docs/*/*/*.md", "README.md", "lab/README.md"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if filepath.Base(f) != "benchmarks.md" {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	return files
}

// shellLines returns the command lines of a page's shell blocks: the
// lines of ```sh blocks and the "$ " lines of ```console blocks, with
// continuation lines joined and comment lines dropped.
func shellLines(text string) []string {
	var lines []string
	kind, joined := "", ""
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			if kind == "" {
				kind = strings.TrimPrefix(line, "```")
				if kind == "" {
					kind = "plain"
				}
			} else {
				kind = ""
			}
			continue
		}
		switch kind {
		case "sh":
		case "console":
			if !strings.HasPrefix(line, "$ ") && joined == "" {
				continue
			}
			line = strings.TrimPrefix(line, "$ ")
		default:
			continue
		}
		if strings.HasSuffix(line, "\\") {
			joined += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		if openQuote(joined + line) {
			joined += line + "; "
			continue
		}
		line, joined = joined+line, ""
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			lines = append(lines, s)
		}
	}
	return lines
}

// commandsOf returns the commands a line runs: the first word of each part
// of its pipelines and lists (split outside quotes on | ; && ||), and of
// each $(...), with the prefixes that run another command set aside.
func commandsOf(line string) []string {
	var cmds []string
	for _, m := range shellScript.FindAllStringSubmatch(line, -1) {
		cmds = append(cmds, commandsOf(m[2]+m[3])...)
	}
	for _, part := range splitOutsideQuotes(line) {
		if i := strings.Index(part, "$("); i >= 0 {
			cmds = append(cmds, commandsOf(strings.TrimSuffix(part[i+2:], ")"))...)
			part = part[:i]
		}
		if c := firstCommand(fieldsOutsideQuotes(part)); c != "" {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// shellScript matches the script of sh -c '...' (or "..."), whose commands
// the learner types too.
var shellScript = regexp.MustCompile(`\b(sh|bash) -c (?:'([^']*)'|"([^"]*)")`)

// splitOutsideQuotes splits a line on | ; & outside single and double quotes.
func splitOutsideQuotes(line string) []string {
	var parts []string
	var quote rune
	start := 0
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '&' && i > 0 && (line[i-1] == '>' || line[i-1] == '<'):
			// a redirection: 2>&1, <&3
		case r == '|' || r == ';' || r == '&':
			parts = append(parts, line[start:i])
			start = i + 1
		case r == '#' && (i == 0 || line[i-1] == ' '):
			return append(parts, line[start:i])
		}
	}
	return append(parts, line[start:])
}

// fieldsOutsideQuotes splits on spaces outside quotes: STUDENT="Ada Lovelace"
// is one word.
func fieldsOutsideQuotes(s string) []string {
	var words []string
	var quote rune
	word := ""
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ' ' || r == '\t':
			if word != "" {
				words = append(words, word)
			}
			word = ""
			continue
		}
		word += string(r)
	}
	if word != "" {
		words = append(words, word)
	}
	return words
}

// openQuote reports whether a line ends inside a single or double quote.
func openQuote(line string) bool {
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		}
	}
	return quote != 0
}

// assignment matches VAR=value.
var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// firstCommand skips sudo and its options, env and its settings, time,
// and VAR=value, and returns the command word ("" if none).
func firstCommand(words []string) string {
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "sudo" || w == "env" || w == "time" || w == "!":
		case strings.HasPrefix(w, "-") && i > 0 && (words[i-1] == "sudo" || strings.HasPrefix(words[i-1], "-")):
			// an option of sudo or env (-E, --preserve-env=...)
		case assignment.MatchString(w):
		case strings.HasPrefix(w, "\"") && assignment.MatchString(strings.TrimPrefix(w, "\"")):
		default:
			return strings.Trim(w, "()")
		}
	}
	return ""
}

// installLine matches a package the docs tell the learner to install.
var installLine = regexp.MustCompile(`apt(-get)? install ((-[a-z-]+ )*)([a-z0-9][a-z0-9.+-]*)`)

// provisionPackages reads the PACKAGES array of lab/provision.sh.
func provisionPackages(t *testing.T) map[string]bool {
	src, err := os.ReadFile(filepath.Join(repoRoot, "lab", "provision.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^readonly PACKAGES=\(([^)]*)\)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("lab/provision.sh has no readonly PACKAGES=(...) line")
	}
	return set(strings.Fields(string(m[1]))...)
}

// use is where a command first appears: the page and the line.
type use struct{ file, line string }

// inlineSpan matches an inline code span.
var inlineSpan = regexp.MustCompile("`([^`\n]+)`")

// inlineCommands returns the commands of the pages' inline code spans that
// start with a command the table knows (readelf -d, getfattr -n ...): the
// experiments the text suggests without a block. Unknown first words are
// not commands there (flags, file names, messages).
func inlineCommands(t *testing.T) map[string]use {
	found := map[string]use{}
	for _, file := range docsAskedToType(t) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, file)
		for _, m := range inlineSpan.FindAllStringSubmatch(string(text), -1) {
			words := strings.Fields(m[1])
			if len(words) < 2 {
				continue // a bare name ("`top`") is a mention, not a command line
			}
			c := firstCommand(words)
			if _, known := commandPackage[c]; known {
				if _, seen := found[c]; !seen {
					found[c] = use{rel, m[1]}
				}
			}
		}
	}
	return found
}

func TestDocsCommandsAreProvided(t *testing.T) {
	provided := provisionPackages(t)
	uses := map[string]use{}
	installedByDocs := map[string]bool{}
	for _, file := range docsAskedToType(t) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, file)
		for _, line := range shellLines(string(text)) {
			if m := installLine.FindStringSubmatch(line); m != nil {
				installedByDocs[m[4]] = true
			}
			for _, c := range commandsOf(line) {
				if _, seen := uses[c]; !seen {
					uses[c] = use{rel, line}
				}
			}
		}
	}
	for c, u := range inlineCommands(t) {
		if _, seen := uses[c]; !seen {
			uses[c] = u
		}
	}
	if len(uses) < 20 {
		t.Fatalf("found only %d commands in the docs' shell blocks: has their layout changed?", len(uses))
	}
	for c, u := range uses {
		if shellBuiltins[c] || projectPrograms[c] || projectProgram.MatchString(filepath.Base(c)) || strings.HasPrefix(c, "$") || notProvisioned[c] != "" {
			continue
		}
		pkg, known := commandPackage[c]
		switch {
		case !known:
			t.Errorf("%s asks the learner to type %q (in %q): add it to commandPackage in this test and its package to lab/provision.sh's PACKAGES", u.file, c, u.line)
		case basePackages[pkg] || provided[pkg] || installedByDocs[pkg]:
		default:
			t.Errorf("%s asks the learner to type %q (in %q), from package %s: add %s to lab/provision.sh's PACKAGES (or have the page say how to install it)", u.file, c, u.line, pkg, pkg)
		}
	}
}

// TestDocsCommandsParse proves the extraction on lines the docs have.
func TestDocsCommandsParse(t *testing.T) {
	for line, want := range map[string]string{
		`sudo env "PATH=$PATH" go run ./final doctor`:                           "go",
		`sudo --preserve-env=MINIDOCKER_ROOT minidocker ps -a`:                  "minidocker",
		`time sudo TMPDIR=/mnt/x go run ./step05-cgroups -q -- true`:            "go",
		`LOOP=$(sudo losetup -f --show /tmp/disk.img)`:                          "losetup",
		`sudo sh -c 'echo a | grep a; true' | tee out`:                          "echo grep true sh tee",
		`readelf -l /bin/sh | grep interpreter   # the loader`:                  "readelf grep",
		`exec 3<>/dev/tcp/10.99.0.1/8080 2>&1; cat <&3`:                         "exec cat",
		`sudo getfattr -n trusted.overlay.opaque /tmp/x && echo opaque || true`: "getfattr echo true",
	} {
		if got := strings.Join(commandsOf(line), " "); got != want {
			t.Errorf("commandsOf(%q) = %q, want %q", line, got, want)
		}
	}
}

// set makes a lookup table of words.
func set(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}
