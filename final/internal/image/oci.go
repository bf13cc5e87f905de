//go:build linux

// Reading an OCI image layout (image-spec/image-layout.md): index.json
// lists manifests by digest; a manifest may instead be an index of its
// own (a multi-platform image), from which the manifest for this
// machine's platform is taken. Docker's v2 manifest and manifest-list
// media types are read the same way. Every JSON blob is checked against
// its digest as it is read. Names come from the annotations
// io.containerd.image.name (a full name, as Docker writes) or
// org.opencontainers.image.ref.name when it is a full name (podman,
// skopeo); a bare tag there names no repository, and the image is loaded
// by id only. Attestation manifests (buildx provenance) are skipped.

package image

import (
	"fmt"
	"runtime"
	"strings"
)

// Media types of indexes and manifests, OCI's and Docker's.
const (
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// maxIndexDepth bounds nested indexes, which a hostile layout could make cyclic.
const maxIndexDepth = 4

// ociImages reads index.json and everything it points to.
func (a *archive) ociImages() ([]loadImage, error) {
	var index ociIndex
	if _, err := a.readJSON("index.json", "", &index); err != nil {
		return nil, err
	}
	var out []loadImage
	for _, desc := range index.Manifests {
		images, err := a.ociDescriptor(desc, imageName(desc.Annotations), 0, false)
		if err != nil {
			return nil, err
		}
		out = append(out, images...)
	}
	return out, nil
}

// ociDescriptor follows one index entry: a manifest gives an image, a
// nested index the entries that fit this machine (pick set).
func (a *archive) ociDescriptor(desc descriptor, name string, depth int, pick bool) ([]loadImage, error) {
	if desc.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return nil, nil
	}
	if pick && desc.Platform != nil && (desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH) {
		return nil, nil
	}
	blob, err := blobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	switch desc.MediaType {
	case mediaTypeIndex, mediaTypeDockerList:
		if depth >= maxIndexDepth {
			return nil, fmt.Errorf("index %s: indexes nested more than %d deep", desc.Digest, maxIndexDepth)
		}
		var index ociIndex
		if _, err := a.readJSON(blob, desc.Digest, &index); err != nil {
			return nil, err
		}
		var out []loadImage
		for _, d := range index.Manifests {
			images, err := a.ociDescriptor(d, name, depth+1, true)
			if err != nil {
				return nil, err
			}
			out = append(out, images...)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("index %s has no image for linux/%s", desc.Digest, runtime.GOARCH)
		}
		return out[:1], nil
	case mediaTypeManifest, mediaTypeDockerManifest, "":
		return a.ociManifest(blob, desc.Digest, name)
	}
	return nil, fmt.Errorf("%s: unsupported media type %q", desc.Digest, desc.MediaType)
}

// ociManifest reads one image manifest.
func (a *archive) ociManifest(blob, digest, name string) ([]loadImage, error) {
	var m ociManifest
	if _, err := a.readJSON(blob, digest, &m); err != nil {
		return nil, err
	}
	config, err := blobPath(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	li := loadImage{config: config, configDigest: m.Config.Digest}
	if name != "" {
		li.tags = []string{name}
	}
	for _, l := range m.Layers {
		p, err := blobPath(l.Digest)
		if err != nil {
			return nil, err
		}
		li.layers = append(li.layers, blobRef{path: p, digest: l.Digest, size: l.Size})
	}
	return []loadImage{li}, nil
}

// blobPath is where a layout keeps the blob with a digest.
func blobPath(digest string) (string, error) {
	alg, h, ok := strings.Cut(digest, ":")
	if !ok || alg != "sha256" || !isDigestHex(h) {
		return "", fmt.Errorf("unsupported or malformed digest %q (only sha256 is supported)", digest)
	}
	return "blobs/sha256/" + h, nil
}

// imageName is the name an index entry gives its image, or "".
func imageName(annotations map[string]string) string {
	if n := annotations["io.containerd.image.name"]; n != "" {
		return n
	}
	if n := annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}
