package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContext(t *testing.T) {
	ctx, err := Context([]string{"synth", "-c", "stage=prod", "--context", "frontendOrigin=https://a.example.com", "-c", "empty="})
	if err != nil || ctx["stage"] != "prod" || ctx["frontendOrigin"] != "https://a.example.com" || ctx["empty"] != "" || len(ctx) != 3 {
		t.Fatalf("%v %v", ctx, err)
	}
	if ctx, err := Context(nil); err != nil || len(ctx) != 0 {
		t.Fatalf("no arguments: %v %v", ctx, err)
	}
	for _, args := range [][]string{{"deploy"}, {"-c"}, {"-c", "stage"}, {"-c", "=x"}, {"-c", "a=b", "synth"}} {
		if _, err := Context(args); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "functions")); err != nil {
		t.Errorf("root %s has no functions/: %v", root, err)
	}
	if _, err := RepoRoot(t.TempDir()); err == nil {
		t.Error("found a root in an empty directory")
	}
}
