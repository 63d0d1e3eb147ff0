package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes.
const (
	exitOK       = 0
	exitInternal = 1 // a bug, or stdout could not be written
	exitInput    = 2 // bad flags or bad input files
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands, in the order "tracker help" shows them. Add new
// ones here, each in its own file.
var commands = []command{
	{"calc", "holdings, P&L and returns from an activity file and a prices file", runCalc},
	{"benchdata", "write a generated activity file and prices file (benchmarks, load tests)", runBenchdata},
	{"migrate", "apply the read models' schema migrations (--database-url DSN)", runMigrate},
	{"replay", "rebuild the read models from the DynamoDB events table", runReplay},
	{"quotas-backfill", "count what users already hold against the DynamoDB quotas (once, after they were introduced)", runQuotasBackfill},
}

// run is the whole CLI: it parses args (without the program name), writes results
// to stdout and errors — one line each — to stderr, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// Never a panic trace: any panic is a bug, reported in one line.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tracker: internal error: %v\n", r)
			code = exitInternal
		}
	}()
	if len(args) == 0 {
		fmt.Fprintf(stderr, "tracker: no command (want one of: %s; see tracker help)\n", commandNames())
		return exitInput
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	default:
		for _, c := range commands {
			if c.name == name {
				return c.run(args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "tracker: unknown command %q (want one of: %s)\n", name, commandNames())
		return exitInput
	}
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tracker <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "tracker <command> -h" for a command's flags.`)
}

// inputFailer returns the subcommand's one-line reporter of bad input: it writes
// "tracker <name>: <what> (see tracker <name> -h)" and gives the exit code.
func inputFailer(name string, stderr io.Writer) func(format string, args ...any) int {
	return func(format string, args ...any) int {
		fmt.Fprintf(stderr, "tracker "+name+": "+format+" (see tracker "+name+" -h)\n", args...)
		return exitInput
	}
}

// parseFlags parses a subcommand's flags the same way for every subcommand: -h
// prints its usage; a bad flag or a stray argument is one line of bad input.
// done reports that the subcommand should return code now.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout io.Writer, fail func(string, ...any) int) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK, true
		}
		return fail("%v", err), true
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0)), true
	}
	return 0, false
}
