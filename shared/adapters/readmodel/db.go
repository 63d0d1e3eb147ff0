// Package readmodel is the Postgres side of the system (docs/architecture.md §1, §3): the
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
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
)

// PoolOptions tunes Open. Zero values take the defaults.
type PoolOptions struct {
	// MaxConns is the pool size. Default 2: a Lambda container handles one event
	// at a time, and Supabase's pooler counts every connection.
	MaxConns int32
	// ApplicationName shows in pg_stat_activity. Default "portfoliotracker".
	ApplicationName string
	// RootCert is the PEM of the root certificate that signs the server's
	// (Supabase's prod-ca-2021.crt), when the DSN does not name a file
	// (sslrootcert): the database secret may carry it.
	RootCert string
}

// The variables that configure the database of a function: the owner's DSN
// (the internal functions: projector, prices, analytics, ingest, migrate), and
// the API login's (api, ws). A local run sets the DSN; a deployed function gets
// the ARN of the Secrets Manager secret holding it (topology.DatabaseSecret,
// topology.APIDatabaseSecret). The functions read them (shared/platform/config);
// this package names them in its errors.
const (
	EnvDatabaseURL          = "DATABASE_URL"
	EnvDatabaseSecretARN    = "DATABASE_SECRET_ARN"
	EnvAPIDatabaseURL       = "API_DATABASE_URL"
	EnvAPIDatabaseSecretARN = "API_DATABASE_SECRET_ARN"
)

// DatabaseConfig says where a function's DSN is: URL itself (local runs), or
// the Secrets Manager secret SecretARN (deployed; read on the first open, not
// at start).
type DatabaseConfig struct {
	URL, SecretARN string
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

// OpenConfigured opens the owner's pool the way the internal functions are
// configured: db from DATABASE_URL or DATABASE_SECRET_ARN.
func OpenConfigured(ctx context.Context, applicationName string, db DatabaseConfig) (*pgxpool.Pool, error) {
	return openFrom(ctx, db, EnvDatabaseURL, EnvDatabaseSecretARN, applicationName)
}

// OpenAPI opens the database of the internet-facing functions: a pool of their
// own login role (db from API_DATABASE_URL or API_DATABASE_SECRET_ARN), every
// statement run as the caller (CallerDB).
func OpenAPI(ctx context.Context, applicationName string, db DatabaseConfig) (*CallerDB, error) {
	pool, err := openFrom(ctx, db, EnvAPIDatabaseURL, EnvAPIDatabaseSecretARN, applicationName)
	if err != nil {
		return nil, err
	}
	return NewCallerDB(pool), nil
}

func openFrom(ctx context.Context, from DatabaseConfig, urlVar, arnVar, applicationName string) (*pgxpool.Pool, error) {
	db, err := secrets.ReadDatabase(ctx, from.URL, from.SecretARN, urlVar, arnVar)
	if err != nil {
		return nil, err
	}
	return Open(ctx, db.URL, PoolOptions{ApplicationName: applicationName, RootCert: db.RootCert})
}

// PoolConfig is Open's configuration, for callers that tune it further. A DSN
// whose host is not this machine must verify the server's certificate
// (VerifiedTLS).
func PoolConfig(dsn string, opts PoolOptions) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("readmodel: database URL: %w", err) // pgconn masks the password
	}
	if err := VerifiedTLS(&cfg.ConnConfig.Config, opts.RootCert); err != nil {
		return nil, err
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
	cc.Tracer = queryTracer{}
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

// ErrUnverifiedTLS is returned for a DSN that would talk to a remote server
// without verifying who it is.
var ErrUnverifiedTLS = errors.New("the database connection does not verify the server")

// VerifiedTLS checks that every host of cc (and its fallbacks) that is not
// this machine is reached over TLS verified against a root certificate and the
// host name: sslmode=verify-full with sslrootcert=<file> (or rootCert, a PEM,
// which it installs). sslmode=require encrypts but would accept any server, a
// man in the middle included; prefer and allow may not encrypt at all.
func VerifiedTLS(cc *pgconn.Config, rootCert string) error {
	var roots *x509.CertPool
	if rootCert != "" {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM([]byte(rootCert)) {
			return errors.New("readmodel: the database's root certificate is not a PEM certificate")
		}
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	for _, h := range hosts {
		if h.TLSConfig != nil && roots != nil {
			h.TLSConfig.RootCAs = roots
		}
	}
	for _, h := range hosts {
		if isLocal(h.Host) {
			continue
		}
		if t := h.TLSConfig; t == nil || t.InsecureSkipVerify || t.ServerName == "" || t.RootCAs == nil {
			return fmt.Errorf("readmodel: %w at %s: use sslmode=verify-full with the root certificate of its CA, "+
				"as sslrootcert=<file> in the URL or as \"root_certificate\" (PEM) in the database secret (Supabase: prod-ca-2021.crt, "+
				"under Project settings → Database → SSL configuration)", ErrUnverifiedTLS, h.Host)
		}
	}
	return nil
}

// isLocal tells a host of this machine: a Unix socket, localhost or a loopback
// address, which nobody else can sit between.
func isLocal(host string) bool {
	if host == "" || host[0] == '/' || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
