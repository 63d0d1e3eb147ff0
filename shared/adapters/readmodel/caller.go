package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// APIRole is the role every statement of the internet-facing functions runs as
// (migration 0013): `authenticated`, which Row Level Security applies to, plus
// the API's own writes for the caller. Their login role holds nothing but the
// membership that allows switching to it (EnsureAPILogin).
const APIRole = "tracker_api"

// CallerDB is the database as the internet-facing functions (api, ws) see it:
// every statement runs in a transaction of its own as APIRole, with the
// caller's JWT claims set the way PostgREST sets them, so the RLS policies
// decide which rows it reads and writes. The stores keep their `where user_id`
// filters; with a CallerDB those are the second line, not the only one.
//
// A statement costs no extra round trip: the claims, the role and the
// statement travel as one simple-protocol message, which PostgreSQL runs as one
// implicit transaction (`set_config(..., true)` is `set local`), and which
// Supabase's transaction pooler keeps on one server connection.
//
// The stores (Queries, AlertRules, Metrics) scope a CallerDB to the user of
// each call (As); used directly, it runs as no user, which reads market data
// and nothing of anyone's.
type CallerDB struct {
	db batchSender
}

// batchSender is a *pgxpool.Pool or a *pgx.Conn.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// NewCallerDB runs the statements over db, a pool of the API's login role.
func NewCallerDB(db batchSender) *CallerDB { return &CallerDB{db: db} }

// As returns the database as userID sees it: auth.uid() is userID (or NULL when
// userID is not a UUID).
func (c *CallerDB) As(userID string) MetricsDB {
	claims := ""
	if isUUID(userID) {
		b, _ := json.Marshal(map[string]string{"sub": userID, "role": "authenticated"})
		claims = string(b)
	}
	return callerConn{db: c.db, claims: claims}
}

// Exec, Query, QueryRow and SendBatch run as no user.
func (c *CallerDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return c.As("").Exec(ctx, sql, args...)
}

func (c *CallerDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.As("").Query(ctx, sql, args...)
}

func (c *CallerDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return c.As("").QueryRow(ctx, sql, args...)
}

func (c *CallerDB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return c.As("").SendBatch(ctx, b)
}

// asCaller is db as userID sees it when db is a CallerDB, and db itself
// otherwise: the owner's pool of the internal functions and of tests.
func asCaller[DB PriceDB](db DB, userID string) DB {
	if c, ok := any(db).(*CallerDB); ok {
		if scoped, ok := c.As(userID).(DB); ok { // DB is PriceDB or MetricsDB, which callerConn implements
			return scoped
		}
	}
	return db
}

// callerConn runs each statement after the claims and the role, in one batch.
type callerConn struct {
	db     batchSender
	claims string // JSON, or "" for none
}

// setCaller is `set local request.jwt.claims = …; set local role tracker_api`
// in one statement.
const setCaller = `select set_config('request.jwt.claims', $1, true), set_config('role', '` + APIRole + `', true)`

func (c callerConn) batch(sql string, args []any) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(setCaller, c.claims)
	b.Queue(sql, args...)
	return b
}

// send sends b and reads the result of setCaller.
func (c callerConn) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	br := c.db.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("readmodel: set the caller's role: %w", err)
	}
	return br, nil
}

func (c callerConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := c.send(ctx, c.batch(sql, args))
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

func (c callerConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := c.send(ctx, c.batch(sql, args))
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &callerRows{Rows: rows, br: br}, nil
}

func (c callerConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := c.Query(ctx, sql, args...)
	return callerRow{rows: rows, err: err}
}

// SendBatch runs b's statements after the claims and the role, all in one
// implicit transaction.
func (c callerConn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	all := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries)+1)}
	all.Queue(setCaller, c.claims)
	all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
	br, err := c.send(ctx, all)
	if err != nil {
		return failedBatch{err}
	}
	return br
}

// callerRows releases the batch (and with it the pool's connection) once the
// rows are read or closed, and reports an error of the transaction's end.
type callerRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *callerRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *callerRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *callerRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// callerRow is QueryRow's pgx.Row: the first row, or pgx.ErrNoRows.
type callerRow struct {
	rows pgx.Rows
	err  error
}

func (r callerRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// failedBatch is the pgx.BatchResults of a batch whose role could not be set.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return callerRow{err: f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }
