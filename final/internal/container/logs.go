//go:build linux

// Logs in Docker's json-file format: one JSON object per line of output,
// {"log":"hello\n","stream":"stdout","time":"2026-11-25T10:00:00.123456789Z"},
// appended to <container dir>/<id>-json.log by the monitor, which holds the
// container's output pipes. `logs` reads the file; `logs -f` follows it
// until the container stops.

package container

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LogEntry is one line of a json-file log.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// logFile is a json-file log that several streams append to.
type logFile struct {
	mu sync.Mutex
	f  *os.File
}

// dir is the directory of the log: the container's.
func (l *logFile) dir() string { return filepath.Dir(l.f.Name()) }

// openLog opens (creating) the log file for appending.
func openLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f}, nil
}

// write appends one entry; a line is written whole or not at all.
func (l *logFile) write(stream string, line []byte) {
	data, _ := json.Marshal(LogEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(append(data, '\n'))
}

// copyStream reads a container's stream until EOF, logging each line and
// writing the bytes to out too when someone is attached.
func (l *logFile) copyStream(stream string, r io.Reader, out io.Writer) {
	br := bufio.NewReaderSize(r, 32*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			l.write(stream, line)
			if out != nil {
				_, _ = out.Write(line)
			}
		}
		if err != nil {
			return
		}
	}
}

// copyTerminal copies a terminal's output, which is one stream with no
// reason to wait for whole lines: what is read is shown at once.
func (l *logFile) copyTerminal(r io.Reader, out io.Writer) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if out != nil {
				_, _ = out.Write(buf[:n])
			}
			for _, line := range bytes.SplitAfter(buf[:n], []byte("\n")) {
				if len(line) > 0 {
					l.write("stdout", line)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// close closes the file.
func (l *logFile) close() { l.f.Close() }

// ReadLog reads the entries of a log file from offset, returning the
// offset after the last whole line read.
func ReadLog(path string, offset int64) ([]LogEntry, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	return ReadLogAt(f, offset)
}

// ReadLogAt is ReadLog on an open log file: a follower keeps it open, so
// that it reads the last lines even when --rm deletes the file.
func ReadLogAt(f *os.File, offset int64) ([]LogEntry, int64, error) {
	var out []LogEntry
	br := bufio.NewReader(io.NewSectionReader(f, offset, 1<<62))
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break // a partial last line is read next time
		}
		offset += int64(len(line))
		var e LogEntry
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, offset, nil
}
