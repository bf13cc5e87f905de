//go:build linux

// This file decides what to do with the marker a volatile mount leaves.
//
// A mount with "volatile" makes WORK/work/incompat/volatile, and the
// kernel leaves it there even after a clean unmount; any later mount of
// the same work dir then fails with EINVAL ("overlay with incompat
// feature 'volatile' cannot be mounted", in dmesg). The marker says that
// writes to the upper dir were never synced, so after a crash the upper
// dir may have lost some of them. Documentation/filesystems/overlayfs.rst
// ("Volatile mount") gives the recovery: throw the upper and work dirs
// away; only when the machine has not crashed since the volatile mount
// is the upper dir intact, and the marker may simply be removed.
//
// minidocker mounts only --rm containers volatile, so a marker is found
// when such a container is started again in its own dir: after its
// monitor was killed, after the machine restarted, or within
// MountVolatile when the volatile attempt failed and the plain mount
// follows. ClearVolatileMarker removes the marker when that is safe:
//   - the volatile mount was made in this boot (MountVolatile writes the
//     boot's id beside the kernel's scratch dir): nothing crashed since;
//   - the upper dir is empty: there is nothing that could be lost, and an
//     empty upper dir is what the kernel's recovery makes anyway.
// Otherwise it refuses, as Docker would have removed an --rm container
// when it came back after a crash.

package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// bootFile, in a work dir, holds the boot id of its last volatile mount.
const bootFile = "volatile-boot-id"

// bootID is this boot's id, random for each boot of the machine.
func bootID() string {
	id, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return string(bytes.TrimSpace(id))
}

// ClearVolatileMarker removes the volatile marker from work, the
// container's own work dir, when the upper dir next to it cannot have
// lost writes; it returns an error that says what to do otherwise.
func ClearVolatileMarker(upper, work string) error {
	if work == "" {
		return nil
	}
	scratch := filepath.Join(work, "work")
	marker := filepath.Join(scratch, "incompat", "volatile")
	if _, err := os.Lstat(marker); err != nil {
		return nil // none; or it cannot be looked at, and the kernel will say
	}
	if !sameBoot(work) && !emptyDir(upper) {
		return fmt.Errorf("the writable layer %s was mounted volatile (--rm) and the machine may have restarted since, so it may have lost writes (overlay left %s): remove the container and run it again", upper, marker)
	}
	// WORK/work is the kernel's scratch dir, emptied at every mount.
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("remove overlay's volatile marker %s: %w", marker, err)
	}
	return nil
}

// sameBoot tells whether work's last volatile mount was made in this boot.
func sameBoot(work string) bool {
	noted, err := os.ReadFile(filepath.Join(work, bootFile))
	id := bootID()
	return err == nil && id != "" && string(noted) == id
}

// emptyDir tells whether dir exists and holds nothing.
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
