// Package shared_test holds the layering rules of docs/architecture.md §2 as a
// test over `go list -deps`: what each role under shared/ may depend on.
package shared_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/portfoliotracker/tracker/"

// A layer rule: the packages under Under may not depend, directly or through
// other packages (Deps), on anything starting with one of Forbidden.
type layerRule struct {
	under     string
	forbidden []string
	why       string
}

var (
	infrastructure = []string{"github.com/aws/", "github.com/jackc/", "net/http", "database/sql"}
	lambdaEvents   = "github.com/aws/aws-lambda-go/events"
	// database/sql/driver holds only the Valuer and Scanner interfaces that
	// shopspring/decimal implements: no SQL comes with it.
	allowedEverywhere = []string{"database/sql/driver"}
)

var layerRules = []layerRule{
	{"shared/domain/", append(slices.Clone(infrastructure), module+"shared/app/", module+"shared/adapters/", module+"shared/devtools/", module+"functions/"),
		"the domain is plain Go: no AWS, SQL, HTTP or Lambda package, and nothing of the layers above it"},
	{"shared/app/", append(slices.Clone(infrastructure), module+"shared/adapters/", module+"shared/devtools/", module+"functions/"),
		"a use case declares the ports it needs and imports no adapter, no AWS, SQL, HTTP or Lambda package"},
	{"shared/platform/", append(slices.Clone(infrastructure), module+"shared/domain/", module+"shared/app/", module+"shared/adapters/", module+"shared/devtools/", module+"functions/"),
		"platform packages are the bottom layer every other one may use"},
	{"shared/adapters/", []string{module + "shared/devtools/", module + "functions/", lambdaEvents},
		"adapters implement ports; the Lambda edge is functions/"},
	{"functions/", []string{module + "shared/devtools/", module + "cmd/", module + "localstack/"},
		"a deployed function carries no development tooling"},
}

// Only these may import aws-lambda-go/events (tests aside).
var lambdaEdge = []string{"functions/", "cmd/", "localstack/"}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", "../...")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 50 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	return pkgs
}

// isTestSupport: packages named *test (storetest, rmtest, wsconntest...) exist
// for tests, may use the development tooling, and are imported by tests only.
func isTestSupport(importPath string) bool {
	return strings.HasPrefix(importPath, module) && strings.HasSuffix(importPath, "test") && importPath != module+"cmd/testenv"
}

func TestLayers(t *testing.T) {
	pkgs := listPackages(t)
	checked := map[string]int{}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if isTestSupport(imp) && !isTestSupport(p.ImportPath) {
				t.Errorf("%s imports the test-support package %s: only tests may", rel, imp)
			}
		}
		for _, rule := range layerRules {
			if !strings.HasPrefix(rel, rule.under) || isTestSupport(p.ImportPath) {
				continue
			}
			checked[rule.under]++
			var bad []string
			for _, dep := range p.Deps {
				if !slices.Contains(allowedEverywhere, dep) && slices.ContainsFunc(rule.forbidden, func(f string) bool { return strings.HasPrefix(dep, f) }) {
					bad = append(bad, strings.TrimPrefix(dep, module))
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s depends on %d forbidden packages (%s): %s", rel, len(bad), strings.Join(bad[:min(len(bad), 4)], ", "), rule.why)
			}
		}
		if slices.Contains(p.Imports, lambdaEvents) && !slices.ContainsFunc(lambdaEdge, func(edge string) bool { return strings.HasPrefix(rel, edge) }) {
			t.Errorf("%s imports %s: only %v decode Lambda events", rel, lambdaEvents, lambdaEdge)
		}
	}
	for _, rule := range layerRules {
		if checked[rule.under] == 0 {
			t.Errorf("no package under %s: the rule checks nothing (was the folder renamed?)", rule.under)
		}
	}
}
