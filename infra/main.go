// Command infra is the portfolio tracker's CDK app. It synthesizes the stack of
// one stage into cdk.out:
//
//	go run . -c stage=dev -c supabaseUrl=https://<ref>.supabase.co     (what `make synth` runs)
//	npx aws-cdk deploy -c stage=prod -c supabaseUrl=... -c frontendOrigin=...  (through cdk.json)
//
// -c quoteSource=finnhub -c historySource=polygon choose real market data;
// without them prices and history are simulated, which the synthesis says
// loudly (on stderr, and as a warning annotation the CDK CLI prints).
// -c mailDomain=<domain> (and optionally -c mailFrom=...) is required once a
// function sends e-mail: the stack creates that domain's SES identity.
// -c supabaseAnonKey=<key> goes into the web app's config.json; the web app
// itself is web/out (make web), which a deployment requires and a synthesis of
// our own replaces with a placeholder page when it is missing.
//
// The -c flags are read here when the app runs on its own; under the CDK CLI the
// CLI passes them as context. Functions are compiled locally (Go, no Docker).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/internal/cli"
	"github.com/portfoliotracker/tracker/infra/stack"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

// webApp is the built web app the stack deploys, web/out. Under the CDK CLI
// (deploy, diff: CDK_OUTDIR is set) it must exist; a synthesis of our own
// (make synth) without it uses a placeholder page, and says so.
func webApp(root string) (string, error) {
	dir := filepath.Join(root, "web", "out")
	err := stack.CheckWebDir(dir)
	if err == nil {
		return dir, nil
	}
	if stack.Environment().String("CDK_OUTDIR") != "" {
		return "", fmt.Errorf("the web app is not built: %w (the stack deploys it; run make web, then deploy)", err)
	}
	tmp, terr := os.MkdirTemp("", "pt-web-placeholder-")
	if terr != nil {
		return "", terr
	}
	if terr := stack.WebPlaceholder(tmp); terr != nil {
		return "", terr
	}
	fmt.Fprintf(os.Stderr, "\n*** NOTE: %v; this synthesis deploys a placeholder page instead (a deployment refuses it).\n\n", err)
	return tmp, nil
}

func run(args []string) error {
	ctx, err := cli.Context(args)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := cli.RepoRoot(wd)
	if err != nil {
		return err
	}
	defer jsii.Close()
	props := &awscdk.AppProps{Context: &ctx}
	if stack.Environment().String("CDK_OUTDIR") == "" { // the CDK CLI sets it; on our own, infra/cdk.out
		props.Outdir = jsii.String(filepath.Join(wd, "cdk.out"))
	}
	app := awscdk.NewApp(props)
	cfg, err := stack.ConfigFromContext(func(key string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
			return v
		}
		return ""
	})
	if err != nil {
		return err
	}
	if w := cfg.SimulatedWarning(); w != "" {
		fmt.Fprintf(os.Stderr, "\n*** WARNING: %s\n\n", w)
	}
	webDir, err := webApp(root)
	if err != nil {
		return err
	}
	st, err := stack.New(app, stack.Props{Config: cfg, Topology: stack.FromPackage(), Code: stack.GoBuild(root), Env: stack.EnvFromEnvironment(), WebDir: webDir})
	if err != nil {
		return err
	}
	stack.CheckAwsSolutions(app)
	asm := app.Synth(nil)
	var errs []string
	for _, m := range *asm.GetStackArtifact(st.Stack.ArtifactId()).Messages() {
		if level, path, data := stack.Message(m); level == "error" {
			errs = append(errs, fmt.Sprintf("%s: %v", path, data))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d error annotation(s) (cdk-nag or CDK):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	fmt.Fprintf(os.Stderr, "synthesized %s into %s\n", *st.Stack.StackName(), *asm.Directory())
	return nil
}
