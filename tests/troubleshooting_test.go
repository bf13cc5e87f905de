// docs/troubleshooting.md cannot rot: every message it quotes under
// "Printed by the steps" must be one that a step's source can print. A
// quoted message matches when some string in the steps' sources, with
// each format verb (%s, %q, %w, ...) standing for any text, spells all of
// it, once the step-name prefix ("step04-pivot-root: ") is set aside.

package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTroubleshootingQuotesRealErrors(t *testing.T) {
	formats := stepMessageFormats(t)
	quoted := troubleshootingQuotes(t)
	if len(quoted) < 5 {
		t.Fatalf("found only %d quoted messages under \"Printed by the steps\": has the page's layout changed?", len(quoted))
	}
	for _, q := range quoted {
		if !printedBySteps(formats, q) {
			t.Errorf("docs/troubleshooting.md quotes %q, which no step prints: update the page to the current message", q)
		}
	}
}

func TestTroubleshootingCheckRefusesAnInventedMessage(t *testing.T) {
	formats := stepMessageFormats(t)
	for _, invented := range []string{
		"pivot_root /x: invalid argument: the moon is in the wrong phase",
		"step05-cgroups: cgroup v2: the memory controller is missing from /sys/fs/cgroup",
	} {
		if printedBySteps(formats, invented) {
			t.Errorf("the check accepts the invented message %q", invented)
		}
	}
}

// stepPrefix is how a step starts the errors it prints.
var stepPrefix = regexp.MustCompile(`^step\d\d-[a-z0-9-]+:? `)

// printedBySteps reports whether one of formats spells the whole message.
func printedBySteps(formats []*regexp.Regexp, message string) bool {
	for _, f := range formats {
		if f.MatchString(stepPrefix.ReplaceAllString(message, "")) {
			return true
		}
	}
	return false
}

// formatVerb is one fmt verb, such as %s, %-9s, %[1]s or %w.
var formatVerb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z]`)

// stepMessageFormats turns every string the steps' sources hold (and every
// concatenation of string literals) with enough literal text into an
// anchored pattern in which each format verb matches anything.
func stepMessageFormats(t *testing.T) []*regexp.Regexp {
	t.Helper()
	var strs []string
	for _, dir := range stepSources(t) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if s, ok := literalText(n); ok {
					strs = append(strs, s)
				}
				return true
			})
		}
	}
	seen := map[string]bool{}
	var formats []*regexp.Regexp
	for _, s := range strs {
		s = strings.TrimPrefix(strings.TrimRight(s, "\n"), "%s: ") // the step's name, as stepPrefix
		if seen[s] || len(formatVerb.ReplaceAllString(s, "")) < 6 {
			continue
		}
		seen[s] = true
		parts := formatVerb.Split(s, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		formats = append(formats, regexp.MustCompile("^"+strings.Join(parts, ".*")+"$"))
	}
	return formats
}

// literalText is the value of a string literal, or of a + of string literals.
func literalText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.BasicLit:
		if n.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(n.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if n.Op != token.ADD {
			return "", false
		}
		x, okX := literalText(n.X)
		y, okY := literalText(n.Y)
		return x + y, okX && okY
	}
	return "", false
}

// troubleshootingQuotes are the headings' code spans in the section of
// docs/troubleshooting.md that lists what the steps print.
func troubleshootingQuotes(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Printed by the steps\n")
	if !ok {
		t.Fatal(`docs/troubleshooting.md has no section "## Printed by the steps"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var quotes []string
	for _, m := range regexp.MustCompile("(?m)^### `([^`]+)`\\s*$").FindAllStringSubmatch(section, -1) {
		quotes = append(quotes, m[1])
	}
	return quotes
}
