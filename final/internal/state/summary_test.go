package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSummariesFollowTheRecords checks that ps's cache never shows a
// record older than the one on disk: after Save, after Remove, after a
// record written behind the store's back, and with the cache deleted.
func TestSummariesFollowTheRecords(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	save := func(id, name, status string, created time.Time) {
		t.Helper()
		if err := os.MkdirAll(s.Dir(id), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(&Container{ID: id, Name: name, Created: created, State: State{Status: status}}); err != nil {
			t.Fatal(err)
		}
	}
	status := func() map[string]string {
		t.Helper()
		list, err := s.Summaries()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, sum := range list {
			out[sum.Name] = sum.State.Status
		}
		return out
	}
	now := time.Now()
	save("a1", "one", "running", now)
	save("b2", "two", "created", now.Add(time.Second))
	if got := status(); got["one"] != "running" || got["two"] != "created" || len(got) != 2 {
		t.Fatalf("summaries = %v", got)
	}
	save("a1", "one", "exited", now)
	if got := status(); got["one"] != "exited" {
		t.Errorf("after Save, the summary still says %q", got["one"])
	}
	if err := s.BeginRemove("b2"); err != nil {
		t.Fatal(err)
	}
	if got := status(); len(got) != 1 {
		t.Errorf("once a removal began, summaries = %v", got)
	}
	if err := s.FinishRemove("b2"); err != nil {
		t.Fatal(err)
	}
	// A record written without Save (an older minidocker, a hand edit):
	// the token is unchanged, so only deleting it makes ps look again.
	if err := WriteJSON(filepath.Join(s.Dir("a1"), "config.json"), &Container{ID: "a1", Name: "one", State: State{Status: "dead"}}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(s.Root, generationFile))
	if got := status(); got["one"] != "dead" {
		t.Errorf("without a token, the summary is trusted: %v", got)
	}
	os.Remove(filepath.Join(s.Root, summaryFile))
	if got := status(); got["one"] != "dead" || len(got) != 1 {
		t.Errorf("without the cache: %v", got)
	}
	list, _ := s.Summaries()
	if c := list[0].Record(); c.ID != "a1" || c.Name != "one" {
		t.Errorf("Record() = %+v", c)
	}
}

// TestSummariesOfAnOlderVersionAreMadeAgain writes a summary file as an
// older minidocker did (no version, no labels) under the current token:
// it must not be trusted, or ps would show no labels until a record
// changed.
func TestSummariesOfAnOlderVersionAreMadeAgain(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.Dir("a1"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: "a1", Name: "one", Image: "sha256:abc", Mounts: []Mount{{Type: "bind", Source: "/srv"}}}
	c.Config.Labels = map[string]string{"course": "containers"}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	old := SummaryOf(c)
	old.Labels, old.Mounts, old.ImageID = nil, nil, ""
	s.writeSummaries(summaries{Generation: s.generation(), List: []Summary{old}})
	list, err := s.Summaries()
	if err != nil || len(list) != 1 {
		t.Fatalf("summaries: %v %v", list, err)
	}
	r := list[0].Record()
	if r.Config.Labels["course"] != "containers" || len(r.Mounts) != 1 || r.Image != "sha256:abc" {
		t.Errorf("an older summary file was trusted: labels %v, mounts %v, image %q", r.Config.Labels, r.Mounts, r.Image)
	}
}
