//go:build linux

// Names as Docker resolves them. A name is [HOST[:PORT]/]PATH[:TAG][@DIGEST]:
// the first component is a registry host when it has a "." or a ":", is
// "localhost" or has upper case; otherwise the image lives on Docker Hub, whose one-word
// names are under "library/" ("alpine" is docker.io/library/alpine:latest)
// and whose API is at registry-1.docker.io.

package registry

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// dockerHub is the registry a name without a host means.
const dockerHub = "docker.io"

// Reference is a parsed image name.
type Reference struct {
	Host   string // "docker.io", "localhost:5000", "registry.example.com"
	Path   string // "library/alpine", "app"
	Tag    string // "latest" when neither tag nor digest is given
	Digest string // "sha256:<hex>", or ""
}

// ParseReference parses an image name, refusing what Docker refuses.
func ParseReference(s string) (Reference, error) {
	var ref Reference
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, ref.Digest = rest[:i], rest[i+1:]
		if !validDigest(ref.Digest) {
			return ref, fmt.Errorf("invalid reference %q: a digest is sha256: and 64 lower-case hex digits", s)
		}
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, ref.Tag = rest[:i], rest[i+1:]
		if !validTag(ref.Tag) {
			return ref, fmt.Errorf("invalid reference %q: a tag is up to 128 letters, digits and . _ - and does not start with . or -", s)
		}
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = "latest"
	}
	ref.Host, ref.Path = dockerHub, rest
	if first, after, ok := strings.Cut(rest, "/"); ok && isHost(first) {
		ref.Host, ref.Path = first, after
	}
	if ref.Host == "index.docker.io" || ref.Host == "registry-1.docker.io" {
		ref.Host = dockerHub
	}
	if ref.Host == dockerHub && !strings.Contains(ref.Path, "/") {
		ref.Path = "library/" + ref.Path
	}
	if !validHost(ref.Host) || !validPath(ref.Path) {
		return ref, fmt.Errorf("invalid reference %q: a name is lower-case path components of letters, digits and . _ - separated by /, with an optional HOST[:PORT]/ first", s)
	}
	return ref, nil
}

// isHost reports whether a name's first component is a registry host, as
// Docker decides: it has a "." or a ":", is "localhost", or has upper case.
func isHost(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first
}

// Repository is the full repository name: host/path.
func (r Reference) Repository() string { return r.Host + "/" + r.Path }

// String is the full name: host/path:tag or host/path@digest.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Repository() + "@" + r.Digest
	}
	return r.Repository() + ":" + r.Tag
}

// LocalName is the name:tag the image store keys on (Docker Hub's prefix
// dropped, as Docker shows it), or "" for a reference by digest only.
func (r Reference) LocalName() string {
	if r.Tag == "" {
		return ""
	}
	name := r.Repository()
	if r.Host == dockerHub {
		name = strings.TrimPrefix(r.Path, "library/")
	}
	return name + ":" + r.Tag
}

// manifestRef is what the manifests/ endpoint is asked for: digest or tag.
func (r Reference) manifestRef() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// endpoint is the host the API is served from.
func (r Reference) endpoint() string {
	if r.Host == dockerHub {
		return "registry-1.docker.io"
	}
	return r.Host
}

// validDigest checks "sha256:" and 64 lower-case hex digits.
func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validTag checks a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
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

// validHost checks a host[:port]: letters, digits, "-", "." and one ":port";
// or a bracketed IPv6 address.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	if strings.HasPrefix(h, "[") {
		return strings.Contains(h, "]")
	}
	name, port, hasPort := strings.Cut(h, ":")
	if name == "" || (hasPort && (port == "" || strings.Trim(port, "0123456789") != "")) {
		return false
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" || part[0] == '-' {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// componentPattern is one path component, as distribution/reference has it:
// runs of lower-case letters and digits joined by ".", "_", "__" or dashes.
// Compiled on first use, as image's (a monitor never needs it).
var componentPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
})

// validPath checks the path: components as componentPattern says, so no
// "..", no upper case, no empty component.
func validPath(p string) bool {
	if p == "" || len(p) > 255 {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if !componentPattern().MatchString(part) {
			return false
		}
	}
	return true
}
