//go:build linux

// Kept credentials, in Docker's config.json shape:
//
//	{"auths": {"HOST": {"auth": "base64(user:password)"}}}
//
// in a file that only root may read (0600), replaced through a temp file
// and a rename so that a crash leaves the old file or the new one. A
// change (login, logout) reads, changes and writes the file while it
// holds an exclusive flock(2) on PATH.lock, so that two logins at once
// cannot both read the old file and each write it back without the
// other's entry. Readers take no lock: the rename makes every version
// of the file whole.

package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// AuthFile is a credentials file.
type AuthFile struct {
	Path string
}

// authConfig is the file's content.
type authConfig struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
}

// read reads the file; a missing one is empty.
func (f AuthFile) read() (authConfig, error) {
	var cfg authConfig
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parse %s: %w (remove it and log in again)", f.Path, err)
	}
	return cfg, nil
}

// Lookup returns the credentials kept for host.
func (f AuthFile) Lookup(host string) (Credentials, bool) {
	cfg, err := f.read()
	if err != nil {
		return Credentials{}, false
	}
	a, ok := cfg.Auths[host]
	if !ok && host == dockerHub {
		a, ok = cfg.Auths["https://index.docker.io/v1/"]
	}
	if !ok {
		return Credentials{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(a.Auth)
	if err != nil {
		return Credentials{}, false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	return Credentials{User: user, Password: pass}, ok
}

// Store keeps credentials for host (nil removes them); it reports whether
// there were any to remove.
func (f AuthFile) Store(host string, c *Credentials) (bool, error) {
	unlock, err := f.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	cfg, err := f.read()
	if err != nil {
		return false, err
	}
	if cfg.Auths == nil {
		cfg.Auths = map[string]struct {
			Auth string `json:"auth"`
		}{}
	}
	_, had := cfg.Auths[host]
	if c == nil {
		delete(cfg.Auths, host)
	} else {
		cfg.Auths[host] = struct {
			Auth string `json:"auth"`
		}{basicAuth(*c)}
	}
	data, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return had, err
	}
	return had, writePrivate(f.Path, append(data, '\n'))
}

// lock takes the file's lock (PATH.lock, made as needed), retrying on
// EINTR; the returned function releases it.
func (f AuthFile) lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return nil, fmt.Errorf("mkdir %s: %w", filepath.Dir(f.Path), err)
	}
	lf, err := os.OpenFile(f.Path+".lock", os.O_CREATE|os.O_RDWR, 0o600) // Go opens files close-on-exec
	if err != nil {
		return nil, fmt.Errorf("open %s.lock: %w", f.Path, err)
	}
	for {
		err = unix.Flock(int(lf.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("flock %s: %w", lf.Name(), err)
	}
	return func() { lf.Close() }, nil
}

// writePrivate writes a 0600 file through a temp file and a rename; on
// error the temp file is removed.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-") // mode 0600
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing of that name
	_, err = tmp.Write(data)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	return nil
}

// Ping opens a session with host, logging in with c, to check the
// credentials before they are kept.
func (cl *Client) Ping(host string, c Credentials) error {
	saved := cl.Auth
	cl.Auth = func(string) (Credentials, bool) { return c, true }
	defer func() { cl.Auth = saved }()
	_, err := cl.open(Reference{Host: host}, "pull")
	return err
}
