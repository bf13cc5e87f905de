//go:build tools

// Package suite pins the OCI runtime-tools validation suite (v0.9.0, the
// newest version the Go module proxy serves; its 58 validation programs and
// runtimetest) with the dependency versions it builds with: runtime-spec
// v1.0.2 (the suite predates the pointer fields of later versions) and
// selinux v1.8.0 (label.FileLabel). tests/oci_peers_test.go builds it.
package suite

import (
	_ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
	_ "github.com/opencontainers/runtime-tools/validation/util"
)
