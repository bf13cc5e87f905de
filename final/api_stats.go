//go:build linux

// GET /containers/{id}/stats: a container's cgroup, read as the stats
// verb reads it, in Docker's shape. The client computes CPU % itself,
// from two samples: the container's CPU time and the host's between
// precpu_stats and cpu_stats. With ?stream=0 the answer is one object,
// its two samples half a second apart; otherwise one object a second
// until the client leaves or the container stops.

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/state"
)

// cpuSample is Docker's cpu_stats.
type cpuSample struct {
	CPUUsage struct {
		TotalUsage uint64 `json:"total_usage"`
	} `json:"cpu_usage"`
	SystemUsage uint64 `json:"system_cpu_usage"`
	OnlineCPUs  int    `json:"online_cpus"`
}

// statsView is one sample of a container, as Docker sends it.
type statsView struct {
	Read      time.Time `json:"read"`
	PreRead   time.Time `json:"preread"`
	Name      string    `json:"name"`
	ID        string    `json:"id"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
	CPUStats    cpuSample `json:"cpu_stats"`
	PreCPUStats cpuSample `json:"precpu_stats"`
	MemoryStats struct {
		Usage uint64            `json:"usage"`
		Limit uint64            `json:"limit"`
		Stats map[string]uint64 `json:"stats"`
	} `json:"memory_stats"`
	Networks map[string]any `json:"networks"`
}

// statsContainer answers one sample, or a stream of them.
func (a *api) statsContainer(w http.ResponseWriter, r *http.Request) {
	c, err := a.s.rt.Find(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	stream := r.URL.Query().Get("stream") == "" || boolParam(r, "stream")
	cg := a.s.rt.Cgroup(c)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	prev, prevAt := sampleCPU(cg), time.Now()
	for {
		interval := time.Second
		if !stream {
			interval = 500 * time.Millisecond
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(interval):
		}
		v := sampleStats(c, cg, prev, prevAt)
		if enc.Encode(v) != nil || !stream {
			return
		}
		w.(http.Flusher).Flush()
		if c, err = a.s.rt.Find(c.ID); err != nil || !container.Running(c) {
			return
		}
		prev, prevAt = v.CPUStats, v.Read
	}
}

// sampleStats reads the cgroup now, with prev as the earlier CPU sample.
func sampleStats(c *state.Container, cg cgroups.Manager, prev cpuSample, prevAt time.Time) statsView {
	v := statsView{Read: time.Now(), PreRead: prevAt, Name: "/" + c.Name, ID: c.ID, PreCPUStats: prev, Networks: map[string]any{}}
	v.CPUStats = sampleCPU(cg)
	st, _ := cg.Stats()
	v.PidsStats.Current = st.Pids
	v.MemoryStats.Usage, v.MemoryStats.Limit = st.MemoryUsage, st.MemoryLimit
	if v.MemoryStats.Limit == 0 {
		v.MemoryStats.Limit = uint64(memTotal())
	}
	v.MemoryStats.Stats = map[string]uint64{}
	return v
}

// sampleCPU is the container's CPU time and the host's, now.
func sampleCPU(cg cgroups.Manager) cpuSample {
	var s cpuSample
	st, _ := cg.Stats()
	s.CPUUsage.TotalUsage = st.CPUNanos
	s.SystemUsage = hostCPUNanos()
	s.OnlineCPUs = runtime.NumCPU()
	return s
}

// hostCPUNanos is the CPU time of the whole host, from the first line of
// /proc/stat (in clock ticks of 1/100 s; see proc(5)), in nanoseconds.
func hostCPUNanos() uint64 {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return 0
	}
	var ticks uint64
	for _, f := range fields[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		ticks += n
	}
	return ticks * uint64(time.Second/100)
}
