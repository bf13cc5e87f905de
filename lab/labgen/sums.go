// The reference tests, by checksum. "make grade" runs the repository's
// tests/ against a student's binaries, so a student who edits a test (or
// adds a file to the package: an init function can change every result)
// would grade themselves. lab/tests.sha256 lists every file under tests/
// with its sha256, in sha256sum's format (so "sha256sum -c lab/tests.sha256"
// checks it too); the grader refuses to run when a file differs, is
// missing or is not on the list, and names it. "labgen -sums" rewrites the
// list; tests/labs_grade_test.go fails when it is not current.

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sumsFile is the checksum list, relative to the repository's top.
const sumsFile = "lab/tests.sha256"

// sumsHeader opens the checksum list and says how to regenerate it.
const sumsHeader = "# sha256 of every file under tests/, checked by make grade (lab/labgen/sums.go).\n# After changing tests/: go run ./lab/labgen -sums   (or make grade-sums)\n"

// treeSums returns the sha256 of every file under repo/tests, keyed by
// its slash-separated path relative to repo (a symlink by its target).
func treeSums(repo string) (map[string]string, error) {
	sums := map[string]string{}
	root := filepath.Join(repo, "tests")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ignoredByGo(d.Name()) && path != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		var data []byte
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			data = []byte("symlink " + target)
		} else if data, err = os.ReadFile(path); err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		sum := sha256.Sum256(data)
		sums[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checksum the tests under %s: %w", root, err)
	}
	return sums, nil
}

// ignoredByGo says whether the go command leaves a file or directory of
// this name out of a package (a leading "." or "_"), or it is a test
// binary (go test -c): such files cannot change what the tests do, and
// machines have them (tests/vm/.cache, the VM's downloads).
func ignoredByGo(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || strings.HasSuffix(name, ".test")
}

// formatSums renders sums as the checksum list, sorted by path.
func formatSums(sums map[string]string) []byte {
	paths := make([]string, 0, len(sums))
	for p := range sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.WriteString(sumsHeader)
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", sums[p], p)
	}
	return b.Bytes()
}

// writeSums rewrites repo's checksum list from its tests/.
func writeSums(repo string) error {
	sums, err := treeSums(repo)
	if err != nil {
		return err
	}
	path := filepath.Join(repo, sumsFile)
	if err := os.WriteFile(path, formatSums(sums), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d files\n", path, len(sums))
	return nil
}

// readSums parses repo's checksum list.
func readSums(repo string) (map[string]string, error) {
	path := filepath.Join(repo, sumsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the reference checksums: %w (is -repo the repository's top directory?)", err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, file, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("%s:%d: not \"SHA256  PATH\": restore the file with git checkout -- %s", path, n, sumsFile)
		}
		sums[file] = sum
	}
	return sums, nil
}

// checkSums compares repo's tests/ with its checksum list and returns
// an error naming the first file that differs, is missing, or is extra.
func checkSums(repo string) error {
	want, err := readSums(repo)
	if err != nil {
		return err
	}
	have, err := treeSums(repo)
	if err != nil {
		return err
	}
	for _, file := range sortedKeys(want) {
		switch sum, ok := have[file]; {
		case !ok:
			return fmt.Errorf("%s is missing; the grading tests must be the reference ones: git checkout -- %s", file, file)
		case sum != want[file]:
			return fmt.Errorf("%s differs from the reference (sha256 %s, want %s): git checkout -- %s, or ask your teacher", file, sum[:12], want[file][:12], file)
		}
	}
	for _, file := range sortedKeys(have) {
		if _, ok := want[file]; !ok {
			return fmt.Errorf("%s is not one of the reference tests (%s): move it out of tests/ while grading", file, sumsFile)
		}
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
