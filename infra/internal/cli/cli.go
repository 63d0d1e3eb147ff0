// Package cli holds what the infra command does before the CDK starts: reading
// its arguments and finding the repository. It imports nothing from the CDK, so
// its tests build in a second.
package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Usage is the command line.
const Usage = "go run . [synth] [-c key=value]..."

// Context parses the arguments: an optional "synth" and -c/--context key=value
// pairs (as the CDK CLI takes them), returned as CDK context.
func Context(args []string) (map[string]interface{}, error) {
	ctx := map[string]interface{}{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "synth" && i == 0:
		case a == "-c" || a == "--context":
			if i+1 == len(args) {
				return nil, fmt.Errorf("%s needs key=value (usage: %s)", a, Usage)
			}
			i++
			k, v, ok := strings.Cut(args[i], "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s %s: want key=value", a, args[i])
			}
			ctx[k] = v
		default:
			return nil, fmt.Errorf("unknown argument %q (usage: %s)", a, Usage)
		}
	}
	return ctx, nil
}

// RepoRoot is the main module's root: the nearest directory at or above dir that
// has both go.mod and infra/go.mod.
func RepoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if isFile(filepath.Join(d, "go.mod")) && isFile(filepath.Join(d, "infra", "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no repository root (with go.mod and infra/go.mod) at or above %s", dir)
		}
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
