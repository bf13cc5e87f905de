//go:build linux

// The Engine API's image endpoints, over the image store and the
// registry client. An image's name may hold slashes and a port
// (localhost:5000/team/app:1), so /images/{name}/json and the like are
// routed by their last element, not by a pattern.

package main

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/minidocker/minidocker/final/internal/image"
)

// imageRoutes registers the image endpoints.
func (a *api) imageRoutes() {
	a.mux.HandleFunc("GET /images/json", a.listImages)
	a.mux.HandleFunc("POST /images/create", a.pullImage)
	a.mux.HandleFunc("POST /commit", a.commit)
	a.mux.HandleFunc("/images/{rest...}", a.imageByName)
}

// imageSummary is one image as GET /images/json lists it.
type imageSummary struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Created     int64             `json:"Created"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	Labels      map[string]string `json:"Labels"`
	Containers  int               `json:"Containers"`
}

// newImageSummary lists img; users is how many containers use it (-1: not counted).
func newImageSummary(img image.Image, users int) imageSummary {
	labels := img.Config.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return imageSummary{
		ID: img.ID, RepoTags: nonNilStrings(img.Tags), RepoDigests: []string{}, Created: img.CreatedAt().Unix(),
		Size: img.Size, SharedSize: -1, Labels: labels, Containers: users,
	}
}

// listImages is docker images.
func (a *api) listImages(w http.ResponseWriter, r *http.Request) {
	list, err := a.s.images.List()
	if err != nil {
		fail(w, err)
		return
	}
	out := []imageSummary{}
	for _, img := range list {
		out = append(out, newImageSummary(img, -1))
	}
	writeJSON(w, http.StatusOK, out)
}

// imageByName routes /images/NAME/{json,history,tag} and DELETE /images/NAME.
func (a *api) imageByName(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	name, action := rest, ""
	if i := strings.LastIndex(rest, "/"); i > 0 {
		switch rest[i+1:] {
		case "json", "history", "tag", "push", "get":
			name, action = rest[:i], rest[i+1:]
		}
	}
	switch {
	case r.Method == http.MethodGet && action == "json":
		a.inspectImage(w, name)
	case r.Method == http.MethodGet && action == "history":
		a.imageHistory(w, name)
	case r.Method == http.MethodPost && action == "tag":
		a.tagImage(w, r, name)
	case r.Method == http.MethodDelete && action == "":
		a.removeImage(w, r, name)
	default:
		apiError(w, http.StatusNotFound, "page not found")
	}
}

// inspectImage is docker image inspect.
func (a *api) inspectImage(w http.ResponseWriter, name string) {
	img, err := a.s.images.Resolve(name)
	if err != nil {
		apiError(w, errorStatus(err), "No such image: "+name)
		return
	}
	writeJSON(w, http.StatusOK, newImageView(img))
}

// imageHistory is docker history.
func (a *api) imageHistory(w http.ResponseWriter, name string) {
	entries, err := a.s.images.History(name)
	if err != nil {
		fail(w, err)
		return
	}
	out := []map[string]any{}
	for _, h := range entries {
		out = append(out, map[string]any{
			"Id": h.ID, "Created": h.Created.Unix(), "CreatedBy": h.CreatedBy, "Tags": []string{},
			"Size": h.Size, "Comment": h.Comment,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// tagImage is docker tag: ?repo=NAME&tag=TAG.
func (a *api) tagImage(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	target := q.Get("repo")
	if t := q.Get("tag"); t != "" {
		target += ":" + t
	}
	if err := a.s.images.Tag(name, target); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// removeImage is docker rmi [-f]: the lines Untagged and Deleted, as objects.
func (a *api) removeImage(w http.ResponseWriter, r *http.Request, name string) {
	lines, err := a.s.images.Remove(name, boolParam(r, "force"), a.s.imageUsers())
	if err != nil && len(lines) == 0 {
		fail(w, err)
		return
	}
	out := []map[string]string{}
	for _, l := range lines {
		key, value, _ := strings.Cut(l, ": ")
		out = append(out, map[string]string{key: value})
	}
	writeJSON(w, http.StatusOK, out)
}

// pullImage is docker pull (POST /images/create?fromImage=NAME&tag=TAG):
// the registry client's progress lines, each as a JSON object
// {"status": ...}, and an error, if the pull fails halfway, as the
// last object {"error": ..., "errorDetail": {"message": ...}}.
func (a *api) pullImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("fromImage")
	if ref == "" {
		apiError(w, http.StatusBadRequest, "fromImage is required: only pulls are supported (import with the CLI)")
		return
	}
	if t := q.Get("tag"); t != "" {
		sep := ":"
		if strings.HasPrefix(t, "sha256:") {
			sep = "@"
		}
		ref += sep + t
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := &jsonProgress{enc: json.NewEncoder(w), flush: w.(http.Flusher)}
	if _, err := a.s.pull(ref, q.Get("platform"), out); err != nil {
		_ = out.enc.Encode(map[string]any{"error": err.Error(), "errorDetail": map[string]string{"message": err.Error()}})
	}
}

// jsonProgress turns the progress lines of a pull into JSON objects.
type jsonProgress struct {
	enc   *json.Encoder
	flush http.Flusher
}

// Write sends each line written as {"status": line}.
func (p *jsonProgress) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		p.status(line)
	}
	return len(b), nil
}

// status sends one status line.
func (p *jsonProgress) status(line string) {
	_ = p.enc.Encode(map[string]string{"status": line})
	p.flush.Flush()
}

// commit is docker commit: POST /commit?container=ID&repo=NAME&tag=TAG.
func (a *api) commit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref := q.Get("repo")
	if ref != "" && q.Get("tag") != "" {
		ref += ":" + q.Get("tag")
	}
	o := &commitOptions{message: q.Get("comment"), author: q.Get("author"), changes: q["changes"]}
	var rc image.RunConfig
	if err := image.ApplyChanges(o.changes, &rc); err != nil {
		fail(w, usagef("%v", err))
		return
	}
	img, err := commitContainer(a.s, q.Get("container"), ref, o)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": img.ID})
}
