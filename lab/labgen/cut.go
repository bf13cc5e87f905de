// Cutting a step down to a student copy. A reference step marks each
// region that carries its new mechanism with two line comments:
//
//	// lab:cut step04 pivot_root into rootfs, detach the old root
//	...the reference code...
//	// lab:end return fmt.Errorf("not written yet")
//
// The step named after "lab:cut" is the step whose lab the region belongs
// to: later steps carry the same lines (a shared function stays identical
// from step to step, see tests/drift_test.go), and their copies keep the
// code. In the copy for the region's own step, the region becomes a
// "// TODO(lab): ..." comment followed by whatever code follows "lab:end"
// (the stub that keeps the copy compiling). Imports the cut leaves unused
// are dropped, and the file is gofmt'ed.

package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// cutLine and endLine are the two markers; a region cannot nest.
var (
	cutLine = regexp.MustCompile(`^(\s*)// lab:cut (step\d\d) (.+)$`)
	endLine = regexp.MustCompile(`^\s*// lab:end(?: (.*))?$`)
)

// todo is one task left in a student copy: where, and what to write.
type todo struct {
	line int // in the student copy, 1-based
	task string
}

// cutSource returns src with the regions of step ("step04") cut out and
// the marker lines of other steps' regions dropped, and the tasks it left.
func cutSource(name string, src []byte, step string) ([]byte, []todo, error) {
	var out []string
	var todos []todo
	inRegion, cutting := false, false
	for i, line := range strings.Split(string(src), "\n") {
		if m := cutLine.FindStringSubmatch(line); m != nil {
			if inRegion {
				return nil, nil, fmt.Errorf("%s:%d: lab:cut inside a region: close the one before with lab:end", name, i+1)
			}
			inRegion, cutting = true, m[2] == step
			if cutting {
				out = append(out, m[1]+"// TODO(lab): "+m[3])
				todos = append(todos, todo{line: len(out), task: m[3]})
			}
			continue
		}
		if m := endLine.FindStringSubmatch(line); m != nil {
			if !inRegion {
				return nil, nil, fmt.Errorf("%s:%d: lab:end without lab:cut", name, i+1)
			}
			if cutting && m[1] != "" {
				indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
				out = append(out, indent+m[1])
			}
			inRegion, cutting = false, false
			continue
		}
		if !cutting {
			out = append(out, line)
		}
	}
	if inRegion {
		return nil, nil, fmt.Errorf("%s: a lab:cut region has no lab:end", name)
	}
	cut := []byte(strings.Join(out, "\n"))
	if len(todos) == 0 {
		return cut, nil, nil
	}
	cut, err := dropUnusedImports(name, cut)
	if err != nil {
		return nil, nil, err
	}
	// gofmt may move lines (an import group shrinks): find the tasks again.
	todos = todos[:0]
	for i, line := range strings.Split(string(cut), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "// TODO(lab): ") {
			todos = append(todos, todo{line: i + 1, task: strings.TrimPrefix(t, "// TODO(lab): ")})
		}
	}
	return cut, todos, nil
}

// dropUnusedImports removes the imports a file no longer uses, then gofmts it.
func dropUnusedImports(name string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("the cut copy does not parse (check the markers): %w", err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	lines := strings.Split(string(src), "\n")
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		local := path.Base(p)
		if imp.Name != nil {
			local = imp.Name.Name
		}
		if local == "_" || local == "." || used[local] {
			continue
		}
		lines[fset.Position(imp.Pos()).Line-1] = "" // our imports stand one to a line
	}
	out, err := format.Source([]byte(strings.Join(lines, "\n")))
	if err != nil {
		return nil, fmt.Errorf("%s: gofmt the cut copy: %w", name, err)
	}
	return out, nil
}
