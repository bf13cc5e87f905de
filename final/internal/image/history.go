//go:build linux

// History, as `docker history` shows it: one row per history entry,
// newest first; entries that made a layer are matched to the image's
// layers in order, so each row can show its layer's size. Only the top
// row carries the image's id; the others show "<missing>", as Docker
// does for steps it has no local image of.

package image

import "time"

// HistoryEntry is one row of an image's history.
type HistoryEntry struct {
	ID         string // the image id on the top row, "<missing>" below
	Created    time.Time
	CreatedBy  string
	Size       int64 // bytes of the layer this step made, 0 for an empty layer
	Comment    string
	EmptyLayer bool
}

// History lists the steps that made the image ref, newest first.
func (s *Store) History(ref string) ([]HistoryEntry, error) {
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	diffIDs := img.Config.RootFS.DiffIDs
	var rows []HistoryEntry
	layer := 0
	for _, h := range img.Config.History {
		row := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			row.Created = *h.Created
		}
		if !h.EmptyLayer && layer < len(diffIDs) {
			row.Size = s.layerSize(diffIDs[layer])
			layer++
		}
		rows = append(rows, row)
	}
	for ; layer < len(diffIDs); layer++ { // layers the history does not describe
		rows = append(rows, HistoryEntry{ID: "<missing>", Size: s.layerSize(diffIDs[layer])})
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].ID = img.ID
	}
	return rows, nil
}
