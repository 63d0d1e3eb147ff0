// Package readmodel is the Postgres side of the system (DESIGN §1, §3): the
// embedded schema migrations, the projector that turns portfolio events into read
// models, the rebuild (replay) of those read models from the event store, and the
// queries the API answers from.
//
// Connections go through Supabase's transaction pooler (port 6543): a server
// connection belongs to a client only for the length of one transaction, so
// nothing may depend on session state. Hence the simple query protocol (no
// prepared statements, which a pooled server connection would not know), no
// session-level advisory locks (migrations take transaction-level ones), and a
// pool of one or two connections per Lambda container, created once.
package readmodel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/secrets"
)

// ErrNotFound is returned by the queries for a portfolio that does not exist or
// does not belong to the caller (the two are not told apart).
var ErrNotFound = errors.New("not found")

// PoolOptions tunes Open. Zero values take the defaults.
type PoolOptions struct {
	// MaxConns is the pool size. Default 2: a Lambda container handles one event
	// at a time, and Supabase's pooler counts every connection.
	MaxConns int32
	// ApplicationName shows in pg_stat_activity. Default "portfoliotracker".
	ApplicationName string
}

// Open builds a pool for dsn configured for the transaction pooler. It does not
// connect: the first query does, so a cold start pays nothing here.
func Open(ctx context.Context, dsn string, opts PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("readmodel: open pool: %w", err)
	}
	return pool, nil
}

// OpenConfigured opens the pool the way every function is configured: the DSN in
// DATABASE_URL (local runs), or in the Secrets Manager secret named by
// DATABASE_SECRET_ARN (deployed; read on the first call, not at start).
func OpenConfigured(ctx context.Context, applicationName string) (*pgxpool.Pool, error) {
	dsn, err := secrets.DatabaseURL(ctx, os.Getenv("DATABASE_URL"), os.Getenv("DATABASE_SECRET_ARN"))
	if err != nil {
		return nil, err
	}
	return Open(ctx, dsn, PoolOptions{ApplicationName: applicationName})
}

// PoolConfig is Open's configuration, for callers that tune it further.
func PoolConfig(dsn string, opts PoolOptions) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("readmodel: database URL: %w", err) // pgconn masks the password

	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 2
	}
	if opts.ApplicationName == "" {
		opts.ApplicationName = "portfoliotracker"
	}
	cfg.MaxConns = opts.MaxConns
	cfg.MinConns = 0
	// A frozen Lambda container's idle connections are closed by the pooler
	// meanwhile; pgxpool pings a connection idle for more than a second before
	// handing it out, and these limits retire old ones.
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.MaxConnLifetime = 30 * time.Minute
	cc := cfg.ConnConfig
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cc.StatementCacheCapacity = 0
	cc.DescriptionCacheCapacity = 0
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = opts.ApplicationName
	}
	return cfg, nil
}
