package main

import (
	"strings"
	"testing"
)

// reference is a step file with one region of its own and one of an earlier step.
const reference = `package main

import (
	"errors"
	"fmt"
)

func earlier() int {
	// lab:cut step01 an earlier step's task
	n := 1
	// lab:end n := 0
	return n
}

func pivot(dir string) error {
	// lab:cut step04 pivot into dir
	if dir == "" {
		return errors.New("no dir")
	}
	return nil
	// lab:end return fmt.Errorf("%s: not written yet", dir)
}
`

func TestCutSource(t *testing.T) {
	tests := []struct {
		step      string
		want      []string // in the copy
		wantNot   []string
		wantTasks int
	}{
		{"step04", []string{"// TODO(lab): pivot into dir", `return fmt.Errorf("%s: not written yet", dir)`, "n := 1"},
			[]string{`"errors"`, "lab:", "no dir", "n := 0"}, 1},
		{"step01", []string{"// TODO(lab): an earlier step's task", "n := 0", `"errors"`, "no dir"},
			[]string{"n := 1", "lab:cut", "lab:end"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			out, todos, err := cutSource("x.go", []byte(reference), tt.step)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the copy lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(string(out), w) {
					t.Errorf("the copy still has %q:\n%s", w, out)
				}
			}
			if len(todos) != tt.wantTasks {
				t.Errorf("tasks %v, want %d", todos, tt.wantTasks)
			}
			for _, td := range todos {
				if line := strings.Split(string(out), "\n")[td.line-1]; !strings.Contains(line, "TODO(lab): "+td.task) {
					t.Errorf("task %q points at line %d: %q", td.task, td.line, line)
				}
			}
		})
	}
}

func TestCutSourceRefusesBrokenMarkers(t *testing.T) {
	for name, src := range map[string]string{
		"unclosed":  "package main\n// lab:cut step02 x\n",
		"stray end": "package main\n// lab:end\n",
		"nested":    "package main\n// lab:cut step02 x\n// lab:cut step02 y\n// lab:end\n// lab:end\n",
	} {
		if _, _, err := cutSource("x.go", []byte(src), "step02"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
