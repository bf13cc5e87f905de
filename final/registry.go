//go:build linux

// What pull, push, login and run share: the registry client, set up from
// the global flags and the state directory.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/registry"
)

// authFile is where login keeps credentials: <root>/config.json, 0600.
func (s *session) authFile() registry.AuthFile {
	return registry.AuthFile{Path: filepath.Join(s.root, "config.json")}
}

// registryClient is a client with the user's CAs, insecure hosts,
// credentials, --debug, and $MINIDOCKER_REGISTRY_TIMEOUT (a Go duration,
// "2s": how long a registry may stay silent; tests and slow links set it).
func (s *session) registryClient() *registry.Client {
	c := &registry.Client{
		Insecure: s.insecure,
		CertDirs: []string{filepath.Join(s.root, "certs.d"), "/etc/docker/certs.d"},
		Auth:     s.authFile().Lookup,
	}
	if d, err := time.ParseDuration(os.Getenv("MINIDOCKER_REGISTRY_TIMEOUT")); err == nil && d > 0 {
		c.Timeout = d
	}
	if s.debug {
		c.Debug = os.Stderr
	}
	return c
}

// pull fetches ref into the store, telling progress (nil: nothing).
func (s *session) pull(ref string, platform string, progress registry.Progress) (registry.PullResult, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return registry.PullResult{}, err
	}
	opts := registry.PullOptions{Platform: registry.HostPlatform()}
	if platform != "" {
		if opts.Platform, err = registry.ParsePlatform(platform); err != nil {
			return registry.PullResult{}, err
		}
	}
	opts.Progress = progress
	return s.registryClient().Pull(context.Background(), r, s.images, opts)
}

// resolveOrPull finds an image, pulling it first when it is not in the
// store, as Docker's run does; "base" is never pulled.
func (s *session) resolveOrPull(ref string) (image.Image, error) {
	img, err := s.resolveImage(ref)
	if err == nil || !errors.Is(err, image.ErrNotFound) || ref == "base" || ref == "base:latest" {
		return img, err
	}
	r, perr := registry.ParseReference(ref)
	if perr != nil {
		return img, err
	}
	fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", displayName(r))
	res, perr := s.pull(ref, "", newProgress(os.Stderr))
	if perr != nil {
		return img, fmt.Errorf("%w locally: %s, and pulling it failed: %w", image.ErrNotFound, ref, perr)
	}
	return res.Image, nil
}

// displayName is a reference as Docker shows it: Hub's prefix dropped.
func displayName(r registry.Reference) string {
	if n := r.LocalName(); n != "" {
		return n
	}
	return r.String()
}
