// The answer keys (docs/labs/answers) keep up with the questions: every
// chapter with a "Questions and exercises" (or "Exercises") section has an
// answer page answering as many questions, and every lab page's step
// answers as many exercises as the lab has, so that a question added to a
// chapter without its answer fails here.

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

// questionHeadings are the headings under which a chapter asks its questions.
var questionHeadings = []string{"## Questions and exercises", "## Exercises"}

func TestLabsAnswersCoverEveryQuestionAndExercise(t *testing.T) {
	chapters, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "[0-9][0-9]-*.md"))
	if len(chapters) == 0 {
		t.Skip("no chapters here")
	}
	for _, path := range chapters {
		name := filepath.Base(path)
		questions, ok := chapterQuestions(readDoc(t, path))
		if !ok {
			continue
		}
		answers := readDoc(t, filepath.Join(repoRoot, "docs", "labs", "answers", name))
		if got := len(numberedItem.FindAllString(section(answers, "## Chapter questions"), -1)); got != questions {
			t.Errorf("docs/labs/answers/%s answers %d chapter questions, docs/%s asks %d", name, got, name, questions)
		}
	}
	labs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "labs", "[0-9][0-9]-*.md"))
	for _, lab := range labs {
		name := filepath.Base(lab)
		answers := readDoc(t, filepath.Join(repoRoot, "docs", "labs", "answers", name))
		exercises := len(labExercise.FindAllString(readDoc(t, lab), -1))
		if got := len(numberedItem.FindAllString(section(answers, "## Lab exercises"), -1)); got != exercises {
			t.Errorf("docs/labs/answers/%s answers %d lab exercises, docs/labs/%s has %d", name, got, name, exercises)
		}
	}
}

// chapterQuestions counts the numbered items of a chapter's questions
// section; false when it has none.
func chapterQuestions(chapter string) (int, bool) {
	for _, heading := range questionHeadings {
		if strings.Contains(chapter, "\n"+heading+"\n") {
			return len(numberedItem.FindAllString(section(chapter, heading), -1)), true
		}
	}
	return 0, false
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
