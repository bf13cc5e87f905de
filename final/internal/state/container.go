//go:build linux

// The record of one container, in the shape `docker inspect` prints (the
// seeds show it): Id, Created, Path, Args, State, Image, Name, Config,
// HostConfig, NetworkSettings, Mounts. A few fields of minidocker's own
// (Minidocker…) say what the runtime needs to clean up after it.

package state

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/minidocker/minidocker/final/internal/cgroups"
)

// Container is one container's record.
type Container struct {
	ID              string          `json:"Id"`
	Created         time.Time       `json:"Created"`
	Path            string          `json:"Path"`
	Args            []string        `json:"Args"`
	State           State           `json:"State"`
	Image           string          `json:"Image"` // the image id
	Name            string          `json:"Name"`
	RestartCount    int             `json:"RestartCount"`
	HostnamePath    string          `json:"HostnamePath"`
	HostsPath       string          `json:"HostsPath"`
	ResolvConfPath  string          `json:"ResolvConfPath"`
	LogPath         string          `json:"LogPath"`
	Driver          string          `json:"Driver"`
	Config          Config          `json:"Config"`
	HostConfig      HostConfig      `json:"HostConfig"`
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	Mounts          []Mount         `json:"Mounts"`
	Minidocker      Private         `json:"Minidocker"`
}

// State is where a container is in its life.
type State struct {
	Status     string    `json:"Status"` // created, running, paused, exited
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// Config is what runs: Docker's container Config.
type Config struct {
	Hostname     string              `json:"Hostname"`
	User         string              `json:"User"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"` // the first attached client's end of input closes stdin
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Entrypoint   []string            `json:"Entrypoint"`
	Image        string              `json:"Image"` // as the user named it
	WorkingDir   string              `json:"WorkingDir"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Volumes      map[string]struct{} `json:"Volumes"`
	Labels       map[string]string   `json:"Labels"`
}

// HostConfig is how the host runs it: Docker's HostConfig.
type HostConfig struct {
	Binds          []string                 `json:"Binds"`
	PortBindings   map[string][]PortBinding `json:"PortBindings"`
	NetworkMode    string                   `json:"NetworkMode"`
	AutoRemove     bool                     `json:"AutoRemove"`
	Privileged     bool                     `json:"Privileged"`
	ReadonlyRootfs bool                     `json:"ReadonlyRootfs"`
	Init           bool                     `json:"Init"`
	CgroupParent   string                   `json:"CgroupParent"`
	CapAdd         []string                 `json:"CapAdd"`
	CapDrop        []string                 `json:"CapDrop"`
	SecurityOpt    []string                 `json:"SecurityOpt"`
	MaskedPaths    []string                 `json:"MaskedPaths"`
	ReadonlyPaths  []string                 `json:"ReadonlyPaths"`
	ConsoleSize    [2]uint16                `json:"ConsoleSize"` // rows and columns of a terminal made by the API
	UsernsMode     string                   `json:"UsernsMode"`  // "host": --userns=host, no remapping
	cgroups.Resources
}

// PortBinding is one host address and port a container port is published on.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// NetworkSettings is the container's place on the bridge.
type NetworkSettings struct {
	Bridge      string                   `json:"Bridge"`
	Gateway     string                   `json:"Gateway"`
	IPAddress   string                   `json:"IPAddress"`
	IPPrefixLen int                      `json:"IPPrefixLen"`
	MacAddress  string                   `json:"MacAddress"`
	Ports       map[string][]PortBinding `json:"Ports"`
}

// Mount is one volume, as Docker's inspect lists it.
type Mount struct {
	Type        string `json:"Type"` // bind
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// Private is what only minidocker needs: who watches the container, and
// what to release when it ends.
type Private struct {
	MonitorPid       int             `json:"MonitorPid"` // the process that waits for the container
	MonitorStartTime uint64          `json:"MonitorStartTime"`
	PidStartTime     uint64          `json:"PidStartTime"` // of State.Pid, so a reused pid is not mistaken for it
	Layers           []string        `json:"Layers"`       // lower dirs, top first
	Endpoint         json.RawMessage `json:"Endpoint,omitempty"`
	CgroupParent     string          `json:"CgroupParent,omitempty"` // the container's cgroup is CgroupParent/Id
	IDMap            *IDMap          `json:"IDMap,omitempty"`        // --userns-remap: root inside is IDMap's first host id
}

// IDMap is the mapping of a container's user namespace (--userns-remap),
// in the OCI runtime spec's terms: each range of ids inside starts at a
// host id. Docker's inspect has no field for it; minidocker shows it here.
type IDMap struct {
	UIDMappings []IDMapping `json:"UIDMappings"`
	GIDMappings []IDMapping `json:"GIDMappings"`
}

// IDMapping is one line of /proc/PID/uid_map: Size ids from ContainerID
// inside are HostID and on, outside.
type IDMapping struct {
	ContainerID uint32 `json:"ContainerID"`
	HostID      uint32 `json:"HostID"`
	Size        uint32 `json:"Size"`
}

// Status is the STATUS column of ps, e.g. "Up 3 minutes" or "Exited (0) 2 seconds ago".
func (c *Container) Status() string { return c.State.Line() }

// Line says the state as ps's STATUS column does.
func (s State) Line() string {
	switch s.Status {
	case "running":
		return "Up " + HumanDuration(time.Since(s.StartedAt))
	case "paused":
		return "Up " + HumanDuration(time.Since(s.StartedAt)) + " (Paused)"
	case "exited":
		return "Exited (" + strconv.Itoa(s.ExitCode) + ") " + HumanDuration(time.Since(s.FinishedAt)) + " ago"
	}
	return strings.ToUpper(s.Status[:1]) + s.Status[1:]
}

// HumanDuration says a duration the way docker ps does.
func HumanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s < 60:
		return strconv.Itoa(s) + " seconds"
	case s < 3600:
		return plural(s/60, "minute")
	case s < 48*3600:
		return plural(s/3600, "hour")
	default:
		return plural(s/86400, "day")
	}
}

// plural says "1 minute" or "3 minutes".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
