//go:build linux

// What a pull or push tells its user as it goes. The client reports
// events; how they look (lines that redraw in place with a bar on a
// terminal, one line per change elsewhere, nothing with -q) is the
// command line's business (final/progress.go).

package registry

import "io"

// Progress receives a pull's or push's events. Its methods may be called
// from several goroutines at once (one per layer).
type Progress interface {
	// Line is a line of its own: "v1: Pulling from app", "Digest: ...".
	Line(text string)
	// Layer is a layer's new state ("Pulling fs layer", "Downloading",
	// "Pull complete", "Pushing", "Mounted from x"...), id its 12 hex
	// digits; while bytes move, current of total.
	Layer(id, status string, current, total int64)
}

// silent is the Progress of a caller that wants none.
type silent struct{}

// Line does nothing.
func (silent) Line(string) {}

// Layer does nothing.
func (silent) Layer(string, string, int64, int64) {}

// progressReader reports the bytes read through it as a layer's state.
type progressReader struct {
	r      io.Reader
	id     string
	status string // "Downloading" or "Pushing"
	total  int64
	n      int64
	p      Progress
}

// Read reads and reports how far it got.
func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.n += int64(n)
		r.p.Layer(r.id, r.status, r.n, r.total)
	}
	return n, err
}

// Close closes the underlying reader when it can be closed.
func (r *progressReader) Close() error {
	if c, ok := r.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
