//go:build linux

// system df and system prune: what the state directory holds, and
// removing what nothing uses (stopped containers, untagged images, layers
// no image refers to).

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/container"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// systemCommand is the system verb, with df and prune below it.
var systemCommand = &command{
	name: "system", usage: "system df | system prune [-a] [-f]", short: "Show and reclaim disk space",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		all := fs.BoolP("all", "a", false, "prune: remove every image no container uses, not only untagged ones")
		force := fs.BoolP("force", "f", false, "prune: do not ask for confirmation")
		return func(s *session, args []string) error {
			if len(args) != 1 || (args[0] != "df" && args[0] != "prune") {
				return usagef("want 'system df' or 'system prune'")
			}
			if err := s.open(); err != nil {
				return err
			}
			if args[0] == "df" {
				return runDf(s)
			}
			return runPrune(s, *all, *force)
		}
	},
}

// runDf prints what images and containers take.
func runDf(s *session) error {
	images, err := s.images.List()
	if err != nil {
		return err
	}
	used, err := s.imagesInUse()
	if err != nil {
		return err
	}
	list, _ := s.containers()
	var imgSize, imgFree, ctrSize, ctrFree int64
	active := 0
	for _, img := range images {
		imgSize += img.Size
		if len(used[img.ID]) == 0 {
			imgFree += img.Size
		} else {
			active++
		}
	}
	running := 0
	for _, c := range list {
		size := dirSize(container.PathsIn(s.rt.State.Dir(c.ID)).Upper)
		ctrSize += size
		if container.Running(c) {
			running++
		} else {
			ctrFree += size
		}
	}
	// Temporary files are the work in progress of commits, imports and
	// loads (a killed one's were removed when this command started): a
	// Docker user expects df to account for every byte of the data root,
	// as Docker's own "Build Cache" line does for its builder's files.
	tmpCount, tmpSize := s.images.TempUsage()
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(w, "Images\t%d\t%d\t%s\t%s\n", len(images), active, humanSize(imgSize), humanSize(imgFree))
	fmt.Fprintf(w, "Containers\t%d\t%d\t%s\t%s\n", len(list), running, humanSize(ctrSize), humanSize(ctrFree))
	fmt.Fprintf(w, "Temporary files\t%d\t%d\t%s\t%s\n", tmpCount, tmpCount, humanSize(tmpSize), humanSize(0))
	return w.Flush()
}

// dirSize adds up the sizes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// runPrune removes stopped containers, then images nothing uses.
func runPrune(s *session, all, force bool) error {
	if !force && tty.IsTerminal(os.Stdin) {
		fmt.Print("WARNING! This will remove all stopped containers and unused images.\nAre you sure you want to continue? [y/N] ")
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if !strings.HasPrefix(strings.ToLower(answer), "y") {
			return nil
		}
	}
	list, err := s.containers()
	if err != nil {
		return err
	}
	for _, c := range list {
		if !container.Running(c) {
			if err := s.rt.Remove(c); err != nil {
				return err
			}
			fmt.Println("Deleted Container:", c.ID)
		}
	}
	lines, reclaimed, err := s.images.Prune(s.imageUsers(), all)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Printf("Total reclaimed space: %s\n", humanSize(reclaimed))
	return err
}
