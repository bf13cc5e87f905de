//go:build linux

// The Engine API's container endpoints, each a few lines over what the
// verbs call: create() of create.go, startDetached, withLock, Stop,
// Kill, removeContainer, restartContainer, the records.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/state"
)

// containerRoutes registers the container endpoints.
func (a *api) containerRoutes() {
	a.mux.HandleFunc("GET /containers/json", a.listContainers)
	a.mux.HandleFunc("POST /containers/create", a.createContainer)
	a.mux.HandleFunc("GET /containers/{id}/json", a.inspectContainer)
	a.mux.HandleFunc("POST /containers/{id}/start", a.startContainer)
	a.mux.HandleFunc("POST /containers/{id}/stop", a.stopContainer)
	a.mux.HandleFunc("POST /containers/{id}/restart", a.restartContainer)
	a.mux.HandleFunc("POST /containers/{id}/kill", a.killContainer)
	a.mux.HandleFunc("DELETE /containers/{id}", a.removeContainer)
	a.mux.HandleFunc("POST /containers/{id}/wait", a.waitContainer)
	a.mux.HandleFunc("GET /containers/{id}/top", a.topContainer)
	a.mux.HandleFunc("GET /containers/{id}/stats", a.statsContainer)
	a.mux.HandleFunc("POST /containers/{id}/resize", a.resizeContainer)
	a.mux.HandleFunc("POST /containers/{id}/pause", a.pauseContainer)
	a.mux.HandleFunc("POST /containers/{id}/unpause", a.unpauseContainer)
}

// containerSummary is one container as GET /containers/json lists it.
type containerSummary struct {
	ID              string            `json:"Id"`
	Names           []string          `json:"Names"`
	Image           string            `json:"Image"`
	ImageID         string            `json:"ImageID"`
	Command         string            `json:"Command"`
	Created         int64             `json:"Created"`
	Ports           []portView        `json:"Ports"`
	SizeRw          int64             `json:"SizeRw,omitempty"`
	Labels          map[string]string `json:"Labels"`
	State           string            `json:"State"`
	Status          string            `json:"Status"`
	HostConfig      struct{ NetworkMode string }
	NetworkSettings struct{ Networks map[string]any }
	Mounts          []state.Mount `json:"Mounts"`
}

// portView is one published port of a listed container.
type portView struct {
	IP          string `json:"IP,omitempty"`
	PrivatePort int    `json:"PrivatePort"`
	PublicPort  int    `json:"PublicPort,omitempty"`
	Type        string `json:"Type"`
}

// newContainerSummary lists c as docker ps reads it.
func newContainerSummary(c *state.Container) containerSummary {
	cs := containerSummary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Config.Image, ImageID: c.Image,
		Command: strings.Join(append([]string{c.Path}, c.Args...), " "), Created: c.Created.Unix(),
		Ports: []portView{}, Labels: c.Config.Labels, State: c.State.Status, Status: c.Status(), Mounts: c.Mounts,
	}
	if cs.Labels == nil {
		cs.Labels = map[string]string{}
	}
	if cs.Mounts == nil {
		cs.Mounts = []state.Mount{}
	}
	cs.HostConfig.NetworkMode = c.HostConfig.NetworkMode
	cs.NetworkSettings.Networks = map[string]any{}
	if c.State.Running {
		for key, bindings := range c.NetworkSettings.Ports {
			port, proto, _ := strings.Cut(key, "/")
			private, _ := strconv.Atoi(port)
			for _, b := range bindings {
				public, _ := strconv.Atoi(b.HostPort)
				cs.Ports = append(cs.Ports, portView{IP: b.HostIP, PrivatePort: private, PublicPort: public, Type: proto})
			}
		}
	}
	return cs
}

