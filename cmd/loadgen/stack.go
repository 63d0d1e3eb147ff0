package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/portfoliotracker/tracker/localstack/stack"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// privateStack is a local stack started in this process for the run: every
// port free, its data in a folder of its own under .local/, no demo and no
// simulated feed (only ingest's one-minute schedule), removed on close.
type privateStack struct {
	s       *stack.Stack
	dataDir string
	logFile *os.File
}

// startStack starts the stack; functions' logs go to logPath when set.
func startStack(ctx context.Context, stderr io.Writer, logPath string) (_ *privateStack, ep endpoints, err error) {
	root, err := emulator.FindRoot()
	if err != nil {
		return nil, ep, err
	}
	base := filepath.Join(root, ".local")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, ep, err
	}
	dir, err := os.MkdirTemp(base, "loadgen-")
	if err != nil {
		return nil, ep, err
	}
	// PostgreSQL runs as another user and must be able to traverse into it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, ep, err
	}
	p := &privateStack{dataDir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.close())
		}
	}()
	cfg := stack.Defaults(root)
	cfg.DataDir, cfg.BinDir = dir, "" // its own functions' build: two stacks never write one binary
	cfg.HTTPPort, cfg.WSPort, cfg.AdminPort, cfg.AuthPort, cfg.WebPort = 0, 0, 0, 0, 0
	cfg.DynamoDBPort, cfg.KinesisPort, cfg.PostgresPort, cfg.SESPort = 0, 0, 0, 0
	cfg.Demo, cfg.TickEvery, cfg.BackfillEvery, cfg.Quiet = false, 0, 0, logPath == ""
	var output io.Writer
	if logPath != "" {
		if p.logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return nil, ep, err
		}
		output = p.logFile
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if p.s, err = stack.Start(ctx, cfg, log, output); err != nil {
		return nil, ep, fmt.Errorf("start the local stack: %w", err)
	}
	u := p.s.URLs
	ep = endpoints{API: u.HTTP, WS: "ws" + strings.TrimPrefix(u.WSManagement, "http"), Admin: u.Admin, Kinesis: u.Kinesis,
		Stream: cfg.Prefix + topology.MarketDataStream}
	return p, ep, nil
}

// close stops the stack and deletes its data, PostgreSQL's cluster included
// (it lives outside the folder when the postgres user cannot reach it), as
// `make reset` does.
func (p *privateStack) close() error {
	var errs []error
	if p.s != nil {
		errs = append(errs, p.s.Close())
	}
	if st, err := emulator.ReadState(filepath.Join(p.dataDir, "emulators")); err == nil && st.PostgresDir != "" {
		errs = append(errs, os.RemoveAll(st.PostgresDir))
	}
	errs = append(errs, os.RemoveAll(p.dataDir))
	if p.logFile != nil {
		errs = append(errs, p.logFile.Close())
	}
	return errors.Join(errs...)
}
