//go:build linux

// The Engine API's image endpoints, over the image store and the
// registry client. An image's name may hold slashes and a port
// (localhost:5000/team/app:1), so /images/{name}/json and the like are
// routed by their last element, not by a pattern.

package main

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/registry"
)

// imageRoutes registers the image endpoints.
func (a *api) imageRoutes() {
	a.mux.HandleFunc("GET /images/json", a.listImages)
	a.mux.HandleFunc("POST /images/create", a.pullImage)
	a.mux.HandleFunc("POST /commit", a.commit)
	a.mux.HandleFunc("GET /images/get", a.saveImages)
	a.mux.HandleFunc("POST /images/load", a.loadImages)
	a.mux.HandleFunc("GET /containers/{id}/export", a.exportContainer)
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

// newImageSummary lists img with its "repo@sha256:..." names; users is
// how many containers use it (-1: not counted).
func newImageSummary(img image.Image, digests []string, users int) imageSummary {
	labels := img.Config.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return imageSummary{
		ID: img.ID, RepoTags: nonNilStrings(img.Tags), RepoDigests: nonNilStrings(digests), Created: img.CreatedAt().Unix(),
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
		out = append(out, newImageSummary(img, a.s.images.RepoDigests(img), -1))
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
	case r.Method == http.MethodGet && action == "get":
		a.save(w, []string{name})
	case r.Method == http.MethodPost && action == "push":
		a.pushImage(w, r, name)
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
	writeJSON(w, http.StatusOK, newImageView(img, a.s.images.RepoDigests(img)))
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

// jsonProgress sends a pull's or push's progress as the JSON messages of
// Docker's API: {"status": line} for a line, and {"id", "status",
// "progressDetail": {"current", "total"}} for a layer, which the docker
// CLI draws as bars on a terminal. Byte counts go at most every 100 ms
// per layer.
type jsonProgress struct {
	mu    sync.Mutex
	enc   *json.Encoder
	flush http.Flusher
	sent  map[string]time.Time // when a layer's byte count was last sent
}

// Line sends one status line.
func (p *jsonProgress) Line(text string) {
	p.send(map[string]any{"status": text})
}

// Layer sends a layer's state, and its bytes while they move.
func (p *jsonProgress) Layer(id, status string, current, total int64) {
	msg := map[string]any{"id": id, "status": status}
	if current > 0 {
		p.mu.Lock()
		if p.sent == nil {
			p.sent = map[string]time.Time{}
		}
		last, ok := p.sent[id]
		if ok && current < total && time.Since(last) < 100*time.Millisecond {
			p.mu.Unlock()
			return
		}
		p.sent[id] = time.Now()
		p.mu.Unlock()
		msg["progressDetail"] = map[string]int64{"current": current, "total": total}
	}
	p.send(msg)
}

// send writes one JSON message and flushes it to the client.
func (p *jsonProgress) send(msg map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(msg)
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

// saveImages is docker save: GET /images/get?names=A&names=B, a tar.
func (a *api) saveImages(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		apiError(w, http.StatusBadRequest, "names is required: the images to save")
		return
	}
	a.save(w, names)
}

// save writes the archive of names. An error before the first byte is a
// JSON error; after it, the client sees a tar cut short.
func (a *api) save(w http.ResponseWriter, names []string) {
	for _, n := range names {
		if _, err := a.s.images.Resolve(n); err != nil {
			fail(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	_ = a.s.images.Save(w, names)
}

// loadImages is docker load: the body is an archive, the answer its
// lines as {"stream": ...} objects.
func (a *api) loadImages(w http.ResponseWriter, r *http.Request) {
	lines, err := a.s.images.Load(r.Body)
	if err != nil && len(lines) == 0 {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for _, l := range lines {
		_ = enc.Encode(map[string]string{"stream": l + "\n"})
	}
	if err != nil {
		_ = enc.Encode(map[string]any{"error": err.Error(), "errorDetail": map[string]string{"message": err.Error()}})
	}
}

// exportContainer is docker export: the container's filesystem as a tar.
// The layers are mounted in a mount namespace of one thread's own, a
// thread that is then thrown away (it is never unlocked), so that no
// other request ever runs in that namespace.
func (a *api) exportContainer(w http.ResponseWriter, r *http.Request) {
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	p := container.PathsIn(a.s.rt.State.Dir(c.ID))
	w.Header().Set("Content-Type", "application/x-tar")
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		_ = exportUnion(w, append([]string{p.Upper}, c.Minidocker.Layers...), p.Rootfs)
	}()
	<-done
}

// pushImage is docker push: POST /images/NAME/push?tag=TAG, progress as
// JSON lines. The credentials are the daemon's (minidocker login); the
// client's X-Registry-Auth header is not used.
func (a *api) pushImage(w http.ResponseWriter, r *http.Request, name string) {
	if t := r.URL.Query().Get("tag"); t != "" {
		name += ":" + t
	}
	ref, err := registry.ParseReference(name)
	if err != nil {
		fail(w, usagef("%v", err))
		return
	}
	img, err := a.s.images.Resolve(displayName(ref))
	if err != nil {
		apiError(w, http.StatusNotFound, "An image does not exist locally with the tag: "+name)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := &jsonProgress{enc: json.NewEncoder(w), flush: w.(http.Flusher)}
	if _, err := a.s.registryClient().Push(r.Context(), ref, a.s.images, img, out); err != nil {
		_ = out.enc.Encode(map[string]any{"error": err.Error(), "errorDetail": map[string]string{"message": err.Error()}})
	}
}
