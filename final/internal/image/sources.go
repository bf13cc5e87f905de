//go:build linux

// Where a layer's (or config's) blob is known to be in registries: the
// digest, media type and size it has there, and the repository
// ("host/path") a pull fetched it from or a push put it in. A push reads
// this to avoid sending a blob a registry has already: it asks the same
// repository (HEAD) or mounts it from another repository of the same
// registry, as Docker's distribution metadata lets it. Kept in
// blobsources.json {"<diff id or config digest>": [source, ...]}, written
// under the lock; at most maxSources per key, the newest first. It is a
// cache: a wrong entry costs a failed HEAD or mount, then an upload.

package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// BlobSource is a blob of a layer or config as one registry repository has it.
type BlobSource struct {
	Digest     string `json:"digest"`
	MediaType  string `json:"mediaType"`
	Size       int64  `json:"size"`
	Repository string `json:"repository"` // host/path
}

// maxSources bounds the sources kept for one blob.
const maxSources = 8

// blobSources reads blobsources.json; a missing one is empty.
func (s *Store) blobSources() (map[string][]BlobSource, error) {
	sources := map[string][]BlobSource{}
	data, err := os.ReadFile(s.path("blobsources.json"))
	if errors.Is(err, os.ErrNotExist) {
		return sources, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path("blobsources.json"), err)
	}
	if err := json.Unmarshal(data, &sources); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.path("blobsources.json"), err)
	}
	return sources, nil
}

// hasConfig reports whether an image config of this digest is stored.
func (s *Store) hasConfig(digest string) bool {
	_, err := os.Stat(s.path("images", hexOf(digest)+".json"))
	return isDigestHex(hexOf(digest)) && err == nil
}

// BlobSources returns where the blob of a layer (by diff id) or config
// (by digest) is known to be, newest first.
func (s *Store) BlobSources(key string) []BlobSource {
	sources, err := s.blobSources()
	if err != nil {
		return nil
	}
	return sources[key]
}

// AddBlobSources records, for each key, a place its blob is in.
func (s *Store) AddBlobSources(found map[string]BlobSource) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	sources, err := s.blobSources()
	if err != nil {
		return err
	}
	for key := range sources {
		if !s.HasLayer(key) && !s.hasConfig(key) {
			delete(sources, key) // its layer or image was removed
		}
	}
	for key, src := range found {
		list := []BlobSource{src}
		for _, old := range sources[key] {
			if old != src && len(list) < maxSources {
				list = append(list, old)
			}
		}
		sources[key] = list
	}
	data, err := json.Marshal(sources)
	if err != nil {
		return err
	}
	return s.writeFileSync(s.path("blobsources.json"), append(data, '\n'))
}
