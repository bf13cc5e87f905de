//go:build linux

// What a registry client needs of the store. A pull brings an image
// config and its layers as compressed blobs; each layer is decompressed
// into a temp file under tmp/ as it streams (AddLayer), hashed on the same
// pass, and only when every layer is there does AddImage check the diff
// ids against the config and move layers, config and name into place
// under the lock, as load does. A pull killed at any moment leaves temp
// files of a dead process, which the next locked operation removes. The
// layers are unpacked later, on first use, by the same code (and the same
// hostile-tar defences) as every other layer. A push reads the config and
// layer tars back (RawConfig, OpenLayer).

package image

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/minidocker/minidocker/final/internal/overlay"
)

// Layer is a layer written to tmp/ by AddLayer, not yet in the store.
type Layer struct {
	p pendingLayer
}

// DiffID is the sha256 of the layer's uncompressed tar.
func (l Layer) DiffID() string { return l.p.diffID }

// Discard removes the temp file of a layer that will not be stored.
func (l Layer) Discard() { os.Remove(l.p.path) }

// HasLayer reports whether the layer with this diff id is stored.
func (s *Store) HasLayer(diffID string) bool {
	return isDigestHex(hexOf(diffID)) && s.layerSize(diffID) > 0
}

// AddLayer decompresses r (gzip, bzip2 or plain tar) into a temp file,
// returning the layer and its diff id.
func (s *Store) AddLayer(r io.Reader) (Layer, error) {
	plain, err := overlay.Decompress(r)
	if err != nil {
		return Layer{}, err
	}
	p, err := s.writeLayer(func(w io.Writer) error { _, err := io.Copy(w, plain); return err })
	return Layer{p: p}, err
}

// AddImage stores an image config whose layers are either already stored
// or among layers (which it consumes), and names it name ("" for none).
// The config's diff ids must all be accounted for.
func (s *Store) AddImage(config []byte, layers []Layer, name string) (Image, error) {
	defer func() {
		for _, l := range layers {
			l.Discard()
		}
	}()
	var cfg Config
	if err := json.Unmarshal(config, &cfg); err != nil {
		return Image{}, fmt.Errorf("parse image config: %w", err)
	}
	if name != "" {
		var err error
		if name, err = NormalizeRef(name); err != nil {
			return Image{}, err
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if err := s.installLayers(cfg.RootFS.DiffIDs, layers); err != nil {
		return Image{}, err
	}
	return s.addImage(config, name)
}

// installLayers installs the temp layers a config lists, and checks that
// the others are stored already. Called with the lock held.
func (s *Store) installLayers(diffIDs []string, layers []Layer) error {
	byID := map[string]pendingLayer{}
	for _, l := range layers {
		byID[l.p.diffID] = l.p
	}
	for i, id := range diffIDs {
		if p, ok := byID[id]; ok {
			if err := s.installLayer(p); err != nil {
				return err
			}
			delete(byID, id)
		} else if !s.HasLayer(id) {
			return fmt.Errorf("image config: layer %d (%s) was neither downloaded nor found in the store", i+1, id)
		}
	}
	return nil
}

// RawConfig returns an image's config exactly as stored (its sha256 is the id).
func (s *Store) RawConfig(img Image) ([]byte, error) {
	return s.rawConfig(img.ID)
}

// OpenLayer opens a stored layer's uncompressed tar.
func (s *Store) OpenLayer(diffID string) (*os.File, error) {
	if !isDigestHex(hexOf(diffID)) {
		return nil, fmt.Errorf("bad layer digest %q", diffID)
	}
	f, err := os.Open(s.path("layers", hexOf(diffID), "layer.tar"))
	if err != nil {
		return nil, fmt.Errorf("layer %s is missing from the store: %w", shortID(diffID), err)
	}
	return f, nil
}
