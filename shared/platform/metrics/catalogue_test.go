package metrics_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// moduleRoot is the repository's root, from this package's folder.
const moduleRoot = "../../.."

// emitted is one emf.Metric literal found in the code.
type emitted struct {
	at         string
	name, unit string
	dimensions []string
	bad        string // why the literal cannot be checked
}

// TestEveryEmittedMetricIsCatalogued reads every emf.Metric literal of the
// module's code (tests left out) and holds it to the catalogue: its name listed,
// its unit the listed one, its dimensions allowed; and every dimension a writer
// is given is one of the catalogue's names. A name must be a string literal, so
// that this test can read it.
func TestEveryEmittedMetricIsCatalogued(t *testing.T) {
	found, dims := scan(t)
	if len(found) < 20 {
		t.Fatalf("only %d emf.Metric literals found: is the scan reading the module?", len(found))
	}
	for _, e := range found {
		if e.bad != "" {
			t.Errorf("%s: %s", e.at, e.bad)
			continue
		}
		d, ok := metrics.Lookup(e.name)
		if !ok {
			t.Errorf("%s: metric %q is not in shared/platform/metrics' catalogue", e.at, e.name)
			continue
		}
		if unit := cmp(e.unit, metrics.Count); unit != d.Unit {
			t.Errorf("%s: %s in %s, catalogued in %s", e.at, e.name, unit, d.Unit)
		}
		for _, k := range e.dimensions {
			if !d.Allows(k) {
				t.Errorf("%s: %s aggregated by %s, which its catalogue entry does not list", e.at, e.name, k)
			}
		}
	}
	known := []string{metrics.Function, metrics.Stage, metrics.Route, metrics.StatusClass, metrics.Kind, metrics.Channel, metrics.Mode}
	for at, k := range dims {
		if !slices.Contains(known, k) {
			t.Errorf("%s: dimension %q is none of the catalogue's (%v)", at, k, known)
		}
	}
}

// TestEveryCataloguedMetricIsEmitted: the catalogue lists nothing the code no
// longer writes.
func TestEveryCataloguedMetricIsEmitted(t *testing.T) {
	found, _ := scan(t)
	for _, d := range metrics.Catalogue {
		if !slices.ContainsFunc(found, func(e emitted) bool { return e.name == d.Name }) {
			t.Errorf("%s is catalogued but no code emits it", d.Name)
		}
	}
}

func TestCatalogueEntriesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range metrics.Catalogue {
		if seen[d.Name] {
			t.Errorf("%s listed twice", d.Name)
		}
		seen[d.Name] = true
		if d.Unit != metrics.Count && d.Unit != metrics.Milliseconds {
			t.Errorf("%s: unit %q", d.Name, d.Unit)
		}
		if d.Meaning == "" || len(d.Functions) == 0 {
			t.Errorf("%s: no meaning or no function", d.Name)
		}
		if len(d.Dimensions) > 3 {
			t.Errorf("%s: %d dimensions: each multiplies the metrics CloudWatch bills", d.Name, len(d.Dimensions))
		}
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// scan parses the module's Go files (not tests, not infra/ nor web/, which are
// modules of their own) and returns the emf.Metric literals and the dimension
// names given to emf.New and WithDimensions as map literals, by position.
func scan(t *testing.T) ([]emitted, map[string]string) {
	t.Helper()
	var found []emitted
	dims := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "infra", "web", "node_modules", ".git", ".local", ".tools", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(filepath.ToSlash(path), "shared/platform/emf/") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "emf.") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if isSelector(n.Type, "emf", "Metric") {
					found = append(found, readMetric(fset, n))
				}
				// []emf.Metric{{Name: ...}}: the elements' type is elided.
				if a, ok := n.Type.(*ast.ArrayType); ok && isSelector(a.Elt, "emf", "Metric") {
					for _, el := range n.Elts {
						if lit, ok := el.(*ast.CompositeLit); ok && lit.Type == nil {
							found = append(found, readMetric(fset, lit))
						}
					}
				}
			case *ast.CallExpr:
				if isSelector(n.Fun, "emf", "New") && len(n.Args) == 2 || isMethod(n.Fun, "WithDimensions") && len(n.Args) == 1 {
					if m, ok := n.Args[len(n.Args)-1].(*ast.CompositeLit); ok {
						for _, el := range m.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if k, ok := stringOf(kv.Key); ok {
									dims[fset.Position(kv.Pos()).String()] = k
								}
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, dims
}

func readMetric(fset *token.FileSet, lit *ast.CompositeLit) emitted {
	e := emitted{at: fset.Position(lit.Pos()).String()}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			e.bad = "an emf.Metric literal without field names"
			return e
		}
		field := kv.Key.(*ast.Ident).Name
		switch field {
		case "Name", "Unit":
			s, ok := stringOf(kv.Value)
			if !ok {
				e.bad = "the metric's " + field + " must be a string literal (or a shared/platform/metrics constant)"
				return e
			}
			if field == "Name" {
				e.name = s
			} else {
				e.unit = s
			}
		case "Dimensions":
			list, ok := kv.Value.(*ast.CompositeLit)
			if !ok {
				e.bad = "the metric's Dimensions must be a literal list"
				return e
			}
			for _, x := range list.Elts {
				s, ok := stringOf(x)
				if !ok {
					e.bad = "the metric's Dimensions must be string literals or shared/platform/metrics constants"
					return e
				}
				e.dimensions = append(e.dimensions, s)
			}
		}
	}
	if e.name == "" && e.bad == "" {
		e.bad = "an emf.Metric literal without a Name"
	}
	return e
}

// constants are the catalogue's unit and dimension constants, by name.
var constants = map[string]string{
	"Count": metrics.Count, "Milliseconds": metrics.Milliseconds, "Function": metrics.Function, "Stage": metrics.Stage, "Route": metrics.Route,
	"StatusClass": metrics.StatusClass, "Kind": metrics.Kind, "Channel": metrics.Channel, "Mode": metrics.Mode,
}

func stringOf(x ast.Expr) (string, bool) {
	switch x := x.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		}
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok && id.Name == "metrics" {
			s, ok := constants[x.Sel.Name]
			return s, ok
		}
	}
	return "", false
}

func isSelector(x ast.Expr, pkg, name string) bool {
	s, ok := x.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg && s.Sel.Name == name
}

func isMethod(x ast.Expr, name string) bool {
	s, ok := x.(*ast.SelectorExpr)
	return ok && s.Sel.Name == name
}

// Each SLO is on a catalogued duration, with dimensions the metric carries;
// names are unique.
func TestSLOsAreOnCataloguedDurations(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range metrics.SLOs() {
		if seen[s.Name] {
			t.Errorf("SLO %s twice", s.Name)
		}
		seen[s.Name] = true
		d, ok := metrics.Lookup(s.Metric)
		if !ok || d.Unit != metrics.Milliseconds {
			t.Errorf("SLO %s on %s: not a catalogued duration", s.Name, s.Metric)
			continue
		}
		for k := range s.Dimensions {
			if !d.Allows(k) {
				t.Errorf("SLO %s: %s has no dimension %s", s.Name, s.Metric, k)
			}
		}
		if s.Objective <= 0 || s.Period <= 0 || s.Periods < 1 || s.Percentile == "" {
			t.Errorf("SLO %s: %+v", s.Name, s)
		}
	}
}
