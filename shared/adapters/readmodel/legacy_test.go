package readmodel_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Events stored before the domain bounded new commands may hold anything the v1
// payload rules allowed. They must never fail a batch nor stall their portfolio:
// the out-of-range transactions are left out (and said so in projection_failures),
// everything else projects.

// A trade dated in year 0 (no such year in PostgreSQL) or year 1, or with a
// quantity beyond the bounds, followed by a normal trade, one event per batch as
// the stream delivers them. Before: the year-0 batch failed for good, and the
// portfolio's later trades never reached the read models.
func TestLegacyOutOfRangeTransactionsAreLeftOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	h := rmtest.NewHistory(t, "old", rmtest.UserA, portfolio.FIFO)
	h.Tx(rmtest.Buy("2024-01-02", "AAA", "10", "100", ""))
	leftOut := []int64{
		h.Legacy(rmtest.Buy("0000-01-01", "AAA", "5", "1", "")),
		h.Legacy(rmtest.Buy("0001-01-05", "BBB", "5", "1", "")),
		h.Legacy(rmtest.Buy("2024-02-01", "CCC", "10000000000000000", "1", "")),
	}
	h.Legacy(rmtest.Buy("2024-03-01", "AAA", "1", "110", ""))
	h.Legacy(rmtest.Buy("9999-12-31", "DDD", "1", "5", "")) // the last storable day: kept
	applyInBatches(t, proj, h.Events, 1)

	var qty, cost string
	if err := pool.QueryRow(ctx, "select quantity::text, cost_basis::text from positions where portfolio_id = 'old' and symbol = 'AAA'").
		Scan(&qty, &cost); err != nil || qty != "11" || !rmtest.Dec(cost).Equal(rmtest.Dec("1110")) {
		t.Fatalf("AAA %s shares at cost %s (err %v), want the two 2024 buys: 11 at 1110", qty, cost, err)
	}
	var symbols string
	if err := pool.QueryRow(ctx, "select string_agg(symbol, ',' order by symbol) from positions where portfolio_id = 'old'").Scan(&symbols); err != nil || symbols != "AAA,DDD" {
		t.Errorf("positions %q (err %v): the out-of-range buys opened positions", symbols, err)
	}
	var stored, checkpoint int64
	if err := pool.QueryRow(ctx, "select (select count(*) from transactions where portfolio_id = 'old'), (select version from projection_checkpoints where aggregate_id = 'old')").
		Scan(&stored, &checkpoint); err != nil || stored != 3 || checkpoint != h.P.Version() {
		t.Errorf("%d transactions stored, checkpoint %d (err %v); want 3 and %d", stored, checkpoint, err, h.P.Version())
	}
	if got := leftOutVersions(t, pool, "old"); !slices.Equal(got, leftOut) {
		t.Errorf("left_out rows at versions %v, want %v", got, leftOut)
	}
}

// A split of 9223372036854775807:1 repeated until the quantity outgrows
// PostgreSQL's numeric, and splits within the ratio bounds that would still take
// the position beyond MaxQuantity, in one batch with another user's portfolio.
// Before: "value overflows numeric format" failed the whole shared batch.
func TestLegacySplitsDoNotPoisonASharedBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	h := rmtest.NewHistory(t, "splits", rmtest.UserA, portfolio.FIFO)
	h.Tx(rmtest.Buy("2024-01-02", "AAA", "1", "10", ""))
	first := rmtest.D("2024-01-03")
	for i := range 7000 {
		h.Legacy(rmtest.Split(first.AddDays(i).String(), "AAA", 9223372036854775807, 1))
	}
	next := first.AddDays(7000)
	h.Legacy(rmtest.Split(next.String(), "AAA", 1_000_000, 1))
	h.Legacy(rmtest.Split(next.AddDays(1).String(), "AAA", 1_000_000, 1))
	beyond := h.Legacy(rmtest.Split(next.AddDays(2).String(), "AAA", 1_000_000, 1)) // 10^18 shares
	h.Legacy(rmtest.Buy(next.AddDays(3).String(), "AAA", "1", "10", ""))
	other := rmtest.Realistic(t, "other", rmtest.UserB, portfolio.AverageCost)

	res, err := rmtest.NewProjector(pool).ApplyBatch(ctx, append(slices.Clone(h.Events), other.Events...))
	if err != nil || len(res.Failures) > 0 {
		t.Fatalf("batch: %v %+v", err, res.Failures)
	}
	if res.LeftOut != 7001 {
		t.Errorf("%d transactions left out, want the 7000 huge splits and the one past 10^15 shares", res.LeftOut)
	}
	var qty string
	if err := pool.QueryRow(ctx, "select quantity::text from positions where portfolio_id = 'splits' and symbol = 'AAA'").Scan(&qty); err != nil || qty != "1000000000001" {
		t.Fatalf("AAA quantity %s (err %v), want 10^12 + 1", qty, err)
	}
	if got := leftOutVersions(t, pool, "splits"); len(got) != 7001 || got[7000] != beyond {
		t.Errorf("%d left_out rows, the last at %v; want 7001, the last at %d", len(got), got[len(got)-1:], beyond)
	}
	expectLotEngine(t, pool, other)
}

// Rows an older projector already stored (a trade in year 1, a split beyond the
// ratio bounds) are left out whenever the portfolio is recomputed.
func TestLegacyRowsAlreadyStoredAreLeftOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	h := rmtest.NewHistory(t, "stored", rmtest.UserA, portfolio.FIFO)
	h.Tx(rmtest.Buy("2024-01-02", "AAA", "10", "100", ""))
	applyInBatches(t, proj, h.Events, 0)
	if _, err := pool.Exec(ctx, `insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity,
		price, fee, tax, currency, ratio, recorded_at, version)
		values ('legacy-1', 'stored', $1, 0, 'BUY', '0001-01-05', 'AAA', 5, 1, 0, 0, 'USD', null, now(), 0),
		       ('legacy-2', 'stored', $1, 1, 'SPLIT', '2024-01-03', 'AAA', null, null, 0, 0, 'USD', '9223372036854775807:1', now(), 0)`,
		rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	n := len(h.Events)
	h.Tx(rmtest.Buy("2024-03-01", "AAA", "1", "110", ""))
	applyInBatches(t, proj, h.Events[n:], 0)
	var qty string
	if err := pool.QueryRow(ctx, "select quantity::text from positions where portfolio_id = 'stored' and symbol = 'AAA'").Scan(&qty); err != nil || qty != "11" {
		t.Fatalf("AAA quantity %s (err %v), want 11", qty, err)
	}
	var reason string
	if err := pool.QueryRow(ctx, "select string_agg(reason, ' | ') from projection_failures where aggregate_id = 'stored' and kind = 'left_out'").
		Scan(&reason); err != nil || !strings.Contains(reason, "legacy-1") || !strings.Contains(reason, "legacy-2") {
		t.Errorf("left_out reasons %q (err %v)", reason, err)
	}
}

func leftOutVersions(t *testing.T, pool *pgxpool.Pool, id string) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), "select version from projection_failures where aggregate_id = $1 and kind = 'left_out' order by version", id)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
