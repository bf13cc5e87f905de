//go:build linux

package userns

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// Inside gives back the id inside a user namespace of a host id of the
// range r (the range's first id is root inside); other ids (the image's
// own files, owned by the host's ids) are left as they are.
func Inside(id int, r Range) int {
	if id >= int(r.Start) && id < int(r.Start)+int(r.Size) {
		return id - int(r.Start)
	}
	return id
}

// Unmapped runs write, which writes a tar stream, and copies that stream
// to w with every owner given back its id inside (Inside): what commit
// and export of a remapped container store, so that the image is the
// same as if the container had not been remapped. write runs on the
// caller's goroutine (export's runs in a mount namespace of its thread).
func Unmapped(w io.Writer, uids, gids Range, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		err := unmapTar(w, pr, uids, gids)
		if err == nil {
			_, err = io.Copy(io.Discard, pr) // whatever follows the end of the archive
		}
		pr.CloseWithError(err) // a writer still writing stops
		copied <- err
	}()
	err := write(pw)
	pw.CloseWithError(err)
	return errors.Join(err, <-copied)
}

// unmapTar copies a tar stream, rewriting each header's owner.
func unmapTar(w io.Writer, r io.Reader, uids, gids Range) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		hdr.Uid, hdr.Gid = Inside(hdr.Uid, uids), Inside(hdr.Gid, gids)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header of %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("tar entry %s: %w", hdr.Name, err)
		}
	}
}
