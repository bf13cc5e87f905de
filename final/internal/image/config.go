// Image configs, in the JSON shape of the OCI image spec (config.md) and
// Docker's image JSON, so that a config written here is one Docker and
// podman read, and one they wrote is read here. A config that came from
// elsewhere is stored as the exact bytes it came as: the image id is the
// sha256 of those bytes, and fields this file does not know survive.

package image

import (
	"encoding/json"
	"time"
)

// Config is an image config: what to run, and the layers to run it on.
type Config struct {
	Architecture string     `json:"architecture"`
	OS           string     `json:"os"`
	Variant      string     `json:"variant,omitempty"`
	Created      *time.Time `json:"created,omitempty"`
	Author       string     `json:"author,omitempty"`
	Config       RunConfig  `json:"config"`
	RootFS       RootFS     `json:"rootfs"`
	History      []History  `json:"history,omitempty"`
}

// RunConfig is the part of a config that says how to run a container.
type RunConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
}

// RootFS lists an image's layers by diff id, bottom first.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one step that made an image; EmptyLayer steps added no layer.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// Image is a stored image: its id, config, tags and size.
type Image struct {
	ID     string   // "sha256:" and 64 hex digits: the digest of the config file
	Config Config   // the parsed config
	Tags   []string // "name:tag", sorted
	Size   int64    // bytes of its layer tars in the store (layers shared with other images included)
}

// ShortID is the 12-hex-digit id that people read.
func (img Image) ShortID() string {
	return shortID(img.ID)
}

// CreatedAt is when the image was made, or the zero time if the config does not say.
func (img Image) CreatedAt() time.Time {
	if img.Config.Created == nil {
		return time.Time{}
	}
	return *img.Config.Created
}

// clone deep-copies a RunConfig, so that changes to the copy leave the original alone.
func (rc RunConfig) clone() RunConfig {
	data, _ := json.Marshal(rc)
	var out RunConfig
	_ = json.Unmarshal(data, &out)
	return out
}
