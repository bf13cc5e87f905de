//go:build linux

// Pushing: every layer, gzip-compressed from the store's tar into a temp
// file (so its digest and size are known before the upload starts), then
// the config, then the manifest that names them; three layers at a time.
// A blob the registry already has (HEAD answers 200) is not sent again. Each upload is
// "monolithic": POST opens it, one PUT ?digest= sends the whole blob.
//
// Before compressing anything, a push asks the store where each blob is
// already known to be (image.BlobSources: pulled from, or pushed to). In
// this repository, HEAD confirms it; in another repository of the same
// registry, it is mounted: POST /v2/NAME/blobs/uploads/?mount=DIGEST&from=OTHER
// answers 201 Created, and not a byte of the blob travels. A registry that
// cannot mount (no such blob, no right to read OTHER) answers 202 with an
// upload instead, which is cancelled, and the blob is uploaded as usual.
//
// The manifest is Docker's v2 schema 2, not OCI's: every registry in use
// (Docker Hub, distribution 2.x, registries older than the OCI spec)
// accepts it, and the images it describes are the ones Docker pushes; the
// two formats carry the same information.

package registry

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/minidocker/minidocker/final/internal/image"
)

// Push uploads the stored image img as ref (which has a tag) and returns
// the manifest's digest.
func (c *Client) Push(ctx context.Context, ref Reference, store *image.Store, img image.Image, progress Progress) (string, error) {
	p := progress
	if p == nil {
		p = silent{}
	}
	if ref.Digest != "" || ref.Tag == "" {
		return "", fmt.Errorf("push %s: name a tag, not a digest", ref)
	}
	config, err := store.RawConfig(img)
	if err != nil {
		return "", err
	}
	s, err := c.open(ref, "pull,push", mountable(ref, store, append([]string{img.ID}, img.Config.RootFS.DiffIDs...))...)
	if err != nil {
		return "", err
	}
	p.Line(fmt.Sprintf("The push refers to repository [%s]", ref.Repository()))
	m := manifest{SchemaVersion: 2, MediaType: MediaTypeDockerManifest}
	if m.Layers, err = s.pushLayers(ctx, store, img.Config.RootFS.DiffIDs, p); err != nil {
		return "", err
	}
	m.Config = Descriptor{MediaType: mediaTypeDockerConfig, Digest: "sha256:" + sha256Hex(config), Size: int64(len(config))}
	if err := s.pushConfig(ctx, store, m.Config, config); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return "", err
	}
	digest, err := s.putManifest(ctx, ref.Tag, data)
	if err != nil {
		return "", err
	}
	if err := record(ref, store, m, digest, img); err != nil {
		return "", err
	}
	p.Line(fmt.Sprintf("%s: digest: %s size: %d", ref.Tag, digest, len(data)))
	return digest, nil
}

// pushLayers pushes an image's layers, a few at a time, and returns their
// descriptors in the image's order; the first failure cancels the rest.
func (s *session) pushLayers(ctx context.Context, store *image.Store, diffIDs []string, p Progress) ([]Descriptor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex // guards first
		first error
		wg    sync.WaitGroup
	)
	descs := make([]Descriptor, len(diffIDs))
	sem := make(chan struct{}, parallel)
	for i, diffID := range diffIDs {
		wg.Add(1)
		go func(i int, diffID string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := s.pushLayer(ctx, store, diffID, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
				cancel()
			}
			descs[i] = d
		}(i, diffID)
	}
	wg.Wait()
	return descs, first
}

// pushConfig uploads the image config unless the registry has it or can
// mount it.
func (s *session) pushConfig(ctx context.Context, store *image.Store, d Descriptor, config []byte) error {
	if _, _, ok := s.reuse(ctx, store.BlobSources(d.Digest), isConfigType, d.MediaType); ok {
		return nil
	}
	if have, err := s.hasBlob(ctx, d.Digest); err != nil || have {
		return err
	}
	return s.pushBlob(ctx, d, func() (io.Reader, error) { return strings.NewReader(string(config)), nil })
}

// pushLayer compresses one stored layer and uploads it unless the
// registry has it or can mount it.
func (s *session) pushLayer(ctx context.Context, store *image.Store, diffID string, p Progress) (Descriptor, error) {
	if d, how, ok := s.reuse(ctx, store.BlobSources(diffID), isGzipLayer, mediaTypeDockerLayer); ok {
		p.Layer(shortHex(d.Digest), how, 0, 0)
		return d, nil
	}
	path, d, err := compressLayer(store, diffID)
	if err != nil {
		return d, err
	}
	defer os.Remove(path)
	have, err := s.hasBlob(ctx, d.Digest)
	if err != nil {
		return d, err
	}
	if have {
		p.Layer(shortHex(d.Digest), "Layer already exists", 0, 0)
		return d, nil
	}
	p.Layer(shortHex(d.Digest), "Preparing", 0, 0)
	err = s.pushBlob(ctx, d, func() (io.Reader, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return &progressReader{r: f, id: shortHex(d.Digest), status: "Pushing", total: d.Size, p: p}, nil
	})
	if err == nil {
		p.Layer(shortHex(d.Digest), "Pushed", 0, 0)
	}
	return d, err
}

// mountable lists the other repositories of ref's registry that hold
// blobs of these keys, whose pull access the token must include.
func mountable(ref Reference, store *image.Store, keys []string) []string {
	seen := map[string]bool{}
	var paths []string
	for _, key := range keys {
		for _, src := range store.BlobSources(key) {
			if path, ok := strings.CutPrefix(src.Repository, ref.Host+"/"); ok && path != ref.Path && !seen[path] {
				seen[path] = true
				paths = append(paths, path)
			}
		}
	}
	return paths
}

