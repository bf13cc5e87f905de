//go:build linux

// Repository digests: which manifest a registry served (or accepted) for
// an image. A manifest's digest names the image in a registry, as the id
// names it here; Docker shows them as RepoDigests ("host/repo@sha256:..."),
// and a name of that form resolves to the image without asking the
// registry, since the digest pins the content. They are kept apart from
// the tags, in repodigests.json {"repo@sha256:...": "sha256:<image id>"},
// written under the lock like repositories.json; an entry whose image
// was removed is dropped at the next write and ignored before that.

package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// NormalizeDigestRef turns "name[:tag]@sha256:<hex>" into the
// "repo@sha256:<hex>" form the store keys on (a tag beside a digest is
// ignored, as Docker does).
func NormalizeDigestRef(ref string) (string, error) {
	name, digest, ok := strings.Cut(ref, "@")
	if !ok || !isDigestHex(strings.TrimPrefix(digest, "sha256:")) || !strings.HasPrefix(digest, "sha256:") {
		return "", fmt.Errorf("invalid reference %q: write NAME@sha256:<64 hex digits>", ref)
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	tagged, err := NormalizeRef(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(tagged, ":latest") + "@" + digest, nil
}

// repoDigests reads repodigests.json; a missing one is empty.
func (s *Store) repoDigests() (map[string]string, error) {
	digests := map[string]string{}
	data, err := os.ReadFile(s.path("repodigests.json"))
	if errors.Is(err, os.ErrNotExist) {
		return digests, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path("repodigests.json"), err)
	}
	if err := json.Unmarshal(data, &digests); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.path("repodigests.json"), err)
	}
	return digests, nil
}

// AddRepoDigest records that the registry's manifest digest for the
// repository of name (any of Resolve's name forms) is the image id.
func (s *Store) AddRepoDigest(name, digest, id string) error {
	key, err := NormalizeDigestRef(name + "@" + digest)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	digests, err := s.repoDigests()
	if err != nil {
		return err
	}
	for k, v := range digests {
		if _, err := os.Stat(s.path("images", hexOf(v)+".json")); err != nil {
			delete(digests, k) // its image was removed
		}
	}
	digests[key] = id
	data, err := json.MarshalIndent(digests, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFileSync(s.path("repodigests.json"), append(data, '\n'))
}

// RepoDigests returns the "repo@sha256:..." names of an image, sorted.
func (s *Store) RepoDigests(img Image) []string {
	digests, err := s.repoDigests()
	if err != nil {
		return nil
	}
	var out []string
	for k, v := range digests {
		if v == img.ID {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// resolveDigest finds the image a "name@sha256:..." reference names.
func (s *Store) resolveDigest(ref string, repos map[string]string) (Image, error) {
	key, err := NormalizeDigestRef(ref)
	if err != nil {
		return Image{}, err
	}
	digests, err := s.repoDigests()
	if err != nil {
		return Image{}, err
	}
	id, ok := digests[key]
	if !ok {
		return Image{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return s.loadImage(hexOf(id), repos)
}
