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
	"regexp"
	"sort"
	"strings"
	"sync"
)

// ErrAmbiguous is wrapped by the error for an id prefix that matches several images.
var ErrAmbiguous = errors.New("ambiguous image id prefix")

// Resolve finds an image by name[:tag], name@digest (digests.go), id, or
// unique id prefix.
func (s *Store) Resolve(ref string) (Image, error) {
	repos, err := s.repositories()
	if err != nil {
		return Image{}, err
	}
	return s.resolve(ref, repos)
}

// resolve is Resolve with the name table already read.
func (s *Store) resolve(ref string, repos map[string]string) (Image, error) {
	if strings.Contains(ref, "@") {
		return s.resolveDigest(ref, repos)
	}
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
// dropped. It refuses what Docker refuses, with Docker's words.
func NormalizeRef(ref string) (string, error) {
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("invalid reference %q: digest references (name@sha256:...) are not supported", ref)
	}
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("%q is not a valid repository/tag: %w", ref, err)
	}
	if !tagPattern().MatchString(tag) {
		return "", fmt.Errorf("%q is not a valid repository/tag: invalid reference format: a tag is up to 128 letters, digits and . _ - and does not start with . or -", ref)
	}
	name = strings.TrimPrefix(name, "docker.io/")
	name = strings.TrimPrefix(name, "library/")
	if len(name) == 64 && isHex(name) {
		return "", fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", ref)
	}
	return name + ":" + tag, nil
}

// The grammar of distribution/reference, which Docker parses names with.
// Compiled on first use, not at start: a regexp is tens of kilobytes, and
// every minidocker process (a monitor stays for the container's life)
// would carry them whether it parses a name or not.
var (
	// componentPattern is one path component of a repository name.
	componentPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	})
	// domainPattern is a registry host (a DNS name or an IPv6 address in
	// brackets), with an optional port.
	domainPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	})
	// tagPattern is a tag.
	tagPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]{0,127}$`) })
)

// maxNameLength is the longest repository name Docker accepts.
const maxNameLength = 255

// checkName checks a repository name (no tag): an optional registry host
// (a first component with a dot, a colon or upper case, or "localhost",
// followed by more), then lower-case path components.
func checkName(name string) error {
	if name == "" {
		return errors.New("invalid reference format")
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("invalid reference format: repository name must not be more than %d characters", maxNameLength)
	}
	path := name
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first) {
		if !domainPattern().MatchString(first) {
			return errors.New("invalid reference format")
		}
		path = rest
	}
	for _, part := range strings.Split(path, "/") {
		if componentPattern().MatchString(part) {
			continue
		}
		if componentPattern().MatchString(strings.ToLower(part)) {
			return errors.New("invalid reference format: repository name must be lowercase")
		}
		return errors.New("invalid reference format")
	}
	return nil
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
