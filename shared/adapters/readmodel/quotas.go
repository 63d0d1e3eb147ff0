package readmodel

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// quotaLockSpace is the first key of the per-user quota locks
// (pg_advisory_xact_lock(int, int)); the second is a hash of the quota and user.
// A hash collision only makes two users' creates wait for each other.
const quotaLockSpace = 0x51554f54 // "QUOT"

// userQuotaBatch starts a batch that takes the user's lock of quota q and then
// counts what the user has (count: one row, one column, $1 the user); queue the
// insert after it, guarded by the same count, and read the two first results
// with readUserQuota. Sent as one batch the statements are one transaction (the
// simple protocol sends them as one message), so parallel creates of one user
// queue on the lock until the one before them commits, and each counts after it:
// at READ COMMITTED every statement reads a fresh snapshot.
func userQuotaBatch(q quota.Quota, userID, count string) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`select pg_advisory_xact_lock($1, hashtext($2))`, quotaLockSpace, q.Name+":"+userID)
	b.Queue(count, userID)
	return b
}

// readUserQuota reads the lock and the count of a userQuotaBatch and refuses
// with *quota.ExceededError when one more would pass q's limit.
func readUserQuota(br pgx.BatchResults, q quota.Quota) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("readmodel: lock quota %s: %w", q.Name, err)
	}
	var n int
	if err := br.QueryRow().Scan(&n); err != nil {
		return fmt.Errorf("readmodel: count for quota %s: %w", q.Name, err)
	}
	if n >= q.Limit {
		return quota.Exceeded(q, n+1)
	}
	return nil
}

// QuotaHoldings is what each user holds of the quotas counted in DynamoDB
// (quota.PortfoliosPerUser, quota.SymbolsPerUser), read from the read models:
// the backfill of the users who held them before the quotas existed.
type QuotaHoldings struct {
	Portfolios map[string][]string // user ID → portfolio IDs (archived included)
	Symbols    map[string][]string // user ID → distinct symbols of their transactions and alert rules
}

// ReadQuotaHoldings reads QuotaHoldings for every user.
func ReadQuotaHoldings(ctx context.Context, db PriceDB) (QuotaHoldings, error) {
	h := QuotaHoldings{Portfolios: map[string][]string{}, Symbols: map[string][]string{}}
	for _, q := range []struct {
		into map[string][]string
		sql  string
	}{
		{h.Portfolios, `select user_id::text, id from portfolios order by 1, 2`},
		{h.Symbols, `select user_id::text, symbol from transactions where coalesce(symbol, '') <> ''
		             union select user_id::text, symbol from alert_rules where symbol <> '' order by 1, 2`},
	} {
		rows, err := db.Query(ctx, q.sql)
		if err != nil {
			return QuotaHoldings{}, fmt.Errorf("readmodel: quota holdings: %w", err)
		}
		var user, member string
		_, err = pgx.ForEachRow(rows, []any{&user, &member}, func() error {
			q.into[user] = append(q.into[user], member)
			return nil
		})
		if err != nil {
			return QuotaHoldings{}, fmt.Errorf("readmodel: quota holdings: %w", err)
		}
	}
	return h, nil
}