// listContainers is docker ps: running containers, or all with ?all=1.
func (a *api) listContainers(w http.ResponseWriter, r *http.Request) {
	match, err := containerFilter(r.URL.Query().Get("filters"))
	if err != nil {
		fail(w, err)
		return
	}
	list, err := a.s.summaries()
	if err != nil {
		fail(w, err)
		return
	}
	all := boolParam(r, "all")
	out := []containerSummary{}
	for _, sum := range list {
		if c := sum.Record(); (all || container.Running(c)) && match(c) {
			out = append(out, newContainerSummary(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created > out[j].Created }) // newest first, as Docker
	writeJSON(w, http.StatusOK, out)
}

// inspectContainer is the record, as docker inspect shows it: Docker's
// names start with "/", and its HostConfig names the log driver.
func (a *api) inspectContainer(w http.ResponseWriter, r *http.Request) {
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, inspectView(c))
}

// inspectView is a record with Docker's Name and LogConfig.
func inspectView(c *state.Container) map[string]any {
	data, _ := json.Marshal(c)
	var view map[string]any
	_ = json.Unmarshal(data, &view)
	view["Name"] = "/" + c.Name
	if hc, ok := view["HostConfig"].(map[string]any); ok {
		hc["LogConfig"] = map[string]any{"Type": "json-file", "Config": map[string]string{}}
	}
	return view
}

// createRequest is the body of POST /containers/create: Docker's
// Config, with the HostConfig inside. Only what minidocker honours is
// read; like dockerd, other fields are ignored.
type createRequest struct {
	Hostname     string
	User         string
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          strSlice
	Entrypoint   strSlice
	Image        string
	WorkingDir   string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
	HostConfig   createHostConfig
}

// strSlice is Docker's Cmd and Entrypoint: a list, or one string.
type strSlice []string

// UnmarshalJSON reads a list of strings, or a string as a list of one.
func (s *strSlice) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*s = nil
		return nil
	}
	var one string
	if json.Unmarshal(data, &one) == nil {
		*s = strSlice{one}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(s))
}

// createHostConfig is the part of Docker's HostConfig minidocker honours.
type createHostConfig struct {
	Binds          []string
	PortBindings   map[string][]state.PortBinding
	NetworkMode    string
	AutoRemove     bool
	Privileged     bool
	ReadonlyRootfs bool
	Init           *bool
	CapAdd         []string
	CapDrop        []string
	SecurityOpt    []string
	CgroupParent   string
	Memory         int64
	MemorySwap     int64
	NanoCpus       int64
	CPUShares      int64 `json:"CpuShares"`
	CpusetCpus     string
	PidsLimit      *int64
	ConsoleSize    [2]uint16
}

// createContainer makes a container as the create verb does. A missing
// image is 404, "No such image", as dockerd answers: the client then
// pulls it (POST /images/create) and asks again.
func (a *api) createContainer(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := readJSON(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.Image == "" {
		apiError(w, http.StatusBadRequest, "config cannot be empty in order to create a container: no image given")
		return
	}
	if _, err := a.s.resolveImage(req.Image); err != nil {
		if errors.Is(err, image.ErrNotFound) {
			apiError(w, http.StatusNotFound, "No such image: "+req.Image)
		} else {
			fail(w, err)
		}
		return
	}
	o := req.runOptions(r.URL.Query().Get("name"))
	o.consoleSize = req.HostConfig.ConsoleSize
	c, unlock, err := create(a.s, o, req.Image, req.Cmd)
	if err != nil {
		fail(w, err)
		return
	}
	unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"Id": c.ID, "Warnings": []string{}})
}

// runOptions are the run flags a create request stands for.
func (req *createRequest) runOptions(name string) *runOptions {
	hc := req.HostConfig
	o := &runOptions{
		name: strings.TrimPrefix(name, "/"), tty: req.Tty, interactive: req.OpenStdin, rm: hc.AutoRemove,
		env: req.Env, volumes: hc.Binds, workdir: req.WorkingDir, hostname: req.Hostname, user: req.User,
		network: hc.NetworkMode, readOnly: hc.ReadonlyRootfs, privileged: hc.Privileged,
		capAdd: hc.CapAdd, capDrop: hc.CapDrop, securityOpt: hc.SecurityOpt, cgroupParent: hc.CgroupParent,
	}
	o.stdinOnce = req.StdinOnce && req.OpenStdin
	for k, v := range req.Labels {
		o.labels = append(o.labels, k+"="+v)
	}
	if o.network == "" || o.network == "default" {
		o.network = "bridge"
	}
	if hc.Init != nil {
		o.init = *hc.Init
	}
	if req.Entrypoint != nil {
		o.entrypointSet, o.entrypointArgs = true, req.Entrypoint
	}
	o.publish, o.limits = hc.publishFlags(), hc.limitFlags()
	return o
}

