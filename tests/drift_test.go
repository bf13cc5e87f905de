// Keeping the steps true to each other. Every step is a copy of the one
// before plus one mechanism, and copies drift: a fix made in one step must
// reach every later one. So every top-level declaration that two
// consecutive steps share must be identical, unless the later step's
// header declares it changed ("Changed from step03: run, containerInit.").
// A declaration listed there that did not change is an error too, so the
// header stays true.

package tests

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestStepsDoNotDrift(t *testing.T) {
	dirs := stepSources(t)
	for i := 1; i < len(dirs); i++ {
		for _, problem := range driftProblems(dirs[i-1], dirs[i]) {
			t.Error(problem)
		}
	}
}

func TestDriftCheckCatchesAPlantedDrift(t *testing.T) {
	problems := driftProblems("testdata/drift/step01-a", "testdata/drift/step02-b")
	want := []string{
		"step02-b: declares helper changed, but it is identical in step01-a",
		"step02-b: run differs from step01-a but is not declared in \"Changed from step01-a:\"",
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems found:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestStepsImportNoPackageOfThisRepository(t *testing.T) {
	for _, dir := range stepSources(t) {
		decls, _, imports, err := readStep(dir)
		if err != nil {
			t.Fatal(err)
		}
		_ = decls
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/minidocker/minidocker") {
				t.Errorf("%s imports %s: a step must stand alone", filepath.Base(dir), imp)
			}
		}
	}
}

func TestStepFilesHaveTheirHeaders(t *testing.T) {
	for _, dir := range stepSources(t) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "//go:build linux\n") {
				t.Errorf("%s does not start with //go:build linux", f)
			}
		}
		main, _ := os.ReadFile(filepath.Join(dir, "main.go"))
		n := strings.TrimPrefix(filepath.Base(dir), "step")[:2]
		if !regexp.MustCompile(`(?m)^// Step ` + n + ` — .+ Goal: `).Match(main) {
			t.Errorf("%s/main.go lacks the header \"// Step %s — NAME. Goal: ...\"", dir, n)
		}
	}
}

// stepSources returns the step directories of the repository, in order;
// it skips where the sources are not at hand (the test VM has binaries only).
func stepSources(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && stepDirPattern.MatchString(e.Name()) {
			dirs = append(dirs, filepath.Join(repoRoot, e.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Skip("no step sources here (the test VM carries binaries only)")
	}
	sort.Strings(dirs)
	return dirs
}

// driftProblems compares the declarations of two consecutive steps.
func driftProblems(earlier, later string) []string {
	before, _, _, err := readStep(earlier)
	if err != nil {
		return []string{err.Error()}
	}
	after, declared, _, err := readStep(later)
	if err != nil {
		return []string{err.Error()}
	}
	a, b := filepath.Base(earlier), filepath.Base(later)
	var problems []string
	for _, name := range sortedKeys(after) {
		old, shared := before[name]
		switch {
		case shared && old != after[name] && !declared[name]:
			problems = append(problems, fmt.Sprintf("%s: %s differs from %s but is not declared in \"Changed from %s:\"", b, name, a, a))
		case shared && old == after[name] && declared[name]:
			problems = append(problems, fmt.Sprintf("%s: declares %s changed, but it is identical in %s", b, name, a))
		}
	}
	for _, name := range sortedKeys(declared) {
		if _, ok := after[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s: declares %s changed, but has no such declaration", b, name))
		}
	}
	return problems
}

// changedLine is the header line where a step declares what it changed.
var changedLine = regexp.MustCompile(`(?s)Changed from step[0-9a-z-]*:(.*?)(\n//\s*\n|\npackage |$)`)

// readStep parses a step's non-test Go files: the source text of each
// top-level declaration by name, the names its header declares changed,
// and its imports.
func readStep(dir string) (decls map[string]string, declared map[string]bool, imports []string, err error) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	decls, declared = map[string]string{}, map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, imp := range f.Imports {
			imports = append(imports, strings.Trim(imp.Path.Value, `"`))
		}
		if m := changedLine.FindSubmatch(src[:fset.Position(f.Package).Offset]); m != nil {
			for _, name := range strings.FieldsFunc(string(m[1]), func(r rune) bool { return strings.ContainsRune(" ,./\n\t", r) }) {
				declared[name] = true
			}
		}
		text := func(from, to token.Pos) string {
			return string(src[fset.Position(from).Offset:fset.Position(to).Offset])
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				decls[funcName(d)] = text(startOf(d.Doc, d.Pos()), d.End())
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					from, doc := spec.Pos(), d.Doc
					if d.Lparen.IsValid() {
						doc = specDoc(spec)
					}
					from = startOf(doc, from)
					for _, name := range specNames(spec) {
						decls[name] = text(from, spec.End())
					}
				}
			}
		}
	}
	return decls, declared, imports, nil
}

// funcName is a function's name, or Type.Method for a method.
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	typ := d.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + d.Name.Name
	}
	return d.Name.Name
}

// specDoc is the doc comment of one spec inside a parenthesised declaration.
func specDoc(spec ast.Spec) *ast.CommentGroup {
	switch s := spec.(type) {
	case *ast.TypeSpec:
		return s.Doc
	case *ast.ValueSpec:
		return s.Doc
	}
	return nil
}

// specNames are the names a type, var or const spec declares.
func specNames(spec ast.Spec) []string {
	switch s := spec.(type) {
	case *ast.TypeSpec:
		return []string{s.Name.Name}
	case *ast.ValueSpec:
		var names []string
		for _, n := range s.Names {
			names = append(names, n.Name)
		}
		return names
	}
	return nil
}

// startOf is where a declaration starts: at its doc comment, if any.
func startOf(doc *ast.CommentGroup, pos token.Pos) token.Pos {
	if doc != nil {
		return doc.Pos()
	}
	return pos
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
