package stack_test

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// MaxZippedAsset bounds a function's deployment package; Go binaries of this
// size initialise in tens of milliseconds (docs/architecture.md §4).
const MaxZippedAsset = 10 << 20

// TestGoBuildBundlesARealFunction stages one real function through the CDK with
// the real bundler (go build, no Docker): the asset is a static linux/arm64
// bootstrap, its zip is at most 10 MB, and building again gives the same asset
// hash (an unchanged function is not redeployed).
func TestGoBuildBundlesARealFunction(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := topology.FunctionByName("authorizer")
	if !ok {
		t.Fatal("no authorizer in the topology")
	}
	hashes := map[string]bool{}
	for i := 0; i < 2; i++ {
		start := time.Now()
		out := t.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		st := awscdk.NewStack(app, jsii.String("Bundling"), nil)
		awslambda.NewFunction(st, jsii.String("Fn"), &awslambda.FunctionProps{
			Runtime: awslambda.Runtime_PROVIDED_AL2023(), Architecture: awslambda.Architecture_ARM_64(),
			Handler: jsii.String("bootstrap"), Code: stack.GoBuild(root)(f),
		})
		tmpl := assertions.Template_FromStack(st, nil)
		var key string
		for _, r := range *tmpl.FindResources(jsii.String("AWS::Lambda::Function"), nil) {
			key = (*r)["Properties"].(map[string]any)["Code"].(map[string]any)["S3Key"].(string)
		}
		hash := strings.TrimSuffix(key, ".zip")
		hashes[hash] = true
		bin := filepath.Join(out, "asset."+hash, "bootstrap")
		exe, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("asset %s: %v", bin, err)
		}
		if exe.Machine != elf.EM_AARCH64 || exe.Class != elf.ELFCLASS64 {
			t.Errorf("bootstrap is %v %v, want 64-bit arm64", exe.Class, exe.Machine)
		}
		if interp := exe.Section(".interp"); interp != nil {
			t.Errorf("bootstrap is dynamically linked (CGO_ENABLED=0 expected)")
		}
		exe.Close()
		info, err := os.Stat(bin)
		if err != nil || info.Mode()&0o111 == 0 {
			t.Fatalf("bootstrap is not executable: %v %v", info, err)
		}
		zipped := zipSize(t, bin)
		t.Logf("build %d: %s, bootstrap %.1f MB, zipped %.1f MB, in %s", i+1, f.Name, float64(info.Size())/(1<<20), float64(zipped)/(1<<20), time.Since(start).Round(time.Millisecond))
		if zipped > MaxZippedAsset {
			t.Errorf("zipped asset is %d bytes, more than %d", zipped, MaxZippedAsset)
		}
	}
	if len(hashes) != 1 {
		t.Errorf("two builds of the same source gave different asset hashes: %v", hashes)
	}
}

// zipSize is the size of the zip the CDK CLI uploads (deflate, one file).
func zipSize(t *testing.T, file string) int {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// TestGoBundlerCommandLine pins the build flags docs/architecture.md §4 asks for.
func TestGoBundlerCommandLine(t *testing.T) {
	b := &stack.GoBundler{RepoRoot: "/repo", Package: "./functions/api"}
	got := strings.Join(b.Args("/out"), " ")
	want := "go build -tags lambda.norpc -trimpath -buildvcs=false -ldflags=-s -w -o /out/bootstrap ./functions/api"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
	env := strings.Join(b.Env(), "\n")
	for _, v := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"} {
		if !strings.HasSuffix(env, v) && !strings.Contains(env, v+"\n") {
			t.Errorf("env lacks %s", v)
		}
	}
}