// publishFlags are the PortBindings as -p flags: [[HOSTIP:]HOSTPORT:]PORT/PROTO.
func (hc *createHostConfig) publishFlags() []string {
	var out []string
	for port, bindings := range hc.PortBindings {
		for _, b := range bindings {
			spec := port
			if b.HostPort != "" || b.HostIP != "" {
				spec = b.HostPort + ":" + port
				if b.HostIP != "" {
					spec = b.HostIP + ":" + spec
				}
			}
			out = append(out, spec)
		}
	}
	return out
}

// limitFlags are the resource fields as the flags -m, --memory-swap,
// --cpus, -c, --cpuset-cpus and --pids-limit would give them.
func (hc *createHostConfig) limitFlags() cgroups.Flags {
	f := cgroups.Flags{CPUShares: hc.CPUShares, CpusetCPUs: hc.CpusetCpus, CPUs: float64(hc.NanoCpus) / 1e9}
	if hc.Memory > 0 {
		f.Memory = strconv.FormatInt(hc.Memory, 10)
	}
	if hc.MemorySwap != 0 {
		f.MemorySwap = strconv.FormatInt(hc.MemorySwap, 10)
	}
	if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
		f.PidsLimit = *hc.PidsLimit
	}
	return f
}

// startContainer is docker start: 304 when it already runs.
func (a *api) startContainer(w http.ResponseWriter, r *http.Request) {
	err := withLock(a.s, r.PathValue("id"), func(c *state.Container) error {
		if container.Running(c) {
			return errNotModified
		}
		return startDetached(a.s, c)
	})
	answer(w, err)
}

// errNotModified is a start of a running or a stop of a stopped
// container: dockerd answers 304 and the client says nothing.
var errNotModified = errors.New("not modified")

// answer is 204, or 304, or the error.
func answer(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		noContent(w)
	case errors.Is(err, errNotModified):
		w.WriteHeader(http.StatusNotModified)
	default:
		fail(w, err)
	}
}

// stopContainer is docker stop [-t]: 304 when it is not running.
func (a *api) stopContainer(w http.ResponseWriter, r *http.Request) {
	seconds, err := intParam(r, "t", 10)
	if err != nil || seconds < 0 {
		apiError(w, http.StatusBadRequest, "invalid value for t: seconds, 0 or more")
		return
	}
	err = withLock(a.s, r.PathValue("id"), func(c *state.Container) error {
		if !container.Running(c) {
			return errNotModified
		}
		return a.s.rt.Stop(c, time.Duration(seconds)*time.Second)
	})
	answer(w, err)
}

// restartContainer is docker restart [-t].
func (a *api) restartContainer(w http.ResponseWriter, r *http.Request) {
	seconds, err := intParam(r, "t", 10)
	if err != nil || seconds < 0 {
		apiError(w, http.StatusBadRequest, "invalid value for t: seconds, 0 or more")
		return
	}
	answer(w, withLock(a.s, r.PathValue("id"), func(c *state.Container) error {
		return restartContainer(a.s, c, seconds)
	}))
}

// killContainer is docker kill [-s]: 409 when it is not running.
func (a *api) killContainer(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("signal")
	if name == "" {
		name = "KILL"
	}
	sig, err := parseSignal(name)
	if err != nil {
		fail(w, usagef("%v", err))
		return
	}
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err == nil && !container.Running(c) {
		err = conflictf("container %s is not running", state.Short(c.ID))
	}
	if err == nil {
		err = a.s.rt.Kill(c, sig)
	}
	answer(w, err)
}

// pauseContainer is docker pause: 409 when it is not running or paused already.
func (a *api) pauseContainer(w http.ResponseWriter, r *http.Request) {
	answer(w, withLock(a.s, r.PathValue("id"), a.s.rt.Pause))
}

// unpauseContainer is docker unpause: 409 when it is not paused.
func (a *api) unpauseContainer(w http.ResponseWriter, r *http.Request) {
	answer(w, withLock(a.s, r.PathValue("id"), a.s.rt.Unpause))
}

// removeContainer is docker rm [-f].
func (a *api) removeContainer(w http.ResponseWriter, r *http.Request) {
	force := boolParam(r, "force")
	answer(w, withLock(a.s, r.PathValue("id"), func(c *state.Container) error {
		return removeContainer(a.s, c, force)
	}))
}

// waitResponse is the body POST /containers/{id}/wait ends with.
type waitResponse struct {
	StatusCode int
	Error      *struct{ Message string } `json:"Error"`
}

