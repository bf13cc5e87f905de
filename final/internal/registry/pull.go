//go:build linux

// Pulling: the manifest for a tag or digest (an index is narrowed to one
// platform's manifest), then the config, then the layers the store does
// not have yet, a few at a time. Nothing is stored until every byte has
// been checked; then the store takes the image in one locked step.

package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"github.com/minidocker/minidocker/final/internal/image"
)

// Media types of manifests, indexes, configs and layers, OCI's and Docker's.
const (
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeOCILayer       = "application/vnd.oci.image.layer.v1.tar"
	mediaTypeOCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaTypeOCILayerZstd   = "application/vnd.oci.image.layer.v1.tar+zstd"
)

// maxManifest bounds a manifest or index read into memory.
const maxManifest = 4 << 20

// maxConfig bounds an image config read into memory.
const maxConfig = 16 << 20

// parallel is how many layers download at once.
const parallel = 3

// Descriptor points at a blob: what it is, its digest and size.
type Descriptor struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *Platform `json:"platform,omitempty"`
}

// Platform is an os/architecture[/variant].
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// String is os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// HostPlatform is linux and this machine's architecture.
func HostPlatform() Platform {
	return Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("invalid platform %q: write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// manifest is an image manifest or an index, whichever was fetched.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
	Manifests     []Descriptor `json:"manifests,omitempty"`
}

// PullOptions say what to pull for and whom to tell.
type PullOptions struct {
	Platform Platform
	// Progress, when not nil, is told what happens, as Docker shows it.
	Progress Progress
}

// PullResult is what a pull did.
type PullResult struct {
	Image      image.Image
	Name       string // the full name pulled: host/path:tag or host/path@digest
	Digest     string // of the manifest (or index) the name resolved to
	Downloaded bool   // false when the store had every blob already
}

// Pull fetches ref into the store and names it (unless ref is by digest only).
func (c *Client) Pull(ctx context.Context, ref Reference, store *image.Store, opts PullOptions) (PullResult, error) {
	p := opts.Progress
	if p == nil {
		p = silent{}
	}
	if res, ok := pinnedHere(ref, store, p); ok {
		return res, nil
	}
	s, err := c.open(ref, "pull")
	if err != nil {
		return PullResult{}, err
	}
	p.Line(fmt.Sprintf("%s: Pulling from %s", ref.manifestRef(), ref.Path))
	m, digest, err := s.resolveManifest(ctx, ref.manifestRef(), opts.Platform)
	if err != nil {
		return PullResult{}, err
	}
	res := PullResult{Digest: digest, Name: ref.String()}
	config, have, err := s.fetchConfig(ctx, m, store)
	if err != nil {
		return res, err
	}
	var cfg image.Config
	if err := json.Unmarshal(config, &cfg); err != nil {
		return res, fmt.Errorf("image config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return res, fmt.Errorf("manifest %s lists %d layers, its config %d: the registry serves an inconsistent image", digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	layers, err := s.fetchLayers(ctx, m.Layers, cfg.RootFS.DiffIDs, store, p)
	if err != nil {
		return res, err
	}
	res.Downloaded = !have || len(layers) > 0
	if res.Image, err = store.AddImage(config, layers, ref.LocalName()); err != nil {
		return res, err
	}
	if err := record(ref, store, m, digest, res.Image); err != nil {
		return res, err
	}
	p.Line("Digest: " + digest)
	p.Line(status(ref, res.Downloaded))
	return res, nil
}

// pinnedHere answers a pull by digest of an image the store has, without
// asking the registry: a digest pins the content, so it is the same.
func pinnedHere(ref Reference, store *image.Store, p Progress) (PullResult, bool) {
	if ref.Digest == "" {
		return PullResult{}, false
	}
	img, err := store.Resolve(ref.String())
	if err != nil {
		return PullResult{}, false
	}
	p.Line("Digest: " + ref.Digest)
	p.Line(status(ref, false))
	return PullResult{Image: img, Name: ref.String(), Digest: ref.Digest}, true
}

// record notes, after a pull or push, the manifest digest ref's repository
// has for img and where the image's blobs are in it.
func record(ref Reference, store *image.Store, m manifest, digest string, img image.Image) error {
	if err := store.AddRepoDigest(ref.Repository(), digest, img.ID); err != nil {
		return err
	}
	return store.AddBlobSources(sourcesOf(ref, m, img.Config.RootFS.DiffIDs))
}

// sourcesOf says where a pulled image's blobs are: in ref's repository,
// as the manifest describes them; a push to the same registry mounts them.
func sourcesOf(ref Reference, m manifest, diffIDs []string) map[string]image.BlobSource {
	found := map[string]image.BlobSource{m.Config.Digest: blobSource(ref, m.Config)}
	for i, d := range m.Layers {
		found[diffIDs[i]] = blobSource(ref, d)
	}
	return found
}

// blobSource is a descriptor as found in ref's repository.
func blobSource(ref Reference, d Descriptor) image.BlobSource {
	return image.BlobSource{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Repository: ref.Repository()}
}

// status is the line that ends a pull, in Docker's words.
func status(ref Reference, downloaded bool) string {
	name := ref.LocalName()
	if name == "" {
		name = ref.String()
	}
	if downloaded {
		return "Status: Downloaded newer image for " + name
	}
	return "Status: Image is up to date for " + name
}

// resolveManifest fetches the manifest for a tag or digest; an index is
// narrowed to the one manifest for the platform. The digest returned is
// the first one fetched (the index's, for an index), as Docker prints it.
func (s *session) resolveManifest(ctx context.Context, tagOrDigest string, want Platform) (manifest, string, error) {
	m, digest, err := s.fetchManifest(ctx, tagOrDigest)
	if err != nil {
		return m, "", err
	}
	switch m.MediaType {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		return m, digest, nil
	case MediaTypeOCIIndex, MediaTypeDockerList:
	default:
		return m, "", fmt.Errorf("manifest %s: unknown media type %q: not an image this client knows", digest, m.MediaType)
	}
	for _, d := range m.Manifests {
		if d.Platform == nil || d.Platform.OS != want.OS || d.Platform.Architecture != want.Architecture ||
			(want.Variant != "" && d.Platform.Variant != want.Variant) {
			continue
		}
		if !validDigest(d.Digest) { // a tag here would be fetched unchecked
			return m, "", fmt.Errorf("manifest %s: bad descriptor for %s: digest %q", digest, want, d.Digest)
		}
		inner, _, err := s.fetchManifest(ctx, d.Digest)
		if err != nil {
			return inner, "", err
		}
		if inner.MediaType != MediaTypeOCIManifest && inner.MediaType != MediaTypeDockerManifest {
			return inner, "", fmt.Errorf("manifest %s (for %s): media type %q is not an image manifest", d.Digest, want, inner.MediaType)
		}
		return inner, digest, nil
	}
	return m, "", fmt.Errorf("%s has no image for %s (it has: %s): choose one with --platform", s.ref, want, platforms(m.Manifests))
}

// platforms lists an index's platforms for an error message.
func platforms(ds []Descriptor) string {
	var out []string
	for _, d := range ds {
		if d.Platform != nil {
			out = append(out, d.Platform.String())
		}
	}
	return strings.Join(out, ", ")
}

// fetchManifest gets one manifest or index, checking its digest when it
// was asked for by digest, and its media type.
func (s *session) fetchManifest(ctx context.Context, tagOrDigest string) (manifest, string, error) {
	var m manifest
	header := http.Header{}
	header.Set("Accept", strings.Join([]string{MediaTypeOCIIndex, MediaTypeOCIManifest, MediaTypeDockerList, MediaTypeDockerManifest}, ", "))
	resp, err := s.do(ctx, http.MethodGet, "/v2/"+s.ref.Path+"/manifests/"+tagOrDigest, header, nil, 0)
	if err != nil {
		return m, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return m, "", fmt.Errorf("%s: manifest unknown: no such image or tag on %s", s.ref, s.ref.Host)
	}
	if resp.StatusCode != http.StatusOK {
		return m, "", apiError("GET manifest of "+s.ref.String(), resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return m, "", fmt.Errorf("read manifest of %s: %w", s.ref, err)
	}
	if len(data) > maxManifest {
		return m, "", fmt.Errorf("manifest of %s is larger than %d bytes: refused", s.ref, maxManifest)
	}
	digest := "sha256:" + sha256Hex(data)
	if strings.HasPrefix(tagOrDigest, "sha256:") && digest != tagOrDigest {
		return m, "", fmt.Errorf("manifest %s: the registry sent content that hashes to %s: refused", tagOrDigest, digest)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, "", fmt.Errorf("parse manifest of %s: %w", s.ref, err)
	}
	if m.MediaType == "" {
		m.MediaType, _, _ = strings.Cut(resp.Header.Get("Content-Type"), ";")
	}
	return m, digest, nil
}

// fetchConfig returns the image config: from the store when an image with
// that id is there (have), otherwise downloaded and checked.
func (s *session) fetchConfig(ctx context.Context, m manifest, store *image.Store) ([]byte, bool, error) {
	switch m.Config.MediaType {
	case mediaTypeOCIConfig, mediaTypeDockerConfig:
	default:
		return nil, false, fmt.Errorf("config %s: unknown media type %q: not a container image", m.Config.Digest, m.Config.MediaType)
	}
	if !validDigest(m.Config.Digest) || m.Config.Size < 0 || m.Config.Size > maxConfig {
		return nil, false, fmt.Errorf("manifest: bad config descriptor (%q, %d bytes)", m.Config.Digest, m.Config.Size)
	}
	if img, err := store.Resolve(m.Config.Digest); err == nil && img.ID == m.Config.Digest {
		if data, err := store.RawConfig(img); err == nil {
			return data, true, nil
		}
	}
	body, err := s.blob(ctx, m.Config)
	if err != nil {
		return nil, false, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, false, err
	}
	return data, false, nil
}

// fetchLayers downloads the layers the store lacks, a few at a time, into
// temp layers; on an error, those already made are discarded.
func (s *session) fetchLayers(ctx context.Context, descs []Descriptor, diffIDs []string, store *image.Store, p Progress) ([]image.Layer, error) {
	d := &downloads{sem: make(chan struct{}, parallel), p: p}
	ctx, d.cancel = context.WithCancel(ctx)
	defer d.cancel()
	for i, desc := range descs {
		if store.HasLayer(diffIDs[i]) {
			p.Layer(shortHex(desc.Digest), "Already exists", 0, 0)
			continue
		}
		if err := checkLayerType(desc); err != nil {
			d.fail(err)
			break
		}
		p.Layer(shortHex(desc.Digest), "Pulling fs layer", 0, 0)
		d.wg.Add(1)
		go d.fetch(ctx, s, desc, diffIDs[i], store)
	}
	d.wg.Wait()
	if d.err != nil {
		discard(d.layers)
		return nil, d.err
	}
	for i, desc := range descs {
		if !store.HasLayer(diffIDs[i]) {
			p.Layer(shortHex(desc.Digest), "Pull complete", 0, 0)
		}
	}
	return d.layers, nil
}

// downloads is the shared state of one pull's layer downloads.
type downloads struct {
	sem    chan struct{} // bounds how many run at once
	wg     sync.WaitGroup
	cancel context.CancelFunc
	p      Progress
	mu     sync.Mutex // guards layers and err
	layers []image.Layer
	err    error // the first failure, which cancels the others
}

// fetch downloads one layer, as a goroutine of fetchLayers.
func (d *downloads) fetch(ctx context.Context, s *session, desc Descriptor, diffID string, store *image.Store) {
	defer d.wg.Done()
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	l, err := s.fetchLayer(ctx, desc, diffID, store, d.p)
	if err != nil {
		d.fail(err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.layers = append(d.layers, l)
	d.p.Layer(shortHex(desc.Digest), "Download complete", 0, 0)
}

// fail records the first error and cancels the other downloads.
func (d *downloads) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
		d.cancel()
	}
}

// discard removes temp layers.
func discard(layers []image.Layer) {
	for _, l := range layers {
		l.Discard()
	}
}

// checkLayerType refuses layers this client cannot store.
func checkLayerType(d Descriptor) error {
	switch d.MediaType {
	case mediaTypeDockerLayer, mediaTypeOCILayer, mediaTypeOCILayerGzip, mediaTypeOCILayerZstd:
		return nil
	}
	return fmt.Errorf("layer %s: unknown media type %q", d.Digest, d.MediaType)
}

// fetchLayer downloads one layer into a temp layer, checking the blob's
// digest and size and the uncompressed tar's diff id.
func (s *session) fetchLayer(ctx context.Context, d Descriptor, diffID string, store *image.Store, p Progress) (image.Layer, error) {
	body, err := s.blob(ctx, d)
	if err != nil {
		return image.Layer{}, err
	}
	defer body.Close()
	counted := &progressReader{r: body, id: shortHex(d.Digest), status: "Downloading", total: d.Size, p: p}
	l, err := store.AddLayer(counted)
	if err == nil {
		_, err = io.Copy(io.Discard, counted) // the rest, so that the digest is checked
	}
	if err != nil {
		l.Discard()
		return image.Layer{}, fmt.Errorf("layer %s: %w", d.Digest, err)
	}
	if l.DiffID() != diffID {
		l.Discard()
		return image.Layer{}, fmt.Errorf("layer %s: uncompressed it is %s, but the image config says %s: refused", d.Digest, l.DiffID(), diffID)
	}
	return l, nil
}

// blob opens a blob for reading; the reader fails, instead of ending,
// when the content does not match the descriptor's digest and size.
func (s *session) blob(ctx context.Context, d Descriptor) (io.ReadCloser, error) {
	if !validDigest(d.Digest) || d.Size < 0 {
		return nil, fmt.Errorf("bad descriptor: digest %q, size %d", d.Digest, d.Size)
	}
	resp, err := s.do(ctx, http.MethodGet, "/v2/"+s.ref.Path+"/blobs/"+d.Digest, nil, nil, 0)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, apiError("GET blob "+d.Digest, resp)
	}
	return &verifier{body: resp.Body, hash: sha256.New(), want: d}, nil
}

// verifier checks a blob as it is read: never more than its size, and at
// the end its size and sha256.
type verifier struct {
	body io.ReadCloser
	hash hash.Hash
	n    int64
	want Descriptor
}

// Read reads and hashes; at the end of the stream it returns an error
// instead of io.EOF if the blob is short or does not hash to its digest.
func (v *verifier) Read(p []byte) (int, error) {
	if rest := v.want.Size - v.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := v.body.Read(p)
	v.hash.Write(p[:n])
	v.n += int64(n)
	if v.n > v.want.Size {
		return n, fmt.Errorf("blob %s is longer than the %d bytes its descriptor says: refused", v.want.Digest, v.want.Size)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.want.Size {
			return n, fmt.Errorf("blob %s: got %d of %d bytes: the download was cut short", v.want.Digest, v.n, v.want.Size)
		}
		if got := "sha256:" + hex.EncodeToString(v.hash.Sum(nil)); got != v.want.Digest {
			return n, fmt.Errorf("blob %s: the registry sent content that hashes to %s: refused", v.want.Digest, got)
		}
	} else if err != nil {
		return n, fmt.Errorf("blob %s: %w", v.want.Digest, err)
	}
	return n, err
}

// Close closes the response body.
func (v *verifier) Close() error { return v.body.Close() }

// sha256Hex is the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// shortHex is the 12 hex digits Docker shows of a digest.
func shortHex(digest string) string {
	h := strings.TrimPrefix(digest, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
