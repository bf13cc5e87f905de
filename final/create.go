//go:build linux

// Creating a container: every flag is checked before anything is made, so
// that bad input leaves nothing behind; then, under the state lock, the
// name is claimed, the directories are made and the record is written.
// The record is written while the image store is locked (shared), so that
// rmi, which reads the records under the same lock held exclusively,
// either sees the new container or has removed the image before: then
// create fails with "no such image", and nothing is made.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/minidocker/minidocker/final/internal/cgroups"
	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/image"
	"github.com/minidocker/minidocker/final/internal/network"
	"github.com/minidocker/minidocker/final/internal/state"
)

// defaultPath is the PATH a container gets when its image names none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// validName is what Docker accepts as a container name: two characters at least.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// maxNameLength bounds a container name. Docker sets none (its names live
// in a database); ours are file names in the names index, and a name plus
// the ".tmp-<pid>" of its file's atomic write must fit in NAME_MAX (255).
const maxNameLength = 240

// create checks the options, then makes the container's record and
// directories. It returns with the new container's lock held: the caller
// starts it, then calls unlock.
func create(s *session, o *runOptions, ref string, cmd []string) (c *state.Container, unlock func(), err error) {
	if err := checkRootless(s, o); err != nil {
		return nil, nil, err
	}
	c, err = checkOptions(o)
	if err != nil {
		return nil, nil, err
	}
	// The record names its cgroup's parent, so that every later command
	// (stop, rm, cleanup, the monitor) finds it there and nowhere else.
	c.Minidocker.CgroupParent = o.cgroupParent
	if c.Minidocker.CgroupParent == "" {
		c.Minidocker.CgroupParent = s.cgroupParent
	}
	if err := checkRootlessLimits(s, c); err != nil {
		return nil, nil, err
	}
	img, err := s.resolveOrPull(ref)
	if err != nil {
		return nil, nil, err
	}
	if err := applyImage(c, o, img, ref, cmd); err != nil {
		return nil, nil, err
	}
	if err := container.CheckUser(c.Config.User); err != nil {
		return nil, nil, err // --user, or the image's User: a crafted config is input too
	}
	layers, err := s.images.LayerDirs(img)
	if err == nil {
		c.Minidocker.Layers = layers
		err = s.images.Use(img, func() (claimErr error) {
			unlock, claimErr = claim(s, c, o.name)
			return claimErr
		})
	}
	if errors.Is(err, image.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s (it was removed while this container was being created)", image.ErrNotFound, ref)
	}
	if err != nil {
		return nil, nil, err
	}
	if o.cidfile != "" {
		if err := writeCidfile(o.cidfile, c.ID); err != nil {
			_ = s.rt.Remove(c)
			unlock()
			return nil, nil, err
		}
	}
	return c, unlock, nil
}