// waitContainer is docker wait, and how docker run learns the exit
// status. The headers go out at once, before the container has even
// started: the client sends its start only once the wait is in place.
// condition is not-running (the default: now, if it is not running),
// next-exit (an end after this request), or removed (that end, then
// the removal: run --rm).
func (a *api) waitContainer(w http.ResponseWriter, r *http.Request) {
	condition := r.URL.Query().Get("condition")
	if condition != "" && condition != "not-running" && condition != "next-exit" && condition != "removed" {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("invalid condition %q: not-running, next-exit or removed", condition))
		return
	}
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	since := time.Now()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	var resp waitResponse
	switch {
	case (condition == "" || condition == "not-running") && !container.Running(c) && container.Exited(c):
		resp.StatusCode = c.State.ExitCode
	case condition == "" || condition == "not-running":
		resp.StatusCode, err = a.s.rt.Wait(c.ID)
	default:
		resp.StatusCode, err = a.s.rt.WaitNextExit(r.Context(), c.ID, since)
		if err == nil && condition == "removed" {
			err = a.s.rt.WaitRemoved(r.Context(), c.ID)
		}
	}
	if err != nil {
		resp.Error = &struct{ Message string }{err.Error()}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// topContainer is docker top: the processes of the container's cgroup.
func (a *api) topContainer(w http.ResponseWriter, r *http.Request) {
	c, err := a.s.findRunning(r.PathValue("id"))
	if err != nil {
		if !errors.Is(err, state.ErrNotFound) {
			err = conflictf("%v", err)
		}
		fail(w, err)
		return
	}
	pids, err := a.s.rt.Cgroup(c).Pids()
	if err != nil {
		fail(w, err)
		return
	}
	processes := [][]string{}
	for _, pid := range pids {
		uid, ppid, cmd := describeProcess(pid)
		processes = append(processes, []string{uid, strconv.Itoa(pid), ppid, cmd})
	}
	writeJSON(w, http.StatusOK, map[string]any{"Titles": []string{"UID", "PID", "PPID", "CMD"}, "Processes": processes})
}

// containerFilter reads ps's ?filters={"name": {"web": true}, ...}: id
// (a prefix), name (a part), status, label (KEY or KEY=VALUE) and
// ancestor (the image as named). Several values of one filter are
// alternatives; different filters must all match.
func containerFilter(raw string) (func(*state.Container) bool, error) {
	filters, err := parseFilters(raw)
	if err != nil {
		return nil, err
	}
	return matchFilters(filters)
}

// matchFilters is the test the filters name: every filter must match,
// by one of its values (ps -f on the command line builds the map).
func matchFilters(filters map[string][]string) (func(*state.Container) bool, error) {
	for name := range filters {
		if filterTests[name] == nil {
			return nil, usagef("invalid filter '%s': id, name, status, label and ancestor are supported", name)
		}
	}
	return func(c *state.Container) bool {
		for name, values := range filters {
			if !anyValue(values, func(v string) bool { return filterTests[name](c, v) }) {
				return false
			}
		}
		return true
	}, nil
}

// parseFilters reads Docker's filters: {"name": {"value": true}}, or
// the older {"name": ["value"]}.
func parseFilters(raw string) (map[string][]string, error) {
	filters := map[string][]string{}
	if raw == "" {
		return filters, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return nil, usagef("invalid filters %q: %v", raw, err)
	}
	for name, v := range fields {
		var set map[string]bool
		if json.Unmarshal(v, &set) == nil {
			filters[name] = sortedKeys(set)
			continue
		}
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, usagef("invalid filter %q: want a list of values", name)
		}
		filters[name] = list
	}
	return filters, nil
}

// filterTests are the ps filters, each testing one value.
var filterTests = map[string]func(c *state.Container, v string) bool{
	"id":       func(c *state.Container, v string) bool { return strings.HasPrefix(c.ID, v) },
	"name":     func(c *state.Container, v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) },
	"status":   func(c *state.Container, v string) bool { return c.State.Status == v },
	"ancestor": func(c *state.Container, v string) bool { return c.Config.Image == v || c.Image == v },
	"label": func(c *state.Container, v string) bool {
		key, value, hasValue := strings.Cut(v, "=")
		got, ok := c.Config.Labels[key]
		return ok && (!hasValue || got == value)
	},
}

// anyValue reports whether test holds for one of values.
func anyValue(values []string, test func(string) bool) bool {
	for _, v := range values {
		if test(v) {
			return true
		}
	}
	return false
}
