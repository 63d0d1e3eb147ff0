package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
)

const benchdataUsage = `usage: tracker benchdata --dir DIR [--activities N] [--symbols N] [--years N] [--seed N]
                        [--foreign CODE,CODE]

Writes a generated, valid portfolio history into DIR: activities.json (our activity
JSON) and prices.csv (weekday closes). The defaults are the benchmark data set:
50,000 activities over 20 years across 300 symbols, in USD. With --foreign (e.g.
EUR,GBp: at most two currencies) a third of the activities are in them, and
fx.csv holds their daily rates into USD for calc's --fx. Same flags, same bytes.
`

func runBenchdata(args []string, stdout, stderr io.Writer) int {
	cfg := benchdata.Default()
	fs := flag.NewFlagSet("benchdata", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", "", "")
	fs.IntVar(&cfg.Activities, "activities", cfg.Activities, "")
	fs.IntVar(&cfg.Symbols, "symbols", cfg.Symbols, "")
	fs.IntVar(&cfg.Years, "years", cfg.Years, "")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "")
	foreign := fs.String("foreign", "", "")
	fail := inputFailer("benchdata", stderr)
	if code, done := parseFlags(fs, args, benchdataUsage, stdout, fail); done {
		return code
	}
	switch {
	case *dir == "":
		return fail("--dir is required")
	case cfg.Activities < 1 || cfg.Activities > 10_000_000:
		return fail("--activities must be between 1 and 10000000")
	case cfg.Symbols < 1 || cfg.Symbols > 10_000:
		return fail("--symbols must be between 1 and 10000")
	case cfg.Years < 1 || cfg.Years > 100:
		return fail("--years must be between 1 and 100")
	}
	if *foreign != "" {
		cfg.Foreign = strings.Split(*foreign, ",")
		if len(cfg.Foreign) > 2 || slices.Contains(cfg.Foreign, cfg.Currency) || len(cfg.Foreign) == 2 && cfg.Foreign[0] == cfg.Foreign[1] {
			return fail("--foreign takes one or two currencies other than %s, comma-separated", cfg.Currency)
		}
		for _, c := range cfg.Foreign {
			if !currency.Known(c) {
				return fail("--foreign: %q is not an ISO 4217 code or a quote unit such as GBp", c)
			}
		}
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fail("--dir %s is not a directory", *dir)
	}
	a, p, err := benchdata.Generate(cfg).WriteFiles(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "tracker benchdata: %v\n", err)
		return exitInternal
	}
	fmt.Fprintf(stdout, "%s\n%s\n", a, p)
	if len(cfg.Foreign) > 0 {
		fmt.Fprintln(stdout, filepath.Join(*dir, benchdata.RatesFile))
	}
	return exitOK
}
