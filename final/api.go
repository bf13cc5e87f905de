//go:build linux

// The Engine API's routing, version negotiation and errors.
//
// A client first asks GET or HEAD /_ping; the answer's Api-Version header
// is the newest version this daemon speaks. The client then speaks the
// older of that and its own, as a prefix of every path: /v1.50/containers/json.
// A path without the prefix is the newest version. A client older than
// minAPIVersion or newer than maxAPIVersion is refused with Docker's words.
//
// Errors are JSON, {"message": "..."}, with the status Docker gives: 404
// for an unknown container, image or endpoint, 409 for a conflict, 400
// for a bad parameter or body, 500 for the rest.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/state"
)

// The range of API versions served: 1.44 is what the Python SDK 7.x asks
// for by default, 1.50 what the docker CLI 28.2 speaks. A newer client
// negotiates down to maxAPIVersion.
const (
	minAPIVersion = "1.44"
	maxAPIVersion = "1.50"
)

// maxBody bounds a request's JSON body: a create request is a few kB.
const maxBody = 1 << 20

// versionPrefix is the /v1.NN at the start of a versioned path.
var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// api serves the Engine API over one session.
type api struct {
	s     *session
	mux   *http.ServeMux
	execs *execTable
}

// newAPI makes the API's router.
func newAPI(s *session) http.Handler {
	a := &api{s: s, mux: http.NewServeMux(), execs: newExecTable()}
	a.systemRoutes()
	a.containerRoutes()
	a.imageRoutes()
	a.streamRoutes()
	a.verbRoutes()
	a.archiveRoutes()
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "page not found")
	})
	return a
}

// ServeHTTP checks and strips the version prefix, then routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", maxAPIVersion)
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Server", "minidocker/"+Version+" (linux)")
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		if msg := checkVersion(m[1]); msg != "" {
			apiError(w, http.StatusBadRequest, msg)
			return
		}
		r.URL.Path, r.URL.RawPath = m[2], ""
	}
	if r.URL.Path != "/images/load" && !(r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/archive")) {
		// an image archive (load bounds it itself, image/load.go), or docker cp's tar
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	a.mux.ServeHTTP(w, r)
}

// checkVersion refuses a version outside the range served, as dockerd does.
func checkVersion(v string) string {
	switch {
	case versionLess(v, minAPIVersion):
		return fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, minAPIVersion)
	case versionLess(maxAPIVersion, v):
		return fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, maxAPIVersion)
	}
	return ""
}

// versionLess compares two MAJOR.MINOR versions as numbers (1.9 < 1.44).
func versionLess(a, b string) bool {
	am, an := splitVersion(a)
	bm, bn := splitVersion(b)
	return am < bm || (am == bm && an < bn)
}

// splitVersion reads MAJOR.MINOR.
func splitVersion(v string) (int, int) {
	major, minor, _ := strings.Cut(v, ".")
	m, _ := strconv.Atoi(major)
	n, _ := strconv.Atoi(minor)
	return m, n
}

// apiError writes {"message": msg} with status.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// fail answers err with the status Docker uses for its kind.
func fail(w http.ResponseWriter, err error) {
	apiError(w, errorStatus(err), err.Error())
}

// errorStatus is the HTTP status for an error of the session.
func errorStatus(err error) int {
	var conflict *conflictError
	var stateConflict *container.Conflict
	var usage *usageError
	var invalid *invalidError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, state.ErrNotFound), errors.Is(err, image.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &conflict), errors.As(err, &stateConflict), strings.HasPrefix(err.Error(), "conflict"),
		strings.Contains(err.Error(), "must be forced"):
		return http.StatusConflict
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &usage), errors.As(err, &invalid), errors.Is(err, image.ErrAmbiguous), strings.Contains(err.Error(), "not a valid"),
		strings.HasPrefix(err.Error(), "invalid"), strings.HasPrefix(err.Error(), "Invalid"):
		return http.StatusBadRequest
	}
	var se *statusError
	if errors.As(err, &se) && (se.status == 126 || se.status == 127) {
		return http.StatusBadRequest // the command cannot run: the client's to fix
	}
	return http.StatusInternalServerError
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes a request body into v; an empty body leaves v as is.
func readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return usagef("invalid JSON: %v", err)
	}
	return nil
}

// boolParam reads a query flag as Docker does: 1, true, True are true.
func boolParam(r *http.Request, name string) bool {
	v := strings.ToLower(r.URL.Query().Get(name))
	return v != "" && v != "0" && v != "false" && v != "no"
}

// intParam reads an integer query parameter, def when absent.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usagef("invalid value for %s: %q is not a number", name, v)
	}
	return n, nil
}

// noContent answers 204.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
