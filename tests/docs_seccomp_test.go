// The seccomp section of docs/final.md shows the BPF program of a tiny
// profile; the block is what minidocker's seccomp-bpf prints for
// tests/testdata/seccomp-tiny.json today ("make docs" rewrites it).

package tests

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDocsFinalSeccomp checks the listing of the tiny profile.
func TestDocsFinalSeccomp(t *testing.T) {
	if finalBinary == "" {
		t.Skip("minidocker was not built")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the listing shows x86_64's call numbers")
	}
	profile := filepath.Join(repoRoot, "tests", "testdata", "seccomp-tiny.json")
	data, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	listing := runBinary(t, finalBinary, "seccomp-bpf", profile)
	block := "```console\n$ cat tiny.json\n" + string(data) + "$ minidocker seccomp-bpf tiny.json\n" + listing + "```\n"
	checkDocBlock(t, "seccomp", block, func(a, b string) bool { return a == b })
}
