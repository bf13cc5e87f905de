//go:build linux

// The Engine API's endpoints for rename, changes (diff) and prune, each
// over what its verb calls (cmd_rename.go, cmd_diff.go, cmd_prune.go);
// pause and unpause are with the other container endpoints, and the
// archive (cp) in api_archive.go.

package main

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/state"
)

// verbRoutes registers rename, changes and the two prunes.
func (a *api) verbRoutes() {
	a.mux.HandleFunc("POST /containers/{id}/rename", a.renameContainer)
	a.mux.HandleFunc("GET /containers/{id}/changes", a.containerChanges)
	a.mux.HandleFunc("POST /containers/prune", a.pruneContainers)
	a.mux.HandleFunc("POST /images/prune", a.pruneImages)
	a.mux.HandleFunc("POST /containers/{id}/update", a.updateContainer)
}

// updateRequest is the body of POST /containers/{id}/update: the
// resource fields of a HostConfig; zero means unchanged.
type updateRequest struct {
	Memory     int64
	MemorySwap int64
	CPUShares  int64 `json:"CpuShares"`
	NanoCpus   int64
	CpusetCpus string
	PidsLimit  *int64
}

// updateContainer is docker update.
func (a *api) updateContainer(w http.ResponseWriter, r *http.Request) {
	var req updateRequest
	if err := readJSON(r, &req); err != nil {
		fail(w, err)
		return
	}
	f := cgroups.Flags{CPUShares: req.CPUShares, CpusetCPUs: req.CpusetCpus, CPUs: float64(req.NanoCpus) / 1e9}
	if req.Memory > 0 {
		f.Memory = strconv.FormatInt(req.Memory, 10)
	}
	if req.MemorySwap != 0 {
		f.MemorySwap = strconv.FormatInt(req.MemorySwap, 10)
	}
	if req.PidsLimit != nil && *req.PidsLimit > 0 {
		f.PidsLimit = *req.PidsLimit
	}
	err := withLock(a.s, r.PathValue("id"), func(c *state.Container) error { return updateLimits(a.s, c, f) })
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"Warnings": {}})
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
