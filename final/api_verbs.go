//go:build linux

// The Engine API's endpoints for rename, changes (diff) and prune, each
// over what its verb calls (cmd_rename.go, cmd_diff.go, cmd_prune.go);
// pause and unpause are with the other container endpoints, and the
// archive (cp) in api_archive.go.

package main

import (
	"net/http"
	"strings"
)

// verbRoutes registers rename, changes and the two prunes.
func (a *api) verbRoutes() {
	a.mux.HandleFunc("POST /containers/{id}/rename", a.renameContainer)
	a.mux.HandleFunc("GET /containers/{id}/changes", a.containerChanges)
	a.mux.HandleFunc("POST /containers/prune", a.pruneContainers)
	a.mux.HandleFunc("POST /images/prune", a.pruneImages)
}

// renameContainer is docker rename: ?name=NEW; 409 when NEW is taken.
func (a *api) renameContainer(w http.ResponseWriter, r *http.Request) {
	answer(w, renameContainer(a.s, r.PathValue("id"), r.URL.Query().Get("name")))
}

// changeView is one entry of GET /containers/{id}/changes.
type changeView struct {
	Path string
	Kind int
}

// containerChanges is docker diff: what the container's upper dir holds.
func (a *api) containerChanges(w http.ResponseWriter, r *http.Request) {
	list, err := containerChanges(a.s, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	out := []changeView{}
	for _, c := range list {
		out = append(out, changeView{c.Path, c.Kind})
	}
	writeJSON(w, http.StatusOK, out)
}

// pruneContainers is docker container prune.
func (a *api) pruneContainers(w http.ResponseWriter, r *http.Request) {
	p := pruneContainers(a.s)
	if p.err != nil {
		fail(w, p.err)
		return
	}
	ids := []string{}
	ids = append(ids, p.lines...)
	writeJSON(w, http.StatusOK, map[string]any{"ContainersDeleted": ids, "SpaceReclaimed": p.reclaimed})
}

// pruneImages is docker image prune: dangling images, or with the filter
// dangling=false (docker image prune -a) every image no container uses.
func (a *api) pruneImages(w http.ResponseWriter, r *http.Request) {
	filters, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		fail(w, err)
		return
	}
	all := false
	for _, v := range filters["dangling"] {
		all = all || v == "false" || v == "0"
	}
	p := pruneImages(a.s, all)
	if p.err != nil {
		fail(w, p.err)
		return
	}
	deleted := []map[string]string{}
	for _, l := range p.lines {
		kind, rest, _ := strings.Cut(l, ": ")
		key := "Deleted"
		if kind == "untagged" {
			key = "Untagged"
		}
		deleted = append(deleted, map[string]string{key: rest})
	}
	writeJSON(w, http.StatusOK, map[string]any{"ImagesDeleted": deleted, "SpaceReclaimed": p.reclaimed})
}