// isGzipLayer reports whether a layer's media type is gzip, the only
// compression a Docker manifest (which push writes) may name.
func isGzipLayer(mediaType string) bool {
	return mediaType == mediaTypeDockerLayer || mediaType == mediaTypeOCILayerGzip
}

// isConfigType reports whether a media type is an image config's.
func isConfigType(mediaType string) bool {
	return mediaType == mediaTypeDockerConfig || mediaType == mediaTypeOCIConfig
}

// reuse finds a blob the registry has already, among the places it is
// known to be: in this repository (HEAD), or in another repository of
// the same registry, mounted from it. It returns the blob's descriptor
// (with mediaType, the manifest's name for it) and Docker's word for
// what happened.
func (s *session) reuse(ctx context.Context, sources []image.BlobSource, accept func(string) bool, mediaType string) (Descriptor, string, bool) {
	for _, src := range sources {
		from, ok := strings.CutPrefix(src.Repository, s.ref.Host+"/")
		if !ok || !accept(src.MediaType) || !validDigest(src.Digest) {
			continue
		}
		d := Descriptor{MediaType: mediaType, Digest: src.Digest, Size: src.Size}
		if from == s.ref.Path {
			if have, err := s.hasBlob(ctx, d.Digest); err == nil && have {
				return d, "Layer already exists", true
			}
			continue
		}
		if s.mountBlob(ctx, d.Digest, from) {
			return d, "Mounted from " + from, true
		}
	}
	return Descriptor{}, "", false
}

// mountBlob asks the registry to link a blob of repository from into
// this one: 201 means done; 202 means it started an upload instead,
// which is cancelled.
func (s *session) mountBlob(ctx context.Context, digest, from string) bool {
	q := url.Values{"mount": {digest}, "from": {from}}
	resp, err := s.do(ctx, http.MethodPost, "/v2/"+s.ref.Path+"/blobs/uploads/?"+q.Encode(), nil, nil, 0)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted && resp.Header.Get("Location") != "" {
		if loc, err := url.Parse(s.base + "/"); err == nil {
			if loc, err = loc.Parse(resp.Header.Get("Location")); err == nil {
				if resp, err := s.do(ctx, http.MethodDelete, loc.String(), nil, nil, 0); err == nil {
					resp.Body.Close()
				}
			}
		}
	}
	return resp.StatusCode == http.StatusCreated
}

// compressLayer gzips a stored layer into a temp file under the store's
// tmp/ (named with our pid, so a crash leaves nothing for long) and
// returns its descriptor.
func compressLayer(store *image.Store, diffID string) (string, Descriptor, error) {
	d := Descriptor{MediaType: mediaTypeDockerLayer}
	src, err := store.OpenLayer(diffID)
	if err != nil {
		return "", d, err
	}
	defer src.Close()
	f, err := os.CreateTemp(filepath.Join(store.Dir(), "tmp"), fmt.Sprintf("%d-push-*", os.Getpid()))
	if err != nil {
		return "", d, fmt.Errorf("push: temp file: %w", err)
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	zw := gzip.NewWriter(bw)
	_, err = io.Copy(zw, bufio.NewReaderSize(src, 1<<20))
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", d, fmt.Errorf("compress layer %s: %w", diffID, err)
	}
	fi, err := os.Stat(f.Name())
	if err != nil {
		os.Remove(f.Name())
		return "", d, err
	}
	d.Digest, d.Size = "sha256:"+hex.EncodeToString(h.Sum(nil)), fi.Size()
	return f.Name(), d, nil
}

// hasBlob asks HEAD /v2/NAME/blobs/DIGEST.
func (s *session) hasBlob(ctx context.Context, digest string) (bool, error) {
	resp, err := s.do(ctx, http.MethodHead, "/v2/"+s.ref.Path+"/blobs/"+digest, nil, nil, 0)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HEAD blob %s: %s", digest, resp.Status)
}

// pushBlob uploads a blob: POST to open an upload, PUT ?digest= with the
// whole content to finish it.
func (s *session) pushBlob(ctx context.Context, d Descriptor, open func() (io.Reader, error)) error {
	resp, err := s.do(ctx, http.MethodPost, "/v2/"+s.ref.Path+"/blobs/uploads/", nil, nil, 0)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return apiError("start upload of "+d.Digest, resp)
	}
	loc, err := url.Parse(s.base + "/")
	if err == nil {
		loc, err = loc.Parse(resp.Header.Get("Location"))
	}
	if err != nil || resp.Header.Get("Location") == "" {
		return fmt.Errorf("start upload of %s: the registry gave no usable Location", d.Digest)
	}
	q := loc.Query()
	q.Set("digest", d.Digest)
	loc.RawQuery = q.Encode()
	body, err := open()
	if err != nil {
		return err
	}
	if c, ok := body.(io.Closer); ok {
		defer c.Close()
	}
	header := http.Header{}
	header.Set("Content-Type", "application/octet-stream")
	resp, err = s.do(ctx, http.MethodPut, loc.String(), header, body, d.Size)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return apiError("upload "+d.Digest, resp)
	}
	return nil
}

// putManifest uploads the manifest under a tag and returns its digest.
func (s *session) putManifest(ctx context.Context, tag string, data []byte) (string, error) {
	header := http.Header{}
	header.Set("Content-Type", MediaTypeDockerManifest)
	resp, err := s.do(ctx, http.MethodPut, "/v2/"+s.ref.Path+"/manifests/"+tag, header, strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", apiError("PUT manifest "+tag, resp)
	}
	return "sha256:" + sha256Hex(data), nil
}
