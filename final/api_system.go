//go:build linux

// The Engine API's system endpoints: /_ping (how a client learns the
// version to speak), /version, /info, /system/df and /events.

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// systemRoutes registers the system endpoints.
func (a *api) systemRoutes() {
	a.mux.HandleFunc("GET /_ping", a.ping)
	a.mux.HandleFunc("HEAD /_ping", a.ping)
	a.mux.HandleFunc("GET /version", a.version)
	a.mux.HandleFunc("GET /info", a.info)
	a.mux.HandleFunc("GET /system/df", a.diskUsage)
	a.mux.HandleFunc("GET /events", a.events)
}

// ping answers OK; the headers (set for every answer) are what counts.
func (a *api) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("OK"))
	}
}

// versionView is GET /version's answer.
type versionView struct {
	Platform      struct{ Name string }
	Components    []versionComponent
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string
	BuildTime     string
}

// versionComponent is one part of the server, as docker version lists them.
type versionComponent struct {
	Name    string
	Version string
	Details map[string]string
}

// version describes this daemon.
func (a *api) version(w http.ResponseWriter, r *http.Request) {
	v := versionView{
		Version: Version, APIVersion: maxAPIVersion, MinAPIVersion: minAPIVersion, GitCommit: "minidocker",
		GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH, KernelVersion: kernelVersion(),
	}
	v.Platform.Name = "minidocker"
	v.Components = []versionComponent{{Name: "Engine", Version: Version, Details: map[string]string{
		"ApiVersion": maxAPIVersion, "MinAPIVersion": minAPIVersion, "GitCommit": "minidocker",
		"GoVersion": runtime.Version(), "Os": runtime.GOOS, "Arch": runtime.GOARCH, "KernelVersion": v.KernelVersion,
	}}}
	writeJSON(w, http.StatusOK, v)
}

// kernelVersion is uname -r.
func kernelVersion() string {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	return unix.ByteSliceToString(uts.Release[:])
}

// info is what docker info shows, from the same records as the info verb.
func (a *api) info(w http.ResponseWriter, r *http.Request) {
	list, err := a.s.containers()
	if err != nil {
		fail(w, err)
		return
	}
	images, err := a.s.images.List()
	if err != nil {
		fail(w, err)
		return
	}
	running := 0
	for _, c := range list {
		if container.Running(c) {
			running++
		}
	}
	cgroupVersion := "1"
	if cgroups.IsV2() {
		cgroupVersion = "2"
	}
	host, _ := os.Hostname()
	security := []string{"name=seccomp,profile=builtin"}
	if a.s.rootless {
		security = append(security, "name=rootless") // as rootless Docker says it
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ID": "minidocker", "Containers": len(list), "ContainersRunning": running, "ContainersPaused": 0,
		"ContainersStopped": len(list) - running, "Images": len(images), "Driver": "overlay2",
		"DriverStatus": [][2]string{}, "DockerRootDir": a.s.root, "CgroupDriver": "cgroupfs",
		"CgroupVersion": cgroupVersion, "KernelVersion": kernelVersion(), "OperatingSystem": osName(),
		"OSType": "linux", "Architecture": runtime.GOARCH, "NCPU": runtime.NumCPU(), "MemTotal": memTotal(),
		"Name": host, "ServerVersion": Version, "LoggingDriver": "json-file", "MemoryLimit": true,
		"SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "PidsLimit": true,
		"SecurityOptions": security, "DefaultRuntime": "minidocker",
		"Runtimes":       map[string]any{"minidocker": map[string]string{"path": "/proc/self/exe"}},
		"Plugins":        map[string][]string{"Volume": {}, "Network": {"bridge", "host", "none"}, "Log": {"json-file"}},
		"Swarm":          map[string]any{"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": ""},
		"RegistryConfig": map[string]any{"IndexConfigs": map[string]any{}}, "Labels": []string{},
		"Warnings": []string{},
	})
}

// memTotal is the host's memory in bytes.
func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// diskUsage is docker system df's data: images, containers and what they take.
func (a *api) diskUsage(w http.ResponseWriter, r *http.Request) {
	images, err := a.s.images.List()
	if err != nil {
		fail(w, err)
		return
	}
	list, err := a.s.containers()
	if err != nil {
		fail(w, err)
		return
	}
	used := usersOf(list)
	var layers int64
	imageViews := []imageSummary{}
	for _, img := range images {
		layers += img.Size
		imageViews = append(imageViews, newImageSummary(img, a.s.images.RepoDigests(img), len(used[img.ID])))
	}
	containers := []containerSummary{}
	for _, c := range list {
		cs := newContainerSummary(c)
		cs.SizeRw = dirSize(container.PathsIn(a.s.rt.State.Dir(c.ID)).Upper)
		containers = append(containers, cs)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"LayersSize": layers, "Images": imageViews, "Containers": containers,
		"Volumes": []any{}, "BuildCache": []any{},
	})
}

// events streams the events of the state root's log (state.Events), one
// JSON object each: those since ?since= (or from now on), up to ?until=,
// or until the client leaves. It answers at once: a client waits for the
// headers before it shows anything.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	filters, err := parseFilters(r.URL.Query().Get("filters"))
	var match func(state.Event) bool
	if err == nil {
		match, err = eventFilter(filters)
	}
	var from, to time.Time
	if err == nil {
		from, to, err = eventWindow(r.URL.Query().Get("since"), r.URL.Query().Get("until"))
	}
	if err != nil {
		fail(w, usagef("%v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	follow := to.IsZero() || to.After(time.Now())
	_ = a.s.rt.State.Events(r.Context(), from, to, follow, func(e state.Event) error {
		if !match(e) {
			return nil
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
}
