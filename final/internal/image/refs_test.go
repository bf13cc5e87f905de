//go:build linux

// Tests of reference parsing against the grammar of distribution/reference.

package image

import (
	"strings"
	"testing"
)

func TestNormalizeRefFollowsDockersGrammar(t *testing.T) {
	good := map[string]string{
		"base":                          "base:latest",
		"base:v1":                       "base:v1",
		"docker.io/library/base:v1":     "base:v1",
		"library/base":                  "base:latest",
		"my-org/my_app__x.y---z:1.0-rc": "my-org/my_app__x.y---z:1.0-rc",
		"localhost/hello":               "localhost/hello:latest",
		"registry.example.com:5000/a/b": "registry.example.com:5000/a/b:latest",
		"[::1]:5000/a":                  "[::1]:5000/a:latest",
		"Registry.Example/a":            "Registry.Example/a:latest",
		"a:" + strings.Repeat("T", 128): "a:" + strings.Repeat("T", 128),
	}
	for ref, want := range good {
		if got, err := NormalizeRef(ref); got != want || err != nil {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	bad := map[string]string{
		"Base":                          "repository name must be lowercase",
		"Bad:tag":                       "repository name must be lowercase",
		"a/Bad":                         "repository name must be lowercase",
		"../../etc":                     "invalid reference format",
		"a/../b":                        "invalid reference format",
		"a:b:c":                         "invalid reference format",
		"a//b":                          "invalid reference format",
		"-a":                            "invalid reference format",
		"a-":                            "invalid reference format",
		"a..b":                          "invalid reference format",
		"a___b":                         "invalid reference format",
		"":                              "invalid reference format",
		"a:":                            "invalid reference format",
		"a:.x":                          "invalid reference format",
		"a:" + strings.Repeat("t", 129): "invalid reference format",
		"ex ample":                      "invalid reference format",
		strings.Repeat("a", 256):        "repository name must not be more than 255 characters",
		strings.Repeat("ab", 32):        "cannot specify 64-byte hexadecimal strings",
		"a@sha256:00":                   "digest references",
	}
	for ref, want := range bad {
		if got, err := NormalizeRef(ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeRef(%q) = %q, %v; want an error with %q", ref, got, err, want)
		}
	}
}
