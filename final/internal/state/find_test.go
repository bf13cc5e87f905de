package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFind checks each way to name a container: the full id, the name
// (with or without Docker's leading "/"), a unique prefix of the id; an
// ambiguous prefix is refused naming the candidates, and an unknown name
// is ErrNotFound, whatever state another container's record is in.
func TestFind(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ id, name string }{{"ab12", "web"}, {"ab34", "db"}, {"cd56", "cache"}} {
		if err := os.MkdirAll(s.Dir(c.id), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimName(c.name, c.id); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(&Container{ID: c.id, Name: c.name, Created: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir("cd56"), "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"ab12": "ab12", "web": "ab12", "/db": "ab34", "ab3": "ab34"} {
		if c, err := s.Find(ref); err != nil || c.ID != want {
			t.Errorf("Find(%q) = %v, %v; want %s", ref, c, err, want)
		}
	}
	if _, err := s.Find("ab"); err == nil || !strings.Contains(err.Error(), "ab12") || !strings.Contains(err.Error(), "ab34") {
		t.Errorf("Find(ab) = %v; want an ambiguity naming ab12 and ab34", err)
	}
	for _, ref := range []string{"nosuch", "", "..", "web/../db"} {
		if _, err := s.Find(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Find(%q) = %v; want ErrNotFound", ref, err)
		}
	}
	if _, err := s.Find("cache"); err == nil || !strings.Contains(err.Error(), "corrupt record") {
		t.Errorf("Find(cache) = %v; want its record's corruption", err)
	}
	var corrupt *CorruptError
	if _, err := s.Find("cd"); !errors.As(err, &corrupt) || corrupt.ID != "cd56" {
		t.Errorf("Find(cd) = %v; want the corrupt record of cd56, with its id for rm -f", err)
	}
	// A prefix that matches a corrupt record and a good one stays
	// ambiguous: rm -f must not take it for the corrupt one.
	if err := os.MkdirAll(s.Dir("cd78"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&Container{ID: "cd78", Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find("cd"); err == nil || !strings.Contains(err.Error(), "cd56") || !strings.Contains(err.Error(), "cd78") {
		t.Errorf("Find(cd) = %v; want an ambiguity naming cd56 and cd78", err)
	}
}
