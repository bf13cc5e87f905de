//go:build linux

// Where a rootless user's minidocker keeps things, as the XDG base
// directory specification says: images and containers under the data
// home ($XDG_DATA_HOME, or ~/.local/share), what lives only while the
// machine runs (the user-mode network's sockets) under $XDG_RUNTIME_DIR,
// a tmpfs of the user's own that the login manager makes and removes.

package rootless

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// DataDir is the rootless state root: $XDG_DATA_HOME/minidocker, or
// ~/.local/share/minidocker.
func DataDir() (string, error) {
	if dir := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "minidocker"), nil
	}
	home := os.Getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("neither XDG_DATA_HOME nor HOME is an absolute path: set one, or give --root")
	}
	return filepath.Join(home, ".local", "share", "minidocker"), nil
}

// RuntimeDir is $XDG_RUNTIME_DIR/minidocker, made when missing. It is
// refused when XDG_RUNTIME_DIR is unset, or is not a directory of the
// calling user's that no one else may write. Inside the user namespace
// the user is root, so the owner looked for there is 0.
func RuntimeDir() (string, error) {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(base) {
		return "", fmt.Errorf("XDG_RUNTIME_DIR is not set: rootless minidocker keeps its runtime state there (log in through a session that sets it, e.g. with systemd-logind, or export XDG_RUNTIME_DIR=/run/user/$(id -u) after making it, mode 0700, yours)")
	}
	info, err := os.Stat(base)
	if err != nil {
		return "", fmt.Errorf("XDG_RUNTIME_DIR %s: %w (make it yours, mode 0700)", base, err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || !ok || int(st.Uid) != os.Geteuid() || info.Mode().Perm()&0o022 != 0 {
		return "", fmt.Errorf("XDG_RUNTIME_DIR %s is not a directory of yours that only you can write (owner %d, mode %v): point it at your own, mode 0700", base, ownerOf(st), info.Mode().Perm())
	}
	dir := filepath.Join(base, "minidocker")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make %s: %w", dir, err)
	}
	return dir, nil
}

// ownerOf is a stat's uid, or -1.
func ownerOf(st *syscall.Stat_t) int {
	if st == nil {
		return -1
	}
	return int(st.Uid)
}
