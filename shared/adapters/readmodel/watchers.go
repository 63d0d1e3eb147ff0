package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WatchSymbols records that connectionID (userID's, open until expiresAt) watches
// symbols (migration 0010). Recording a watch again moves its expiry.
func WatchSymbols(ctx context.Context, db PriceDB, connectionID, userID string, symbols []string, expiresAt time.Time) error {
	if len(symbols) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `
insert into symbol_watchers (symbol, connection_id, user_id, expires_at)
select s, $2, $3::uuid, $4 from unnest($1::text[]) s
on conflict (symbol, connection_id) do update set user_id = excluded.user_id, expires_at = excluded.expires_at`,
		symbols, connectionID, userID, expiresAt.UTC()); err != nil {
		return fmt.Errorf("readmodel: watch symbols: %w", err)
	}
	return nil
}

// UnwatchSymbols removes connectionID's watches of symbols (none: all of them).
func UnwatchSymbols(ctx context.Context, db PriceDB, connectionID string, symbols []string) error {
	var err error
	if len(symbols) == 0 {
		_, err = db.Exec(ctx, `delete from symbol_watchers where connection_id = $1`, connectionID)
	} else {
		_, err = db.Exec(ctx, `delete from symbol_watchers where connection_id = $1 and symbol = any($2::text[])`, connectionID, symbols)
	}
	if err != nil {
		return fmt.Errorf("readmodel: unwatch symbols: %w", err)
	}
	return nil
}

// WatchersOf returns the users with a connection watching one of symbols that
// has not expired by now, each once.
func WatchersOf(ctx context.Context, db PriceDB, symbols []string, now time.Time) ([]string, error) {
	if len(symbols) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, `select distinct user_id::text from symbol_watchers where symbol = any($1::text[]) and expires_at > $2`,
		symbols, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("readmodel: symbol watchers: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("readmodel: symbol watchers: %w", err)
	}
	return users, nil
}

// PruneWatchers deletes at most limit watches that expired by now and returns
// how many it deleted.
func PruneWatchers(ctx context.Context, db PriceDB, now time.Time, limit int) (int64, error) {
	tag, err := db.Exec(ctx, `
delete from symbol_watchers w using (
  select symbol, connection_id from symbol_watchers where expires_at <= $1 limit $2
) old where w.symbol = old.symbol and w.connection_id = old.connection_id`, now.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("readmodel: prune symbol watchers: %w", err)
	}
	return tag.RowsAffected(), nil
}
