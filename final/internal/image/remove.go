//go:build linux

// Removing images, Docker's way. rmi of a name that is one of several
// tags only untags. rmi of an image's last name, or of its id, deletes
// the config and then every layer that no remaining image lists. An
// image that a container uses (the caller says which through usedBy) is
// refused; with force it is untagged but kept, since the container still
// needs its layers (Docker deletes the record and keeps the layers
// alive by reference count; here the config is what keeps them). The
// caller should refuse running containers' images itself if it wants
// Docker's "cannot be forced" rule.
//
// A layer is collected by renaming its directory into tmp/ first and
// deleting it there, so a crash halfway never leaves a layer.tar beside a
// half-deleted diff/.

package image

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// UsedBy names the containers using an image (by id), or none. Remove
// and Prune call it with the store's lock held (store.go, Users).
type UsedBy func(imageID string) []string

// Remove deletes or untags the image ref names and returns Docker-style
// lines: "Untagged: name:tag", "Deleted: sha256:...".
func (s *Store) Remove(ref string, force bool, usedBy UsedBy) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	repos, err := s.repositories()
	if err != nil {
		return nil, err
	}
	img, err := s.resolve(ref, repos)
	if err != nil {
		return nil, err
	}
	name, _ := NormalizeRef(ref)
	byName := repos[name] == img.ID
	var users []string
	if usedBy != nil {
		users = usedBy(img.ID)
	}
	switch {
	case byName && len(img.Tags) > 1:
		delete(repos, name)
		return []string{"Untagged: " + name}, s.writeRepositories(repos)
	case !byName && len(img.Tags) > 1 && !force:
		return nil, fmt.Errorf("unable to delete %s (must be forced): image is referenced in multiple repositories (%s)", img.ShortID(), strings.Join(img.Tags, ", "))
	case len(users) > 0 && !force && byName:
		return nil, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s (remove the container first, or use rmi -f)", ref, users[0], img.ShortID())
	case len(users) > 0 && !force:
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by container %s (remove the container first, or use rmi -f)", img.ShortID(), users[0])
	}
	lines := untagAll(repos, img)
	if err := s.writeRepositories(repos); err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return lines, nil // forced: untagged, kept for its containers
	}
	deleted, _, err := s.deleteImages([]Image{img})
	return append(lines, deleted...), err
}

// untagAll removes every name of img from repos.
func untagAll(repos map[string]string, img Image) []string {
	var lines []string
	for _, tag := range img.Tags {
		delete(repos, tag)
		lines = append(lines, "Untagged: "+tag)
	}
	return lines
}

// deleteImages removes image configs, then the layers no image lists any
// more; it returns Docker-style lines and the bytes freed. Called with
// the lock held.
func (s *Store) deleteImages(images []Image) ([]string, int64, error) {
	var lines []string
	for _, img := range images {
		path := s.path("images", hexOf(img.ID)+".json")
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return lines, 0, fmt.Errorf("remove %s: %w", path, err)
		}
		lines = append(lines, "Deleted: "+img.ID)
	}
	layerLines, freed, err := s.collectLayers()
	return append(lines, layerLines...), freed, err
}

// referencedLayers is the set of layer hex digests some image lists.
func (s *Store) referencedLayers() (map[string]bool, error) {
	images, err := s.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, img := range images {
		for _, id := range img.Config.RootFS.DiffIDs {
			used[hexOf(id)] = true
		}
	}
	return used, nil
}

// collectLayers deletes the layers no image lists. Called with the lock held.
func (s *Store) collectLayers() ([]string, int64, error) {
	used, err := s.referencedLayers()
	if err != nil {
		return nil, 0, err
	}
	entries, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", s.path("layers"), err)
	}
	var lines []string
	var freed int64
	for _, e := range entries {
		if used[e.Name()] {
			continue
		}
		freed += dirSize(s.path("layers", e.Name()))
		tmp := s.tempName("gc")
		if err := os.Rename(s.path("layers", e.Name()), tmp); err != nil {
			return lines, freed, fmt.Errorf("rename %s to %s: %w", s.path("layers", e.Name()), tmp, err)
		}
		if err := os.RemoveAll(tmp); err != nil {
			return lines, freed, fmt.Errorf("remove %s: %w", tmp, err)
		}
		lines = append(lines, "Deleted: sha256:"+e.Name())
	}
	return lines, freed, nil
}

// dirSize is the disk space used below dir, in bytes.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil {
			if info, err := d.Info(); err == nil && !d.IsDir() {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// Prune removes images no container uses: the untagged ones, or with all
// every one; then unused layers. It returns what it deleted and the bytes freed.
func (s *Store) Prune(usedBy UsedBy, all bool) ([]string, int64, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	images, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	repos, err := s.repositories()
	if err != nil {
		return nil, 0, err
	}
	var lines []string
	var doomed []Image
	for _, img := range images {
		if (len(img.Tags) > 0 && !all) || (usedBy != nil && len(usedBy(img.ID)) > 0) {
			continue
		}
		lines = append(lines, untagAll(repos, img)...)
		doomed = append(doomed, img)
	}
	if err := s.writeRepositories(repos); err != nil {
		return nil, 0, err
	}
	deleted, freed, err := s.deleteImages(doomed)
	return append(lines, deleted...), freed, err
}

// Usage sums up the store for `system df`.
type Usage struct {
	Images      int   // images in the store
	Active      int   // images some container uses
	Layers      int   // distinct layers
	Size        int64 // bytes on disk: layer tars and unpacked layers
	Reclaimable int64 // bytes that prune -a would free
}

// DiskUsage measures the store; usedBy says which images are in use.
func (s *Store) DiskUsage(usedBy UsedBy) (Usage, error) {
	images, err := s.List()
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	kept := map[string]bool{}
	u.Images = len(images)
	for _, img := range images {
		if usedBy != nil && len(usedBy(img.ID)) > 0 {
			u.Active++
			for _, id := range img.Config.RootFS.DiffIDs {
				kept[hexOf(id)] = true
			}
		}
	}
	entries, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return u, fmt.Errorf("read %s: %w", s.path("layers"), err)
	}
	for _, e := range entries {
		size := dirSize(s.path("layers", e.Name()))
		u.Layers++
		u.Size += size
		if !kept[e.Name()] {
			u.Reclaimable += size
		}
	}
	return u, nil
}
