//go:build linux

// Finding images. A reference is a name ("base", "base:v1",
// "docker.io/library/base:v1", which all mean the same as Docker's
// short forms), a full id with or without "sha256:", or a prefix of an
// id of at least one hex digit. As in Docker, a name wins over an id
// prefix that happens to spell it, and a prefix matching two images is
// refused, naming both.

package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrAmbiguous is wrapped by the error for an id prefix that matches several images.
var ErrAmbiguous = errors.New("ambiguous image id prefix")

// Resolve finds an image by name[:tag], id, or unique id prefix.
func (s *Store) Resolve(ref string) (Image, error) {
	repos, err := s.repositories()
	if err != nil {
		return Image{}, err
	}
	return s.resolve(ref, repos)
}

// resolve is Resolve with the name table already read.
func (s *Store) resolve(ref string, repos map[string]string) (Image, error) {
	if name, err := NormalizeRef(ref); err == nil {
		if id, ok := repos[name]; ok {
			return s.loadImage(hexOf(id), repos)
		}
	}
	prefix := strings.TrimPrefix(ref, "sha256:")
	if prefix == "" || len(prefix) > 64 || !isHex(prefix) {
		return Image{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	ids, err := s.imageIDs()
	if err != nil {
		return Image{}, err
	}
	var matches []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 0:
		return Image{}, fmt.Errorf("%w: %s", ErrNotFound, ref)
	case 1:
		return s.loadImage(matches[0], repos)
	}
	for i, id := range matches {
		matches[i] = shortID(id)
	}
	return Image{}, fmt.Errorf("%w %q: it matches images %s: give more digits", ErrAmbiguous, ref, strings.Join(matches, ", "))
}

// List returns every image, newest first.
func (s *Store) List() ([]Image, error) {
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	ids, err := s.imageIDs()
	if err != nil {
		return nil, err
	}
	images := make([]Image, 0, len(ids))
	for _, id := range ids {
		img, err := s.loadImage(id, repos)
		if errors.Is(err, ErrNotFound) {
			continue // removed while we listed
		}
		images = append(images, img) // a broken config is listed with what could be read
	}
	sort.Slice(images, func(i, j int) bool {
		a, b := images[i].CreatedAt(), images[j].CreatedAt()
		if !a.Equal(b) {
			return a.After(b)
		}
		return images[i].ID < images[j].ID
	})
	return images, nil
}

// Tag gives the image ref resolves to the name newRef (moving newRef if
// it named another image).
func (s *Store) Tag(ref, newRef string) error {
	name, err := NormalizeRef(newRef)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	repos, err := s.repositories()
	if err != nil {
		return err
	}
	img, err := s.resolve(ref, repos)
	if err != nil {
		return err
	}
	repos[name] = img.ID
	return s.writeRepositories(repos)
}

// NormalizeRef turns a name into the "name:tag" form the store keys on:
// ":latest" when no tag is given, and Docker Hub's "docker.io/library/"
// dropped. It refuses what is not a valid name.
func NormalizeRef(ref string) (string, error) {
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("invalid reference %q: digest references (name@sha256:...) are not supported", ref)
	}
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	name = strings.TrimPrefix(name, "docker.io/")
	name = strings.TrimPrefix(name, "library/")
	if !validName(name) {
		return "", fmt.Errorf("invalid reference %q: a name is lower-case letters, digits and . _ - / (with an optional host:port/ first)", ref)
	}
	if !validTag(tag) {
		return "", fmt.Errorf("invalid reference %q: a tag is up to 128 letters, digits and . _ - and does not start with . or -", ref)
	}
	if len(name) == 64 && isHex(name) {
		return "", fmt.Errorf("invalid reference %q: a name cannot be 64 hex digits, which is an image id", ref)
	}
	return name + ":" + tag, nil
}

// validName checks a repository name: path components of lower-case
// letters, digits and separators, the first of which may be a host:port.
func validName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for i, part := range strings.Split(name, "/") {
		if part == "" {
			return false
		}
		for _, c := range part {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || (i == 0 && (c == ':' || c >= 'A' && c <= 'Z'))
			if !ok {
				return false
			}
		}
	}
	return true
}

// validTag checks a tag as Docker does: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(tag string) bool {
	if tag == "" || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isHex reports whether s is lower-case hexadecimal.
func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isDigestHex reports whether s is 64 lower-case hex digits.
func isDigestHex(s string) bool {
	return len(s) == 64 && isHex(s)
}

// hexOf strips "sha256:" from a digest.
func hexOf(digest string) string {
	return strings.TrimPrefix(digest, "sha256:")
}

// shortID is the 12-digit form of an id or digest.
func shortID(id string) string {
	id = hexOf(id)
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// sha256Hex is the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
