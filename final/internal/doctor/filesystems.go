//go:build linux

// overlayfs: the kernel must know the filesystem, and a container's
// writable layer (the overlay's upperdir) must live on a filesystem that
// overlayfs accepts there. Shared folders of virtual machines (vboxsf,
// 9p), network filesystems and overlay itself do not do: the mount fails
// with "not supported as upperdir". The state directory need not exist
// yet, so the check walks up to the nearest directory that does.

package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// upperUnfit are filesystem types (statfs f_type) that cannot hold an upperdir.
var upperUnfit = map[int64]string{
	0x786f4256: "vboxsf (a VirtualBox shared folder)",
	0x01021997: "9p (a shared folder of QEMU or WSL)",
	0x6969:     "NFS",
	0xff534d42: "CIFS",
	0xfe534d42: "SMB2",
	0x517b:     "SMB",
	0x794c7630: "overlay (the upper dir cannot itself be on an overlay)",
	0x65735546: "FUSE",
}

// checkOverlay looks for overlay in /proc/filesystems, then for a module.
func (s system) checkOverlay() Check {
	c := Check{Name: "overlayfs"}
	list, err := s.read("/proc/filesystems")
	if err == nil && strings.Contains(list, "\toverlay") {
		c.OK = true
		c.Detail = "the kernel knows overlay"
		return c
	}
	c.Detail = "overlay is not in /proc/filesystems"
	module, _ := filepath.Glob(s.path("/lib/modules/" + s.release() + "/kernel/fs/overlayfs/overlay.ko*"))
	if len(module) > 0 {
		c.Detail += ", but its module is installed"
		c.Fix = "sudo modprobe overlay (and echo overlay | sudo tee /etc/modules-load.d/overlay.conf to keep it)"
		return c
	}
	c.Fix = "use a kernel with CONFIG_OVERLAY_FS (every distribution kernel has it; install the linux-modules package of your kernel)"
	return c
}

// checkUpperDir checks that writable layers can live under dir; envVar is
// the variable that moves dir elsewhere.
func (s system) checkUpperDir(what, dir, envVar string) Check {
	c := Check{Name: what + " for overlay"}
	existing := dir
	for {
		if _, err := os.Stat(s.path(existing)); err == nil || existing == "/" || existing == "." {
			break
		}
		existing = filepath.Dir(existing)
	}
	typ, err := s.fsType(s.path(existing))
	if err != nil {
		c.Detail = fmt.Sprintf("statfs %s: %v", existing, err)
		c.Fix = fmt.Sprintf("point %s at a directory on the machine's own disk, e.g. %s=/var/lib/minidocker", envVar, envVar)
		return c
	}
	where := dir
	if existing != dir {
		where = fmt.Sprintf("%s (to be made in %s)", dir, existing)
	}
	if name, bad := upperUnfit[typ]; bad {
		c.Detail = fmt.Sprintf("%s is on %s: overlay refuses it as upperdir", where, name)
		c.Fix = fmt.Sprintf("keep it on the machine's own disk, off any shared folder: sudo %s=/var/tmp ... (the state directory defaults to /var/lib/minidocker)", envVar)
		if envVar == "MINIDOCKER_ROOT" {
			c.Fix = "keep it on the machine's own disk, off any shared folder: sudo MINIDOCKER_ROOT=/var/lib/minidocker minidocker ..."
		}
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s is on a filesystem overlay accepts (type %#x)", where, typ)
	return c
}

// tempDir is os.TempDir as seen through getenv: where the steps put
// their writable layers.
func tempDir(getenv func(string) string) string {
	if dir := getenv("TMPDIR"); dir != "" {
		return dir
	}
	return "/tmp"
}
