//go:build linux

// The Engine API's archive endpoints, which docker cp uses: HEAD says
// what a path in the container is (the X-Docker-Container-Path-Stat
// header: base64 of its JSON stat), GET sends it as a tar, PUT unpacks a
// tar into a directory of the container. The client decides the names
// in the tar (docker cp renames the top entry as the copy's rules say);
// the daemon only resolves paths inside the container's root (cp.go)
// and unpacks with the layer rules, below the directory given.

package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/overlay"
)

// archiveRoutes registers the archive endpoints.
func (a *api) archiveRoutes() {
	a.mux.HandleFunc("HEAD /containers/{id}/archive", a.statArchive)
	a.mux.HandleFunc("GET /containers/{id}/archive", a.getArchive)
	a.mux.HandleFunc("PUT /containers/{id}/archive", a.putArchive)
}

// archivePath reads ?path=, which must be given.
func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", usagef("bad parameter: path cannot be empty")
	}
	return containerPath(p), nil
}

// statHeader sets X-Docker-Container-Path-Stat.
func statHeader(w http.ResponseWriter, st overlay.PathStat) {
	data, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(data))
}

// statArchive is HEAD: the stat header, or 404.
func (a *api) statArchive(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	p, err := archivePath(r)
	c, ferr := a.s.rt.Find(ref)
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = withRoot(a.s, c, false, func(root int) error {
			st, err := statIn(ref, root, p)
			if err == nil {
				statHeader(w, st)
			}
			return err
		})
	}
	if err != nil {
		w.WriteHeader(errorStatus(err)) // a HEAD answer has no body
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getArchive is GET: the stat header and the tar of the path, whose top
// entry is the path's last element.
func (a *api) getArchive(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	p, err := archivePath(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := a.s.rt.Find(ref)
	if err != nil {
		fail(w, err)
		return
	}
	err = withRoot(a.s, c, false, func(root int) error {
		st, err := statIn(ref, root, p)
		if err != nil {
			return err
		}
		statHeader(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		_ = overlay.WriteCopy(w, root, p, overlay.ArchiveName(p), false) // a failure midway cuts the tar short
		return nil
	})
	if err != nil {
		fail(w, err)
	}
}

// putArchive is PUT: the body, a tar, unpacked into the directory path.
// copyUIDGID=1 (docker cp -a) keeps the tar's owners; without it every
// file belongs to the container's root.
func (a *api) putArchive(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	p, err := archivePath(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := a.s.rt.Find(ref)
	if err != nil {
		fail(w, err)
		return
	}
	owner := rootOwner(c)
	if boolParam(r, "copyUIDGID") {
		owner = nil
	}
	err = withRoot(a.s, c, true, func(root int) error {
		fd, err := openDirIn(ref, root, p)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		_, err = overlay.ApplyCopy(r.Body, fd, p, owner)
		return err
	})
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK) // not 204: the docker client wants 200
}