// checkOptions checks every flag and fills a new record's host side.
func checkOptions(o *runOptions) (*state.Container, error) {
	if err := checkName(o.name); err != nil {
		return nil, err
	}
	if o.workdir != "" && !path.IsAbs(o.workdir) {
		return nil, fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", o.workdir)
	}
	res, err := cgroups.Parse(o.limits)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if _, err := network.ParseMode(o.network); err != nil {
		return nil, usagef("%v", err)
	}
	if err := container.CheckCapNames(append(append([]string{}, o.capAdd...), o.capDrop...)); err != nil {
		return nil, usagef("%v", err)
	}
	if o.cgroupParent != "" {
		if err := cgroups.CheckParent(o.cgroupParent); err != nil {
			return nil, usagef("--cgroup-parent %q: %v", o.cgroupParent, err)
		}
	}
	c := &state.Container{Driver: "overlay2", Mounts: []state.Mount{}}
	c.HostConfig = state.HostConfig{
		Binds: o.volumes, NetworkMode: o.network, AutoRemove: o.rm, Privileged: o.privileged,
		ReadonlyRootfs: o.readOnly, Init: o.init, CgroupParent: o.cgroupParent, CapAdd: o.capAdd,
		CapDrop: o.capDrop, SecurityOpt: o.securityOpt, Resources: res, ConsoleSize: o.consoleSize,
		PortBindings: map[string][]state.PortBinding{},
	}
	if err := checkSecurityOpts(c, o); err != nil {
		return nil, err
	}
	if err := checkPorts(c, o); err != nil {
		return nil, err
	}
	if err := checkVolumes(c, o.volumes); err != nil {
		return nil, err
	}
	if err := checkUserns(c, o); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSecurityOpts checks every --security-opt: no-new-privileges, or a
// seccomp profile (kept in the record as its JSON text, see
// internal/container/seccomp.go).
func checkSecurityOpts(c *state.Container, o *runOptions) error {
	var opts []string
	for _, opt := range o.securityOpt {
		_, isNNP, nnpErr := container.ParseNoNewPrivileges(opt)
		switch {
		case nnpErr != nil:
			return usagef("%v", nnpErr)
		case isNNP:
		case strings.HasPrefix(opt, "seccomp=") || strings.HasPrefix(opt, "seccomp:"):
			var err error
			if opt, err = container.CheckSeccompOpt(opt, o.capAdd, o.capDrop); err != nil {
				return err // a bad file, not a bad command line: one line, 125
			}
		default:
			return usagef("--security-opt %q: only no-new-privileges and seccomp=unconfined|PROFILE.json are supported", opt)
		}
		opts = append(opts, opt)
	}
	c.HostConfig.SecurityOpt = opts
	return nil
}

// checkName checks a container name given with --name, with Docker's words.
func checkName(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("invalid container name: it has %d characters, at most %d are allowed", len(name), maxNameLength)
	}
	if !validName.MatchString(name) {
		return fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// checkPorts parses every -p into the record's PortBindings.
func checkPorts(c *state.Container, o *runOptions) error {
	if len(o.publish) > 0 && o.network != "bridge" {
		return usagef("-p needs the bridge network: --network %s has no ports to publish", o.network)
	}
	for _, spec := range o.publish {
		mappings, err := network.ParsePublish(spec)
		if err != nil {
			return usagef("invalid -p %q: %v", spec, err)
		}
		for _, m := range mappings {
			key := fmt.Sprintf("%d/%s", m.ContainerPort, m.Proto)
			port := ""
			if m.HostPort != 0 {
				port = fmt.Sprint(m.HostPort)
			}
			c.HostConfig.PortBindings[key] = append(c.HostConfig.PortBindings[key], state.PortBinding{HostIP: m.HostIP, HostPort: port})
		}
	}
	return nil
}

// checkVolumes parses every -v HOST:CONTAINER[:ro|rw] into Mounts; the
// host directory is made if it is missing, as Docker does.
func checkVolumes(c *state.Container, specs []string) error {
	for _, spec := range specs {
		parts := strings.Split(spec, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[1] == "" {
			return usagef("invalid -v %q: want /host/path:/container/path[:ro]", spec)
		}
		m := state.Mount{Type: "bind", Source: parts[0], Destination: parts[1], RW: true, Propagation: "rprivate"}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				m.RW, m.Mode = false, "ro"
			case "rw":
				m.Mode = "rw"
			default:
				return usagef("invalid -v %q: the mode must be ro or rw", spec)
			}
		}
		if !filepath.IsAbs(m.Source) {
			return usagef("invalid -v %q: the host path must be absolute (named volumes are not supported), e.g. -v $PWD/%s:%s", spec, m.Source, m.Destination)
		}
		if err := checkDestination(m.Destination); err != nil {
			return fmt.Errorf("invalid -v %q: %w", spec, err)
		}
		if _, err := os.Stat(m.Source); os.IsNotExist(err) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return fmt.Errorf("volume %s: %w", m.Source, err)
			}
		}
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}

// procFiles are the files under /proc a volume may cover (as runc allows:
// what lxcfs provides); anywhere else there would hide the container's own procfs.
var procFiles = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true, "/proc/stat": true,
	"/proc/swaps": true, "/proc/uptime": true, "/proc/loadavg": true, "/proc/slabinfo": true,
}

// checkDestination checks where in the container a volume goes.
func checkDestination(dst string) error {
	clean := filepath.Clean(dst)
	switch {
	case !filepath.IsAbs(dst):
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", dst)
	case clean == "/":
		return errors.New("destination can't be '/'")
	case (clean == "/proc" || strings.HasPrefix(clean, "/proc/")) && !procFiles[clean]:
		return fmt.Errorf("%q cannot be mounted because it is inside /proc: the container has its own procfs there", dst)
	}
	return nil
}

