//go:build linux

// Which seccomp profile a container runs under, as Docker decides it:
// Docker's default, unless --privileged (none) or --security-opt
// seccomp=unconfined (none) or seccomp=PROFILE (that one). The record
// keeps the choice in HostConfig.SecurityOpt, a file's profile as its JSON
// text (as the docker CLI sends it), so every start and exec compiles the
// same profile, for the container's capabilities.

package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/minidocker/minidocker/final/internal/seccomp"
	"github.com/minidocker/minidocker/final/internal/state"
)

// seccompOpt splits a --security-opt into the seccomp value, if it is one
// ("seccomp=X", or the older "seccomp:X").
func seccompOpt(opt string) (string, bool) {
	for _, sep := range []string{"=", ":"} {
		if v, ok := strings.CutPrefix(opt, "seccomp"+sep); ok {
			return v, true
		}
	}
	return "", false
}

// CheckSeccompOpt checks a --security-opt seccomp=... value and returns
// it as the record keeps it: a file's profile is read, checked, compiled
// once for these capabilities, and kept as compact JSON.
func CheckSeccompOpt(opt string, capAdd, capDrop []string) (string, error) {
	v, ok := seccompOpt(opt)
	if !ok || v == "unconfined" || v == "builtin" {
		return opt, nil
	}
	data, err := os.ReadFile(v)
	if err != nil {
		return "", fmt.Errorf("--security-opt seccomp=%s: %w (give a profile file, or seccomp=unconfined)", v, err)
	}
	p, err := seccomp.Parse(data)
	if err != nil {
		return "", fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
	}
	if _, err := seccomp.Compile(p, CapSet(capAdd, capDrop, false)); err != nil {
		return "", fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return "", fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
	}
	return "seccomp=" + compact.String(), nil
}

// SeccompFilter compiles the profile a container's record names (nil:
// none, with --privileged or seccomp=unconfined).
func SeccompFilter(hc state.HostConfig) (seccomp.Program, error) {
	if hc.Privileged {
		return nil, nil
	}
	p, err := seccomp.Default()
	if err != nil {
		return nil, err
	}
	for _, opt := range hc.SecurityOpt {
		v, ok := seccompOpt(opt)
		switch {
		case !ok || v == "builtin":
		case v == "unconfined":
			return nil, nil
		default:
			if p, err = seccomp.Parse([]byte(v)); err != nil {
				return nil, fmt.Errorf("the container's seccomp profile: %w", err)
			}
		}
	}
	return seccomp.Compile(p, CapSet(hc.CapAdd, hc.CapDrop, false))
}
