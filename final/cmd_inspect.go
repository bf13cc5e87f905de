//go:build linux

// inspect: print containers and images as a JSON array, in the shape
// docker inspect prints (the seeds show it), or through --format.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/state"
)

// inspectCommand is the inspect verb.
var inspectCommand = &command{
	name: "inspect", usage: "inspect [OPTIONS] NAME|ID [NAME|ID...]", short: "Show containers and images in detail",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		format := fs.StringP("format", "f", "", "format with a Go template, e.g. '{{.State.Pid}}'")
		kind := fs.String("type", "", "only look for a container or an image")
		return func(s *session, args []string) error { return runInspect(s, *format, *kind, args) }
	},
}

// imageView is an image as docker image inspect shows it.
type imageView struct {
	ID           string     `json:"Id"`
	RepoTags     []string   `json:"RepoTags"`
	RepoDigests  []string   `json:"RepoDigests"`
	Created      any        `json:"Created"`
	Author       string     `json:"Author"`
	Config       any        `json:"Config"`
	Architecture string     `json:"Architecture"`
	Os           string     `json:"Os"`
	Size         int64      `json:"Size"`
	RootFS       rootFSView `json:"RootFS"`
	Metadata     struct{}   `json:"Metadata"`
}

// rootFSView is an image's layers as docker image inspect shows them
// ("Layers", where the config file says "diff_ids").
type rootFSView struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// runInspect looks each argument up as a container, then as an image.
func runInspect(s *session, format, kind string, args []string) error {
	if len(args) == 0 {
		return usagef("requires at least 1 argument")
	}
	if kind != "" && kind != "container" && kind != "image" {
		return usagef("--type %q: want container or image", kind)
	}
	if err := s.open(); err != nil {
		return err
	}
	var out []any
	failed := false
	for _, ref := range args {
		v, err := inspectOne(s, ref, kind)
		if err != nil {
			fmt.Fprintf(os.Stderr, "minidocker: %v\n", err)
			failed = true
			continue
		}
		out = append(out, v)
	}
	if format != "" {
		if err := printTemplate(os.Stdout, format, out); err != nil {
			return err
		}
	} else {
		data, _ := json.MarshalIndent(nonNil(out), "", "    ")
		fmt.Println(string(data))
	}
	if failed {
		return &statusError{status: 1}
	}
	return nil
}

// inspectOne finds a container or an image by what the user typed.
func inspectOne(s *session, ref, kind string) (any, error) {
	if kind != "image" {
		c, err := s.rt.Find(ref)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, state.ErrNotFound) || kind == "container" {
			return nil, err
		}
	}
	img, err := s.images.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("no such object: %s", ref)
	}
	return newImageView(img, s.images.RepoDigests(img)), nil
}

// newImageView is img as docker image inspect shows it; repoDigests are
// its "repo@sha256:..." names (Store.RepoDigests).
func newImageView(img image.Image, repoDigests []string) *imageView {
	cfg := img.Config
	return &imageView{
		ID: img.ID, RepoTags: nonNilStrings(img.Tags), RepoDigests: nonNilStrings(repoDigests), Created: cfg.Created,
		Author: cfg.Author, Config: cfg.Config, Architecture: cfg.Architecture, Os: cfg.OS,
		Size: img.Size, RootFS: rootFSView{Type: cfg.RootFS.Type, Layers: nonNilStrings(cfg.RootFS.DiffIDs)},
	}
}

// nonNil turns a nil slice into an empty one, so JSON shows [] not null.
func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// nonNilStrings is nonNil for strings.
func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
