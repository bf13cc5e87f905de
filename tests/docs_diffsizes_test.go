//go:build linux

package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestDocsDiffSizesAreCurrent checks the table in docs/README.md that
// shows, before a learner starts a chapter, how big its lesson is: the
// lines the step adds and removes, and in which files.
func TestDocsDiffSizesAreCurrent(t *testing.T) {
	forEachBlock(t, "diffsizes", func(t *testing.T, args []string) string {
		if len(args) != 1 || args[0] != "steps" {
			t.Fatalf("diffsizes marker wants the one argument steps, has %q", args)
		}
		return diffSizeTable(t)
	}, func(a, b string) bool { return a == b })
}

// diffSizeTable is a Markdown table with a row per pair of consecutive
// step directories.
func diffSizeTable(t *testing.T) string {
	dirs, _ := filepath.Glob(filepath.Join(repoRoot, "step[0-9][0-9]-*"))
	sort.Strings(dirs)
	var b strings.Builder
	b.WriteString("| diff | chapter | lines | files, largest first |\n|---|---|---|---|\n")
	for i := 1; i < len(dirs); i++ {
		a, c := filepath.Base(dirs[i-1]), filepath.Base(dirs[i])
		files, added, removed := diffStat(t, a, c)
		fmt.Fprintf(&b, "| %s → %s | [%s](%s.md) | +%d / −%d | %s |\n",
			a[4:6], c[4:6], c[7:], strings.TrimPrefix(c, "step"), added, removed, strings.Join(files, ", "))
	}
	return b.String()
}

// numstatPath is the file name in a line of git's --numstat between two
// directories: "{a => b}/main.go" or "/dev/null => b/cgroups.go".
var numstatPath = regexp.MustCompile(`(?:\}/|=> [^/]+/)([^ ]+)$`)

// diffStat returns "name +A/−R" for each file that differs between two
// steps, largest change first, and the totals.
func diffStat(t *testing.T, a, b string) (files []string, added, removed int) {
	cmd := exec.Command("git", "diff", "--no-index", "--numstat", "--", a, b)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("git diff --numstat %s %s: %v", a, b, err)
	}
	type stat struct {
		name        string
		plus, minus int
	}
	var stats []stat
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			continue
		}
		plus, _ := strconv.Atoi(f[0])
		minus, _ := strconv.Atoi(f[1])
		name := f[2]
		if m := numstatPath.FindStringSubmatch(f[2]); m != nil {
			name = m[1]
		}
		stats = append(stats, stat{name, plus, minus})
		added += plus
		removed += minus
	}
	sort.SliceStable(stats, func(i, j int) bool {
		return stats[i].plus+stats[i].minus > stats[j].plus+stats[j].minus
	})
	for _, s := range stats {
		change := fmt.Sprintf("+%d", s.plus)
		if s.minus > 0 {
			change += fmt.Sprintf("/−%d", s.minus)
		}
		files = append(files, fmt.Sprintf("`%s` %s", s.name, change))
	}
	return files, added, removed
}
