// The answer keys (docs/labs/answers) keep up with the questions: for every
// chapter with a "Questions and exercises" section and every lab page, the
// step's answer page answers as many questions and exercises as there are,
// so that a question added to a chapter without its answer fails here.

package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// numberedItem is a numbered list item at the start of a line ("1. ", " 10. ").
var numberedItem = regexp.MustCompile(`(?m)^ ?\d+\. `)

// labExercise is an exercise heading of a lab page ("## 2. A cgroup namespace").
var labExercise = regexp.MustCompile(`(?m)^## \d+\. `)

func TestLabsAnswersCoverEveryQuestionAndExercise(t *testing.T) {
	labs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "labs", "[0-9][0-9]-*.md"))
	if len(labs) == 0 {
		t.Skip("no lab pages here")
	}
	for _, lab := range labs {
		name := filepath.Base(lab)
		chapter := readDoc(t, filepath.Join(repoRoot, "docs", name))
		answers := readDoc(t, filepath.Join(repoRoot, "docs", "labs", "answers", name))
		questions := len(numberedItem.FindAllString(section(chapter, "## Questions and exercises"), -1))
		exercises := len(labExercise.FindAllString(readDoc(t, lab), -1))
		if got := len(numberedItem.FindAllString(section(answers, "## Chapter questions"), -1)); got != questions {
			t.Errorf("docs/labs/answers/%s answers %d chapter questions, docs/%s asks %d", name, got, name, questions)
		}
		if got := len(numberedItem.FindAllString(section(answers, "## Lab exercises"), -1)); got != exercises {
			t.Errorf("docs/labs/answers/%s answers %d lab exercises, docs/labs/%s has %d", name, got, name, exercises)
		}
	}
}

// readDoc returns a file's text, failing the test when it is missing.
func readDoc(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return string(data)
}

// section returns the text under heading, up to the next heading of its level.
func section(doc, heading string) string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}
