//go:build linux

// Package oci is minidocker as an OCI runtime: the bundle (a directory
// holding config.json and a root filesystem), its container records, and
// how a config's Linux section maps onto minidocker's cgroups. The
// container package runs the bundle (container/oci.go, ociinit.go); the
// runc-compatible command line is final/runc.go. The types are the
// runtime-spec's own (github.com/opencontainers/runtime-spec/specs-go).
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/minidocker/minidocker/final/internal/container"
)

// knownMountTypes are the filesystems a config may mount: those this
// kernel lists in /proc/filesystems, plus "bind" (not a filesystem, a
// kind of mount) and "cgroup" (mapped, see rootfs.MountSpec).
func knownMountType(t string) bool {
	if t == "" || t == "bind" || t == "cgroup" || t == "none" {
		return true
	}
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return true // cannot tell: let mount(2) decide
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == t {
			return true
		}
	}
	return false
}

// LoadBundle reads and checks dir/config.json; it returns the config and
// the root filesystem's absolute path.
func LoadBundle(dir string) (*specs.Spec, string, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("bundle %s has no config.json: run \"minidocker-runc spec\" there to write a default one", dir)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	cfg := &specs.Spec{}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, "", fmt.Errorf("%s is not a valid config: %w", path, err)
	}
	if err := check(cfg); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	root := cfg.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(dir, root)
	}
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return nil, "", fmt.Errorf("root.path %s: not a directory (the bundle's root filesystem must exist before create)", root)
	}
	absolutize(cfg, dir)
	return cfg, root, nil
}

// check refuses what minidocker cannot run, before anything is made.
func check(cfg *specs.Spec) error {
	if !strings.HasPrefix(cfg.Version, "1.") {
		return fmt.Errorf("ociVersion %q: minidocker runs configs of runtime-spec 1.x (it is built with %s)", cfg.Version, specs.Version)
	}
	if cfg.Root == nil || cfg.Root.Path == "" {
		return fmt.Errorf("root.path is missing: name the bundle's root filesystem, e.g. \"rootfs\"")
	}
	if cfg.Process == nil {
		// Allowed by the spec: create works, start fails. The held process
		// gets a process without args, which start never lets run.
		cfg.Process = &specs.Process{Cwd: "/"}
		return checkRest(cfg)
	}
	if len(cfg.Process.Args) == 0 {
		return fmt.Errorf("process.args is empty: name the command to run")
	}
	if cfg.Process.Cwd != "" && !filepath.IsAbs(cfg.Process.Cwd) {
		return fmt.Errorf("process.cwd %q: must be an absolute path", cfg.Process.Cwd)
	}
	return checkRest(cfg)
}

// checkRest checks the config's linux section, mounts and capabilities.
func checkRest(cfg *specs.Spec) error {
	if cfg.Linux == nil {
		return fmt.Errorf("the linux section is missing: minidocker runs Linux containers only")
	}
	if cfg.Hooks == nil {
		cfg.Hooks = &specs.Hooks{}
	}
	for _, ns := range cfg.Linux.Namespaces {
		if _, ok := container.NamespaceFlags[ns.Type]; !ok {
			return fmt.Errorf("namespace type %q: not one of pid, network, mount, ipc, uts, user, cgroup, time", ns.Type)
		}
	}
	for _, m := range cfg.Mounts {
		if !knownMountType(m.Type) {
			return fmt.Errorf("mount on %s: type %q is not a filesystem this kernel knows (see /proc/filesystems)", m.Destination, m.Type)
		}
	}
	if err := checkLSM(cfg); err != nil {
		return err
	}
	if c := cfg.Process.Capabilities; c != nil {
		for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			for _, name := range set {
				if !container.KnownCap(name) {
					return fmt.Errorf("process.capabilities: unknown capability %q (see capabilities(7) for the names)", name)
				}
			}
		}
	}
	for _, r := range cfg.Process.Rlimits {
		if err := container.CheckRlimit(r.Type); err != nil {
			return err
		}
	}
	return nil
}

// absolutize makes the config's bundle-relative paths absolute: bind
// sources, and hook paths stay as they are (the spec wants them absolute).
func absolutize(cfg *specs.Spec, dir string) {
	for i, m := range cfg.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && isBind(m) {
			cfg.Mounts[i].Source = filepath.Join(dir, m.Source)
		}
	}
}

// isBind reports whether a mount is a bind mount.
func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// checkLSM refuses the security-module settings minidocker does not
// apply: an AppArmor profile or an SELinux label would otherwise be
// silently ignored, and the process would run unconfined.
func checkLSM(cfg *specs.Spec) error {
	switch {
	case cfg.Process.ApparmorProfile != "":
		return fmt.Errorf("process.apparmorProfile %q: minidocker does not apply AppArmor profiles; remove it (the process would run unconfined)", cfg.Process.ApparmorProfile)
	case cfg.Process.SelinuxLabel != "" || cfg.Linux.MountLabel != "":
		return fmt.Errorf("process.selinuxLabel / linux.mountLabel: minidocker does not apply SELinux labels; remove them (the process would run unlabelled)")
	}
	return nil
}
