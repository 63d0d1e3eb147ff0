package readmodel

import (
	"context"
	"fmt"
	"strconv"
)

// markChanges returns the marks of table (alert_state_marks or holding_marks)
// that may have moved since cursor (a position in the table's change feed,
// migration 0009: the xmin of the snapshot of the previous read), less those whose token starts with
// exceptPrefix (the reader's own claims; "" keeps all), and the cursor for the
// next read. The zero cursor returns no marks, only the cursor: a reader with
// nothing cached has nothing to invalidate, and reads the marks of what it loads.
// A mark moved after the returned cursor was taken comes back next time, even
// when its transaction commits much later.
func markChanges(ctx context.Context, db PriceDB, table string, since uint64, exceptPrefix string) (map[string]string, uint64, error) {
	// One statement, one snapshot: the cursor is the xmin of the snapshot the
	// rows were read in.
	rows, err := db.Query(ctx, `
select null::text, null::text, pg_snapshot_xmin(pg_current_snapshot())::text
union all
select key, token, null from public.`+table+`
 where $1::bigint > 0 and changed_by >= $1::text::xid8 and ($2 = '' or not starts_with(token, $2))`,
		strconv.FormatUint(since, 10), exceptPrefix)
	if err != nil {
		return nil, since, fmt.Errorf("readmodel: %s changes: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	next := uint64(0)
	for rows.Next() {
		var k, tok, xmin *string
		if err := rows.Scan(&k, &tok, &xmin); err != nil {
			return nil, since, fmt.Errorf("readmodel: %s changes: %w", table, err)
		}
		if xmin != nil {
			n, err := strconv.ParseUint(*xmin, 10, 64)
			if err != nil {
				return nil, since, fmt.Errorf("readmodel: %s changes: snapshot xmin %q: %w", table, *xmin, err)
			}
			next = n
			continue
		}
		out[*k] = *tok
	}
	if err := rows.Err(); err != nil {
		return nil, since, fmt.Errorf("readmodel: %s changes: %w", table, err)
	}
	if next == 0 {
		return nil, since, fmt.Errorf("readmodel: %s changes: no snapshot xmin", table)
	}
	return out, next, nil
}

// HoldingMarkChanges returns the holding marks that may have moved since cursor
// and the cursor for the next read (see markChanges).
func HoldingMarkChanges(ctx context.Context, db PriceDB, since uint64) (map[string]string, uint64, error) {
	return markChanges(ctx, db, "holding_marks", since, "")
}

// StateMarkChanges implements pricing.StateMarker: the alert state marks that may
// have moved since cursor, less the reader's own claims (tokens starting with
// ownPrefix), and the cursor for the next read.
func (a *AlertRules) StateMarkChanges(ctx context.Context, since uint64, ownPrefix string) (map[string]string, uint64, error) {
	return markChanges(ctx, a.db, "alert_state_marks", since, ownPrefix)
}
