package readmodel

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/quota"
)

// quotaLockSpace is the first key of the per-user quota locks
// (pg_advisory_xact_lock(int, int)); the second is a hash of the quota and user.
// A hash collision only makes two users' creates wait for each other.
const quotaLockSpace = 0x51554f54 // "QUOT"

// beginner starts a transaction (a savepoint within one): a pool, a connection
// and a transaction all do.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// holdUserQuota takes the user's lock of quota q until tx ends, then counts what
// the user has (count: one row, one column, $1 the user) and refuses with
// *quota.ExceededError when adding one more would pass the limit. Parallel
// creates of one user queue on the lock, and each counts after the one before it
// committed: at READ COMMITTED every statement reads a fresh snapshot, so the
// count, read after the lock, sees every insert that held it before.
func holdUserQuota(ctx context.Context, tx pgx.Tx, q quota.Quota, userID, count string) error {
	if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock($1, hashtext($2))`, quotaLockSpace, q.Name+":"+userID); err != nil {
		return fmt.Errorf("readmodel: lock quota %s: %w", q.Name, err)
	}
	var n int
	if err := tx.QueryRow(ctx, count, userID).Scan(&n); err != nil {
		return fmt.Errorf("readmodel: count for quota %s: %w", q.Name, err)
	}
	if n >= q.Limit {
		return quota.Exceeded(q, n+1)
	}
	return nil
}
