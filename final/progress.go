//go:build linux

// How pull and push show their progress, as Docker does: on a terminal,
// one line per layer, redrawn in place (cursor up, clear the line, write
// it, cursor back down) with a bar and the bytes while it transfers;
// elsewhere (a pipe, a log) one plain line per change of state and no
// byte counts; with -q nothing (the caller passes no Progress).

package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minidocker/minidocker/final/internal/registry"
	"github.com/minidocker/minidocker/final/internal/tty"
)

// newProgress is the progress display for out: in place on a terminal,
// plain lines elsewhere.
func newProgress(out *os.File) registry.Progress {
	if !tty.IsTerminal(out) {
		return &plainProgress{out: out}
	}
	width := 80
	if ws, err := unix.IoctlGetWinsize(int(out.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		width = int(ws.Col)
	}
	return &termProgress{out: out, width: width, drawn: map[string]drawnLine{}}
}

// plainProgress writes one line per state change, as Docker does when
// its output is not a terminal.
type plainProgress struct {
	mu  sync.Mutex
	out *os.File
}

// Line writes text.
func (p *plainProgress) Line(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, text)
}

// Layer writes "id: status", except the byte counts of a transfer.
func (p *plainProgress) Layer(id, status string, current, total int64) {
	if current > 0 {
		return
	}
	p.Line(id + ": " + status)
}

// termProgress keeps one screen line per layer and redraws it.
type termProgress struct {
	mu    sync.Mutex
	out   *os.File
	width int
	order []string // layer ids, in the order their lines were written
	drawn map[string]drawnLine
}

// drawnLine is what a layer's line last showed, and when.
type drawnLine struct {
	status string
	at     time.Time
}

// redrawEvery bounds how often a transferring layer's line is redrawn.
const redrawEvery = 100 * time.Millisecond

// Line writes text below the layers' lines, which then stay as they are.
func (p *termProgress) Line(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, text)
	p.order = nil
	clear(p.drawn)
}

// Layer redraws the layer's line, or adds it below the others.
func (p *termProgress) Layer(id, status string, current, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last, seen := p.drawn[id]
	if seen && last.status == status && current < total && time.Since(last.at) < redrawEvery {
		return
	}
	p.drawn[id] = drawnLine{status: status, at: time.Now()}
	line := id + ": " + status
	if total > 0 && current > 0 {
		line += " " + progressBar(current, total, p.width-len(line)-1)
	}
	if len(line) >= p.width {
		line = line[:p.width-1] // a wrapped line would break the cursor arithmetic
	}
	for i, other := range p.order {
		if other == id {
			up := len(p.order) - i
			fmt.Fprintf(p.out, "\x1b[%dA\r\x1b[2K%s\x1b[%dB\r", up, line, up)
			return
		}
	}
	p.order = append(p.order, id)
	fmt.Fprintln(p.out, line)
}

// progressBar is Docker's "[=====>     ]  12.3MB/45.6MB", the bar left out
// when room (the columns left on the line) is short.
func progressBar(current, total int64, room int) string {
	current = min(current, total)
	counts := fmt.Sprintf("%8s/%s", humanSize(current), humanSize(total))
	const barWidth = 50
	if room < barWidth+3+len(counts) {
		return counts
	}
	done := int(float64(barWidth) * float64(current) / float64(total))
	bar := strings.Repeat("=", done)
	if done < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-done-1)
	}
	return "[" + bar + "] " + counts
}
