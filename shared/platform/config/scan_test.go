package config_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// repoRoot is the folder whose go.mod declares the module (infra/ has a go.mod
// of its own, inside it).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/portfoliotracker/tracker\n") {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod of github.com/portfoliotracker/tracker above the test")
		}
	}
}

// goFiles parses every non-test Go file under dir, skipping what is not the
// project's source (tools, data, build output, testdata).
func goFiles(t *testing.T, dir string) map[string]*ast.File {
	t.Helper()
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".tools", ".data", ".local", "node_modules", "cdk.out", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// importName is the name file f gives the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			if im.Name != nil {
				return im.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

// TestOnlyFunctionsAndTheLoaderReadTheEnvironment: no Go file of the
// repository (both modules: infra/ is parsed too) outside functions/ and this
// package calls os.Getenv, os.LookupEnv or os.Environ (or syscall's); every
// other program declares its settings and reads them through this package.
// Exempt: tests (they arrange the environment of what they test), and
// testdata (localstack/runtime's stand-in function is a function). Passing the
// environment on to a child process is not reading it: exec.Cmd.Environ does.
func TestOnlyFunctionsAndTheLoaderReadTheEnvironment(t *testing.T) {
	forbidden := map[string][]string{"os": {"Getenv", "LookupEnv", "Environ"}, "syscall": {"Getenv", "Environ"}}
	for path, f := range goFiles(t, repoRoot(t)) {
		if strings.HasPrefix(path, "functions/") || strings.HasPrefix(path, "shared/platform/config/") {
			continue
		}
		names := map[string][]string{}
		for pkg, fns := range forbidden {
			if n := importName(f, pkg); n != "" {
				names[n] = fns
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && slices.Contains(names[x.Name], sel.Sel.Name) {
				t.Errorf("%s: %s.%s: read settings through shared/platform/config (declare them)", path, x.Name, sel.Sel.Name)
			}
			return true
		})
	}
}

// envName is what a setting's name looks like.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// getters are the calls that read a setting by name: config.Env's methods, a
// getenv parameter (the authorizer's loadConfig), and os's own, which a
// function may call but not to read what it does not declare.
var getters = []string{"String", "Int", "Uint", "Float", "Duration", "Bool", "First", "getenv", "Getenv", "LookupEnv"}

// TestFunctionsReadWhatTheyDeclare: each function's package reads (through a
// getter, with a literal or constant name) only settings it declares, and
// mentions every setting it declares. The loader refuses an undeclared name at
// run time too; this finds it without running the function.
func TestFunctionsReadWhatTheyDeclare(t *testing.T) {
	root := repoRoot(t)
	topologyConsts := stringConsts(goFiles(t, filepath.Join(root, "shared", "platform", "topology")))
	for _, fn := range topology.Functions() {
		files := goFiles(t, filepath.Join(root, "functions", fn.Name))
		local := stringConsts(files)
		value := func(e ast.Expr) (string, bool) {
			switch e := e.(type) {
			case *ast.BasicLit:
				s, err := strconv.Unquote(e.Value)
				return s, err == nil && e.Kind == token.STRING
			case *ast.Ident:
				s, ok := local[e.Name]
				return s, ok
			case *ast.SelectorExpr:
				if x, ok := e.X.(*ast.Ident); ok && x.Name == "topology" {
					s, ok := topologyConsts[e.Sel.Name]
					return s, ok
				}
			}
			return "", false
		}
		declared := map[string]bool{}
		for _, s := range fn.Environment() {
			declared[s.Name] = true
		}
		mentioned := map[string]bool{}
		for path, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					if s, ok := value(e); ok {
						mentioned[s] = true
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				var name string
				switch fun := call.Fun.(type) {
				case *ast.SelectorExpr:
					name = fun.Sel.Name
				case *ast.Ident:
					name = fun.Name
				}
				if !slices.Contains(getters, name) {
					return true
				}
				for _, a := range call.Args {
					if s, ok := value(a); ok && envName.MatchString(s) && !declared[s] {
						t.Errorf("functions/%s/%s: reads %s, which the topology does not declare for %s", fn.Name, path, s, fn.Name)
					}
				}
				return true
			})
		}
		// Every function's own settings (its tracing) are read by
		// functions/edge/lambdatrace, which the function starts through.
		if mentionsPackage(files, "lambdatrace") {
			for _, s := range (topology.Function{}).Environment() {
				mentioned[s.Name] = true
			}
		}
		for name := range declared {
			if !mentioned[name] {
				t.Errorf("functions/%s: declares %s but never reads it", fn.Name, name)
			}
		}
	}
}

// mentionsPackage reports whether a file imports the package named name.
func mentionsPackage(files map[string]*ast.File, name string) bool {
	for _, f := range files {
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); filepath.Base(p) == name {
				return true
			}
		}
	}
	return false
}

// stringConsts are the string constants the files declare, by name.
func stringConsts(files map[string]*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}
