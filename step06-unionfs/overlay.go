//go:build linux

// The union filesystem. The rootfs stops being the container's own: it is
// an image layer, read-only and shareable. Each run gets a fresh writable
// layer (the "upper" dir) and a work dir that overlayfs needs, and the
// container side mounts the union of them on a "merged" dir:
//
//	merged = upper (this container's changes) over lower layers (the image)
//
// Writes go to upper, copied up from below first when they change a lower
// file; a deleted lower file becomes a whiteout in upper (a character
// device 0/0); a directory removed and made again becomes opaque (xattr
// trusted.overlay.opaque=y), hiding what was below. See the kernel's
// Documentation/filesystems/overlayfs.rst.
//
// Volumes (-v HOST:CONTAINER[:ro]) are bind mounts on top of the union:
// their data lives on the host and outlives the container.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// upperUnfit are filesystems overlayfs cannot use for the writable layer,
// with what to do about each.
var upperUnfit = map[int64]string{
	0x794c7630: "overlay (a container's own filesystem)",
	0x786f4256: "vboxsf (the VirtualBox shared folder, Vagrant's /vagrant)",
	0x01021997: "9p (a virtio-9p shared folder)",
	0x6969:     "NFS",
}

// volume is one -v HOST:CONTAINER[:ro].
type volume struct {
	host, container string
	readOnly        bool
}

// parseVolume checks one -v value; host and container paths must be absolute.
func parseVolume(value string) (volume, error) {
	parts := strings.Split(value, ":")
	if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
		return volume{}, fmt.Errorf("invalid volume %q: want HOST:CONTAINER or HOST:CONTAINER:ro", value)
	}
	v := volume{host: parts[0], container: parts[1], readOnly: len(parts) == 3 && parts[2] == "ro"}
	if !filepath.IsAbs(v.host) || !filepath.IsAbs(v.container) || v.container == "/" {
		return volume{}, fmt.Errorf("invalid volume %q: both paths must be absolute, and the container path not /", value)
	}
	return v, nil
}

// prepareLayers makes this run's writable layer next to the image's layers
// and returns the overlay mount options, the merged dir, and the undo.
func prepareLayers(rootfs string, layers []string, keep, userns bool) (data, merged string, undo func() error, err error) {
	lower := []string{rootfs}
	for _, layer := range layers {
		abs, _ := filepath.Abs(layer)
		lower = append([]string{abs}, lower...) // a later --layer lies on top
	}
	dir, err := lockedTempDir("minidocker-container-")
	if err != nil {
		return "", "", nil, err
	}
	undo = func() error { return removeContainerDir(dir, keep) }
	if err := checkUpperFilesystem(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", nil, err
	}
	for _, sub := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			_ = undo()
			return "", "", nil, err
		}
		if userns { // root of the user namespace must own its writable layer
			_ = os.Chown(filepath.Join(dir, sub), userNamespaceBase, userNamespaceBase)
		}
	}
	_ = os.Chmod(dir, 0o755)
	host("writable layer %s/upper over %d read-only layer(s): %s", dir, len(lower), strings.Join(lower, ":"))
	// lab:cut step06 the overlay mount options: lowerdir (the lower dirs, top first, joined by ":"), upperdir and workdir in dir
	data = fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", strings.Join(lower, ":"), dir, dir)
	// lab:end data = ""
	return data, filepath.Join(dir, "merged"), undo, nil
}

// checkUpperFilesystem refuses a writable layer on a filesystem overlayfs
// cannot use, naming the fix.
func checkUpperFilesystem(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if name, bad := upperUnfit[int64(st.Type)]; bad {
		return fmt.Errorf("the writable layer cannot live in %s, which is on %s: overlayfs needs a local filesystem there; "+
			"set TMPDIR to a directory on the machine's own disk, e.g. sudo TMPDIR=/var/tmp go run ./%s", dir, name, stepName)
	}
	return nil
}

// removeContainerDir deletes the writable layer after the run, or keeps it
// for the learner to look at.
func removeContainerDir(dir string, keep bool) error {
	if keep {
		host("kept the writable layer: ls -la %s/upper (remove it with: rm -rf %s)", dir, dir)
		return nil
	}
	if mounted := mountsUnder(dir); len(mounted) > 0 {
		return fmt.Errorf("not removing %s: %s is still mounted", dir, mounted[0])
	}
	host("removing the writable layer %s", dir)
	return os.RemoveAll(dir)
}

// mountVolumes binds each volume's host directory into the merged root,
// read-only where asked; the host directory is made if it does not exist.
func mountVolumes(root string, values []string) error {
	for _, value := range values {
		v, err := parseVolume(value)
		if err != nil {
			return err
		}
		target := filepath.Join(root, v.container)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", value, err)
		}
		if err := mount(v.host, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if v.readOnly {
			// A bind mount takes MS_RDONLY only on a second, remounting call.
			if err := mount(v.host, target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLayers checks every --layer before anything is created.
func checkLayers(layers []string) error {
	for _, layer := range layers {
		if info, err := os.Stat(layer); err != nil || !info.IsDir() {
			return fmt.Errorf("--layer %s: not a directory", layer)
		}
	}
	return nil
}

// prepareVolumes checks every -v before anything is created, and makes
// missing host directories as Docker does.
func prepareVolumes(values []string) error {
	for _, value := range values {
		v, err := parseVolume(value)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(v.host, 0o755); err != nil {
			return fmt.Errorf("volume %s: %w", value, err)
		}
	}
	return nil
}
