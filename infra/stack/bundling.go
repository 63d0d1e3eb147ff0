package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Code gives a function's deployment package.
type Code func(f topology.Function) awslambda.Code

// GoBuild is the Code of the real deployments: each function is compiled on this
// machine by `go build` (no Docker), for provided.al2023 on arm64, into a
// directory holding one `bootstrap` binary that the CDK stages as the asset.
//
// The asset hash is the hash of the binary (AssetHashType OUTPUT): the source
// folder functions/<name> does not hold the shared packages the binary is made
// of, so hashing it would miss their changes. The build is reproducible
// (-trimpath, -buildvcs=false), so an unchanged function keeps its hash and is not
// redeployed.
func GoBuild(repoRoot string) Code {
	return func(f topology.Function) awslambda.Code {
		b := &GoBundler{RepoRoot: repoRoot, Package: "./functions/" + f.Name}
		return awslambda.Code_FromAsset(jsii.String(filepath.Join(repoRoot, "functions", f.Name)), &awss3assets.AssetOptions{
			AssetHashType: awscdk.AssetHashType_OUTPUT,
			Bundling: &awscdk.BundlingOptions{
				// Never pulled: Local always bundles or fails the synthesis.
				Image:   awscdk.DockerImage_FromRegistry(jsii.String("unused")),
				Local:   b,
				Command: jsii.Strings(b.Args("/asset-output")...),
			},
		})
	}
}

// GoBundler builds one Go main package into <outputDir>/bootstrap. It implements
// awscdk.ILocalBundling.
type GoBundler struct {
	RepoRoot string // the module root holding functions/
	Package  string // "./functions/<name>"
}

// Args is the go command line that builds into outputDir.
func (b *GoBundler) Args(outputDir string) []string {
	return []string{"go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", filepath.Join(outputDir, "bootstrap"), b.Package}
}

// Env is what the build adds to the environment it inherits: a static
// linux/arm64 binary.
func (b *GoBundler) Env() []string {
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOWORK=off"}
}

// Build runs the build.
func (b *GoBundler) Build(outputDir string) error {
	args := b.Args(outputDir)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = b.RepoRoot
	cmd.Env = append(cmd.Environ(), b.Env()...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bundling %s: go build: %w", b.Package, err)
	}
	fmt.Fprintf(os.Stderr, "bundled %s for linux/arm64 in %s\n", b.Package, time.Since(start).Round(time.Millisecond))
	return nil
}

// TryBundle is called by the CDK when it stages the asset. A failed build panics:
// returning false would make the CDK fall back to Docker, which this project does
// not use, and hide the compiler's message behind Docker's.
func (b *GoBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if err := b.Build(*outputDir); err != nil {
		panic(err)
	}
	return jsii.Bool(true)
}
