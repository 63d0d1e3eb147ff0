package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitRun   = 1 // the stack could not be started or reached, or a run failed
	exitUsage = 2 // bad flags
)

// run is the whole command: figures to stdout (text, or JSON with --json),
// progress and errors to stderr; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	o, helped, err := parseOptions(args, stdout)
	if helped {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v (see loadgen -h)\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ep := o.endpoints
	if o.startStack {
		fmt.Fprintln(stderr, "loadgen: starting a private local stack (emulators, function builds, schema)...")
		t0 := time.Now()
		st, stackEP, err := startStack(ctx, stderr, o.stackLog)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
		defer func() {
			if err := st.close(); err != nil {
				fmt.Fprintf(stderr, "loadgen: stop the local stack: %v\n", err)
			}
		}()
		fmt.Fprintf(stderr, "loadgen: local stack ready in %.1f s\n", time.Since(t0).Seconds())
		if err := stackEP.check(); err != nil {
			fmt.Fprintf(stderr, "loadgen: the started stack: %v\n", err)
			return exitRun
		}
		ep = stackEP
	}

	g := &generator{c: newClients(ep, o.maxFlight), stamps: &stamper{}, id: strconv.FormatInt(time.Now().Unix(), 36), progress: stderr}
	if o.warmup > 0 {
		if err := g.warmUp(ctx, o.load, o.warmup); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
	}
	var (
		result any
		text   func(io.Writer)
	)
	switch {
	case o.compare:
		c, err := g.compare(ctx, o.load)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
		result, text = c, func(w io.Writer) { writeComparison(w, c) }
	case o.sweep != "":
		s, err := g.sweep(ctx, o.load, o.sweep, o.sweepSteps, o.slo)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
		result, text = s, func(w io.Writer) { writeSweep(w, s) }
	default:
		label := "load"
		if o.load.Abusive {
			label = "load with the abusive user"
		}
		r, err := g.run(ctx, o.load, label)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
		result, text = r, func(w io.Writer) { writeReport(w, r) }
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(result); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitRun
		}
		return exitOK
	}
	text(stdout)
	return exitOK
}
