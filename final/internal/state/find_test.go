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
}