// applyImage fills the record from the image and the command line: the
// command is the entrypoint plus the command, each from the flags or the image.
func applyImage(c *state.Container, o *runOptions, img image.Image, ref string, cmd []string) error {
	ic := img.Config.Config
	entrypoint := ic.Entrypoint
	if o.entrypointSet {
		entrypoint = o.entrypointArgs
		if o.entrypoint != "" {
			entrypoint = []string{o.entrypoint}
		}
		if len(cmd) == 0 {
			cmd = nil // --entrypoint drops the image's Cmd, as Docker does
		}
	} else if len(cmd) == 0 {
		cmd = ic.Cmd
	}
	all := append(append([]string{}, entrypoint...), cmd...)
	if len(all) == 0 {
		return usagef("no command specified: the image %s has none, give one after the image name", ref)
	}
	env, err := buildEnv(ic.Env, o)
	if err != nil {
		return err
	}
	c.Image, c.Path, c.Args = img.ID, all[0], all[1:]
	c.Config = state.Config{
		Hostname: o.hostname, User: o.user, Tty: o.tty, OpenStdin: o.interactive, StdinOnce: o.stdinOnce, Env: env,
		Cmd: cmd, Entrypoint: entrypoint, Image: ref, WorkingDir: o.workdir,
		ExposedPorts: map[string]struct{}{}, Volumes: map[string]struct{}{}, Labels: containerLabels(ic.Labels, o.labels),
	}
	if c.Config.User == "" {
		c.Config.User = ic.User
	}
	if c.Config.WorkingDir == "" {
		c.Config.WorkingDir = ic.WorkingDir
	}
	for p := range c.HostConfig.PortBindings {
		c.Config.ExposedPorts[p] = struct{}{}
	}
	for p := range ic.ExposedPorts {
		c.Config.ExposedPorts[p] = struct{}{}
	}
	for _, m := range c.Mounts {
		c.Config.Volumes[m.Destination] = struct{}{}
	}
	return nil
}

// buildEnv is the image's environment, then --env-file, then -e; KEY alone
// takes the host's value. PATH defaults to the usual one.
func buildEnv(imageEnv []string, o *runOptions) ([]string, error) {
	values := map[string]string{}
	var order []string
	set := func(kv string) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			hv, found := os.LookupEnv(k)
			if !found {
				return
			}
			v = hv
		}
		if _, seen := values[k]; !seen {
			order = append(order, k)
		}
		values[k] = v
	}
	set(defaultPath)
	for _, kv := range imageEnv {
		set(kv)
	}
	for _, file := range o.envFiles {
		lines, err := readEnvFile(file)
		if err != nil {
			return nil, err
		}
		for _, kv := range lines {
			set(kv)
		}
	}
	for _, kv := range o.env {
		if strings.HasPrefix(kv, "=") || kv == "" {
			return nil, usagef("invalid -e %q: want KEY=VALUE", kv)
		}
		set(kv)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+values[k])
	}
	return out, nil
}

// readEnvFile reads KEY=VALUE lines, skipping blanks and # comments.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, s.Err()
}

// claim gives the container an id and a unique name and writes its first
// record, all under the lock, so that two runs never get one name. It
// returns holding the new container's own lock.
func claim(s *session, c *state.Container, name string) (func(), error) {
	unlock, err := s.rt.State.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if name != "" {
		if id := s.rt.State.NameInUse(name); id != "" {
			return nil, conflictf("the name %q is already in use by container %s: remove it (minidocker rm %s) or choose another name", name, state.Short(id), name)
		}
	} else {
		for try := 0; name == "" || s.rt.State.NameInUse(name) != ""; try++ {
			name = randomName(try)
		}
	}
	c.ID, c.Name, c.Created = state.NewID(), name, time.Now().UTC()
	if c.Config.Hostname == "" {
		c.Config.Hostname = state.Short(c.ID)
	}
	c.Config.Env = append(c.Config.Env, "HOSTNAME="+c.Config.Hostname)
	dir := s.rt.State.Dir(c.ID)
	c.LogPath = filepath.Join(dir, c.ID+"-json.log")
	c.HostnamePath, c.HostsPath, c.ResolvConfPath = filepath.Join(dir, "hostname"), filepath.Join(dir, "hosts"), filepath.Join(dir, "resolv.conf")
	c.State = state.State{Status: "created"}
	unlockContainer, err := s.rt.State.MakeDir(c.ID)
	if err != nil {
		return nil, err
	}
	err = s.rt.State.ClaimName(name, c.ID)
	if err == nil {
		err = container.Prepare(dir)
	}
	if err == nil {
		err = s.rt.State.Save(c)
	}
	if err != nil {
		os.RemoveAll(dir)
		unlockContainer()
		return nil, err
	}
	s.rt.State.Emit(c, "create", nil)
	return unlockContainer, nil
}

// writeCidfile writes the id to a file that must not exist yet, as Docker.
func writeCidfile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if os.IsExist(err) {
		return fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	if err != nil {
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// containerLabels are the image's labels with --label's on top (a label
// given without "=" has an empty value, as Docker gives it).
func containerLabels(image map[string]string, flags []string) map[string]string {
	if len(flags) == 0 {
		return image
	}
	labels := make(map[string]string, len(image)+len(flags))
	for k, v := range image {
		labels[k] = v
	}
	for _, f := range flags {
		key, value, _ := strings.Cut(f, "=")
		labels[key] = value
	}
	return labels
}
