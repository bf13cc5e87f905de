//go:build linux

// images: list the images in the store.

package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// imagesCommand is the images verb.
var imagesCommand = &command{
	name: "images", usage: "images [OPTIONS]", short: "List images",
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		quiet := fs.BoolP("quiet", "q", false, "only show ids")
		format := fs.String("format", "", "format each image with a Go template, e.g. '{{.Repository}}'")
		digests := fs.Bool("digests", false, "show the registry digest of each image's repository")
		return func(s *session, args []string) error { return runImages(s, *quiet, *digests, *format, args) }
	},
}

// imageRow is one line of images; --format templates use its fields.
type imageRow struct {
	Repository, Tag, Digest, ID, CreatedSince, CreatedAt, Size string
}

// runImages lists the images, one row per tag (untagged ones as <none>).
func runImages(s *session, quiet, digests bool, format string, args []string) error {
	if len(args) > 0 {
		return usagef("accepts no arguments")
	}
	if err := s.open(); err != nil {
		return err
	}
	list, err := s.images.List()
	if err != nil {
		return err
	}
	var rows []imageRow
	for _, img := range list {
		tags := img.Tags
		if len(tags) == 0 {
			tags = []string{"<none>:<none>"}
		}
		repoDigests := s.images.RepoDigests(img)
		for _, t := range tags {
			i := strings.LastIndex(t, ":")
			rows = append(rows, imageRow{
				Repository: t[:i], Tag: t[i+1:], Digest: digestOf(repoDigests, t[:i]), ID: img.ShortID(),
				CreatedSince: state.HumanDuration(time.Since(img.CreatedAt())) + " ago",
				CreatedAt:    img.CreatedAt().Format("2006-01-02 15:04:05 -0700 MST"), Size: humanSize(img.Size),
			})
		}
	}
	switch {
	case quiet:
		for _, r := range rows {
			fmt.Println(r.ID)
		}
		return nil
	case format != "":
		return printTemplate(os.Stdout, format, rows)
	}
	return printImageTable(rows, digests)
}

// printImageTable prints the rows as docker images does, with a DIGEST
// column after TAG when asked.
func printImageTable(rows []imageRow, digests bool) error {
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	if digests {
		fmt.Fprintln(w, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		if digests {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince, r.Size)
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
		}
	}
	return w.Flush()
}

// digestOf is the digest among an image's "repo@sha256:..." names that
// belongs to repository, or "<none>".
func digestOf(repoDigests []string, repository string) string {
	for _, rd := range repoDigests {
		if repo, digest, _ := strings.Cut(rd, "@"); repo == repository {
			return digest
		}
	}
	return "<none>"
}

// humanSize says a size as docker images does, in powers of 1000: 12.3MB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
