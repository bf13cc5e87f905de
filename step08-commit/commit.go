//go:build linux

// commit and the verbs around it. A container keeps its writable layer
// after it exits, until "rm"; "commit" turns that layer into an image
// layer, and the new image is the parent's layers plus this one:
//
//	step08 commit CONTAINER REPO[:TAG]   the writable layer becomes a layer
//	step08 images                        the images, their ids and layers
//	step08 rm CONTAINER...               remove containers and their layers
//	step08 rmi IMAGE...                  remove images no container uses
//
// "run" is the default verb, so every earlier step's command line works.

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// defaultRoot is the state directory unless --root or MINIDOCKER_ROOT says otherwise.
const defaultRoot = "/var/lib/minidocker-step08"

// verbs are the subcommands besides run.
var verbs = map[string]func(s *store, fs *pflag.FlagSet, args []string) error{
	"commit": commitVerb, "images": imagesVerb, "rm": rmVerb, "rmi": rmiVerb,
}

// stateRoot is the state directory from the environment, or the default.
func stateRoot() string {
	if root := os.Getenv("MINIDOCKER_ROOT"); root != "" {
		return root
	}
	return defaultRoot
}

// verbMain parses a verb's flags, opens the store under its lock and runs the verb.
func verbMain(verb string, args []string) int {
	setupColor()
	fs := pflag.NewFlagSet(stepName+" "+verb, pflag.ContinueOnError)
	root := fs.String("root", stateRoot(), "state directory: images, layers and containers")
	fs.BoolVarP(&quiet, "quiet", "q", false, "do not narrate")
	fs.StringP("message", "m", "", "commit message (commit)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", stepName, verb, err)
		return 2
	}
	s, err := openStore(*root)
	if err == nil {
		var unlock func()
		if unlock, err = s.lock(); err == nil {
			err = verbs[verb](s, fs, fs.Args())
			unlock()
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s %s: %v\n", stepName, verb, err)
		return 1
	}
	return 0
}

// commitVerb stores a container's writable layer as a new image.
func commitVerb(s *store, fs *pflag.FlagSet, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s commit [-m MESSAGE] CONTAINER REPO[:TAG]", stepName)
	}
	rec, err := s.container(args[0])
	if err != nil {
		return err
	}
	if rec.Image == "" {
		return fmt.Errorf("container %s ran on --rootfs %s, not on an image: there is no parent to commit onto", short(rec.ID), rec.Rootfs)
	}
	parentID, cfg, err := s.image(rec.Image)
	if err != nil {
		return fmt.Errorf("the image of container %s: %w", short(rec.ID), err)
	}
	digest, err := s.storeLayer(filepath.Join(s.containerDir(rec.ID), "upper"))
	if err != nil {
		return err
	}
	message, _ := fs.GetString("message")
	cfg.Created, cfg.Parent = time.Now().UTC(), parentID
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest)
	cfg.History = append(cfg.History, history{Created: cfg.Created, CreatedBy: strings.Join(rec.Command, " "), Comment: message})
	id, err := s.writeImage(cfg)
	if err != nil {
		return err
	}
	host("image %s = the %d layer(s) of %s + layer %s", short(id), len(cfg.RootFS.DiffIDs)-1, short(parentID), short(digest))
	fmt.Println(id)
	return s.tag(args[1], id)
}

// imagesVerb lists the tagged images.
func imagesVerb(s *store, _ *pflag.FlagSet, _ []string) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tLAYERS")
	for ref, id := range s.repositories() {
		_, cfg, err := s.image(id)
		if err != nil {
			continue
		}
		name, tag, _ := strings.Cut(ref, ":")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", name, tag, short(id), cfg.Created.Format(time.RFC3339), len(cfg.RootFS.DiffIDs))
	}
	return w.Flush()
}

// rmVerb removes stopped containers and their writable layers.
func rmVerb(s *store, _ *pflag.FlagSet, args []string) error {
	for _, ref := range args {
		rec, err := s.container(ref)
		if err == nil {
			err = s.removeContainer(rec)
		}
		if err != nil {
			return err
		}
		fmt.Println(short(rec.ID))
	}
	return nil
}

// rmiVerb removes images, refusing one that a container still uses; the
// layers that no image references any more go with them.
func rmiVerb(s *store, _ *pflag.FlagSet, args []string) error {
	for _, ref := range args {
		id, _, err := s.image(ref)
		if err != nil {
			return err
		}
		for _, rec := range s.containers() {
			if rec.Image == id {
				return fmt.Errorf("conflict: unable to remove image %s - container %s is using it: remove the container first", ref, short(rec.ID))
			}
		}
		if err := s.removeImage(id); err != nil {
			return err
		}
		fmt.Println("Deleted:", id)
	}
	return s.removeUnusedLayers()
}

// removeImage drops an image's tags and its config.
func (s *store) removeImage(id string) error {
	repos := s.repositories()
	for ref, target := range repos {
		if target == id {
			delete(repos, ref)
		}
	}
	if err := writeJSON(filepath.Join(s.root, "repositories.json"), repos); err != nil {
		return err
	}
	return os.Remove(filepath.Join(s.root, "images", hexOf(id)+".json"))
}

// removeUnusedLayers deletes the layers that no image lists.
func (s *store) removeUnusedLayers() error {
	used := map[string]bool{}
	configs, _ := filepath.Glob(filepath.Join(s.root, "images", "*.json"))
	for _, path := range configs {
		var cfg imageConfig
		if err := readJSON(path, &cfg); err != nil {
			return err
		}
		for _, digest := range cfg.RootFS.DiffIDs {
			used[hexOf(digest)] = true
		}
	}
	layers, _ := os.ReadDir(filepath.Join(s.root, "layers"))
	for _, layer := range layers {
		if layer.IsDir() && !used[layer.Name()] {
			host("layer %s is used by no image: removed", short(layer.Name()))
			if err := os.RemoveAll(filepath.Join(s.root, "layers", layer.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// containerLayers finds what a new container runs on — an image from the
// store (made from the host if it is "base" and missing) or a --rootfs
// directory — and records the container.
func containerLayers(s *store, opts options) ([]string, containerRecord, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, containerRecord{}, err
	}
	defer unlock()
	rec := containerRecord{Command: opts.command, Pid: os.Getpid()}
	var lower []string
	if opts.rootfs != "" {
		dir, _, err := prepareRootfs(opts.rootfs)
		if err != nil {
			return nil, rec, err
		}
		lower, rec.Rootfs = []string{dir}, dir
	} else {
		if opts.image == "base" {
			if err := s.ensureBase(); err != nil {
				return nil, rec, err
			}
		}
		id, cfg, err := s.image(opts.image)
		if err != nil {
			return nil, rec, err
		}
		lower, rec.Image = s.lowerDirs(cfg), id
		host("image %s (%s): %d layer(s)", opts.image, short(id), len(lower))
	}
	rec, err = s.newContainer(opts.name, rec)
	if err == nil {
		host("container %s, named %s, in %s", rec.ID, rec.Name, s.containerDir(rec.ID))
	}
	return lower, rec, err
}

// recordExit notes how a container ended, if it is still kept.
func recordExit(s *store, rec containerRecord, status int) error {
	if _, err := os.Stat(s.containerDir(rec.ID)); err != nil {
		return nil // removed with --rm
	}
	rec.Pid, rec.ExitCode = 0, status
	return s.saveContainer(rec)
}
