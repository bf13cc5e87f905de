package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path relative to dir: content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckSumsNamesTheFileThatDiffers(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string // written after the sums
		remove string
		want   string // in the error; "" for none
	}{
		{name: "unchanged"},
		{name: "edited", change: map[string]string{"tests/a_test.go": "package tests // pass\n"}, want: "tests/a_test.go differs"},
		{name: "added", change: map[string]string{"tests/z_test.go": "package tests\n"}, want: "tests/z_test.go is not one of the reference tests"},
		{name: "removed", remove: "tests/testdata/x.json", want: "tests/testdata/x.json is missing"},
		{name: "ignored by go", change: map[string]string{"tests/.cache/blob": "x", "tests/_old.go": "x", "tests/tests.test": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			writeTree(t, repo, map[string]string{"tests/a_test.go": "package tests\n", "tests/testdata/x.json": "{}\n", "lab/README.md": ""})
			if err := writeSums(repo); err != nil {
				t.Fatal(err)
			}
			writeTree(t, repo, tt.change)
			if tt.remove != "" {
				if err := os.Remove(filepath.Join(repo, tt.remove)); err != nil {
					t.Fatal(err)
				}
			}
			err := checkSums(repo)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkSums: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkSums: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseResultsReadsTopLevelTestsOnly(t *testing.T) {
	out := "=== RUN   TestA\n    --- PASS: TestA/step01 (0.1s)\n--- FAIL: TestA (0.2s)\n--- PASS: TestB (0.0s)\n--- SKIP: TestC (0.0s)\n"
	got := parseResults(out)
	want := map[string]string{"TestA": "FAIL", "TestB": "PASS", "TestC": "SKIP"}
	if len(got) != len(want) {
		t.Fatalf("parseResults = %v, want %v", got, want)
	}
	for name, result := range want {
		if got[name] != result {
			t.Errorf("parseResults[%s] = %q, want %q", name, got[name], result)
		}
	}
}
