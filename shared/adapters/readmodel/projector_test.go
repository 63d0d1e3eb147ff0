package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
)

// applyInBatches applies events in batches of n (n ≤ 0: one batch) and fails on
// any failure.
func applyInBatches(t testing.TB, p *readmodel.Projector, events []portfolio.Event, n int) {
	t.Helper()
	if n <= 0 {
		n = len(events)
	}
	for start := 0; start < len(events); start += n {
		r, err := p.ApplyBatch(context.Background(), events[start:min(start+n, len(events))])
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Failures) > 0 {
			t.Fatalf("batch at %d: failures %+v", start, r.Failures)
		}
	}
}

// expectLotEngine checks the projection of h against the lot engine run directly
// on the aggregate's active transactions.
func expectLotEngine(t *testing.T, pool *pgxpool.Pool, h *rmtest.History) {
	t.Helper()
	ctx := context.Background()
	txs, err := h.P.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	portfolio.SortForReplay(txs)
	book := lots.New(h.P.LotMethod(), h.P.BaseCurrency())
	for i := range txs {
		if err := book.Apply(&txs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := book.Positions()
	rows, err := pool.Query(ctx, `select symbol, quantity::text, cost_basis::text, average_price::text, realized_pnl::text,
		fees::text, taxes::text, dividends::text, currency, local_currency, local_cost_basis::text, local_realized_pnl::text,
		local_fees::text, local_taxes::text, local_dividends::text, local_excluded::text
		from positions where portfolio_id = $1 order by symbol`, h.P.ID())
	if err != nil {
		t.Fatal(err)
	}
	var got []lots.Position
	var avg []decimal.Decimal
	for rows.Next() {
		var s [16]string
		if err := rows.Scan(&s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9], &s[10], &s[11],
			&s[12], &s[13], &s[14], &s[15]); err != nil {
			t.Fatal(err)
		}
		excluded, err := strconv.Atoi(s[15])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lots.Position{Symbol: s[0], Quantity: rmtest.Dec(s[1]), CostBasis: rmtest.Dec(s[2]),
			RealizedPnL: rmtest.Dec(s[4]), Fees: rmtest.Dec(s[5]), Taxes: rmtest.Dec(s[6]), Dividends: rmtest.Dec(s[7]),
			Currency: s[8], Local: lots.Local{Currency: s[9], CostBasis: rmtest.Dec(s[10]), RealizedPnL: rmtest.Dec(s[11]),
				Fees: rmtest.Dec(s[12]), Taxes: rmtest.Dec(s[13]), Dividends: rmtest.Dec(s[14]), Excluded: excluded}})
		avg = append(avg, rmtest.Dec(s[3]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d positions, lot engine has %d: got %v", h.P.ID(), len(got), len(want), got)
	}
	for i := range want {
		w, g := want[i], got[i]
		same := w.Symbol == g.Symbol && w.Quantity.Equal(g.Quantity) && w.CostBasis.Equal(g.CostBasis) &&
			w.RealizedPnL.Equal(g.RealizedPnL) && w.Fees.Equal(g.Fees) && w.Taxes.Equal(g.Taxes) &&
			w.Dividends.Equal(g.Dividends) && w.AveragePrice().Equal(avg[i]) && w.Currency == g.Currency &&
			w.Local.Currency == g.Local.Currency && w.Local.CostBasis.Equal(g.Local.CostBasis) && w.Local.RealizedPnL.Equal(g.Local.RealizedPnL) &&
			w.Local.Fees.Equal(g.Local.Fees) && w.Local.Taxes.Equal(g.Local.Taxes) && w.Local.Dividends.Equal(g.Local.Dividends) &&
			w.Local.Excluded == g.Local.Excluded
		if !same {
			t.Errorf("%s %s:\n got %+v avg %s\nwant %+v avg %s", h.P.ID(), w.Symbol, g, avg[i], w, w.AveragePrice())
		}
	}
	sum := book.Summary()
	var s [10]string
	var version int64
	if err := pool.QueryRow(ctx, `select cash::text, realized_pnl::text, fees::text, taxes::text, dividends::text, interest::text,
		cost_basis::text, charges::text, deposits::text, withdrawals::text, version from portfolio_totals where portfolio_id = $1`, h.P.ID()).
		Scan(&s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9], &version); err != nil {
		t.Fatal(err)
	}
	for i, w := range []decimal.Decimal{sum.Cash, sum.RealizedPnL, sum.Fees, sum.Taxes, sum.Dividends, sum.Interest,
		sum.CostBasis, sum.Charges, sum.Deposits, sum.Withdrawals} {
		if !rmtest.Dec(s[i]).Equal(w) {
			t.Errorf("%s totals column %d = %s, want %s", h.P.ID(), i, s[i], w)
		}
	}
	var balances string
	if err := pool.QueryRow(ctx, `select coalesce(string_agg(currency || '=' || amount::text || '@' || version, ' ' order by currency), '')
		from cash_balances where portfolio_id = $1`, h.P.ID()).Scan(&balances); err != nil {
		t.Fatal(err)
	}
	var wantBalances []string
	for _, b := range sum.Balances {
		wantBalances = append(wantBalances, fmt.Sprintf("%s=%s@%d", b.Currency, b.Amount, version))
	}
	if gotB := strings.Fields(balances); len(gotB) != len(wantBalances) || !slices.EqualFunc(gotB, wantBalances, sameBalance) {
		t.Errorf("%s cash balances %q, want %q", h.P.ID(), balances, wantBalances)
	}
	var name string
	var archived bool
	var pv, cp int64
	var active, voided int
	if err := pool.QueryRow(ctx, `select p.name, p.archived, p.version, c.version,
		(select count(*) from transactions t where t.portfolio_id = p.id and not t.voided),
		(select count(*) from transactions t where t.portfolio_id = p.id and t.voided)
		from portfolios p join projection_checkpoints c on c.aggregate_id = p.id where p.id = $1`, h.P.ID()).
		Scan(&name, &archived, &pv, &cp, &active, &voided); err != nil {
		t.Fatal(err)
	}
	if name != h.P.Name() || archived != h.P.Archived() || pv != h.P.Version() || cp != h.P.Version() {
		t.Errorf("portfolio row: name %q archived %v version %d checkpoint %d; aggregate: %q %v %d",
			name, archived, pv, cp, h.P.Name(), h.P.Archived(), h.P.Version())
	}
	if active != len(txs) || active+voided != h.P.TransactionCount()+voided {
		t.Errorf("transactions: %d active, %d voided; aggregate has %d active", active, voided, len(txs))
	}
}

// sameBalance compares "CUR=amount@version" ignoring the amount's trailing
// zeros (numeric keeps the scale of the text it was given).
func sameBalance(got, want string) bool {
	gc, gr, _ := strings.Cut(got, "=")
	wc, wr, _ := strings.Cut(want, "=")
	ga, gv, _ := strings.Cut(gr, "@")
	wa, wv, _ := strings.Cut(wr, "@")
	return gc == wc && gv == wv && rmtest.Dec(ga).Equal(rmtest.Dec(wa))
}

// A EUR portfolio with USD and GBp trades, a USD dividend and a CONVERSION is
// projected as the lot engine books it: positions in the base at each
// transaction's rate and in their local currency, with their trading currency;
// cash per currency; and each transaction's currency, rate and incoming side.
// Batches of any size re-read the stored transactions with their currency and
// rate (a batch of one recomputes from them alone).
func TestProjectionMultiCurrency(t *testing.T) {
	t.Parallel()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	for i, size := range []int{0, 1, 4} {
		for _, m := range []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost} {
			h := rmtest.MultiCurrency(t, "m-"+string(m)+"-"+string(rune('a'+i)), rmtest.UserA, m)
			applyInBatches(t, proj, h.Events, size)
			expectLotEngine(t, pool, h)
			txs, err := h.P.Transactions()
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range txs {
				var cur, rate, toAmount, toCur string
				if err := pool.QueryRow(context.Background(), `select currency, coalesce(fx_rate::text, ''), coalesce(to_amount::text, ''),
					coalesce(to_currency, '') from transactions where transaction_id = $1`, tx.ID).Scan(&cur, &rate, &toAmount, &toCur); err != nil {
					t.Fatal(err)
				}
				if cur != tx.Currency || rate != optText(tx.FXRate) || toAmount != optText(tx.ToAmount) || toCur != tx.ToCurrency {
					t.Errorf("%s %s stored as %s at %q to %q %q", tx.ID, tx.Type, cur, rate, toAmount, toCur)
				}
			}
		}
	}
	// Spot check, by hand: FIFO in one batch. AAPL: 10 × 150 + 1 = $1,501 at
	// 0.91 = €1,365.91; 4 sold take 4/10 of it: €546.364, leaving €819.546 and
	// $900.60 for the 6 held.
	var cost, local, cur, localCur string
	if err := pool.QueryRow(context.Background(), `select cost_basis::text, local_cost_basis::text, currency, local_currency
		from positions where portfolio_id = 'm-FIFO-a' and symbol = 'AAPL'`).Scan(&cost, &local, &cur, &localCur); err != nil {
		t.Fatal(err)
	}
	if !rmtest.Dec(cost).Equal(rmtest.Dec("819.546")) || !rmtest.Dec(local).Equal(rmtest.Dec("900.6")) || cur != "USD" || localCur != "USD" {
		t.Errorf("AAPL: cost %s, local %s %s (%s), want 819.546 and 900.6 USD", cost, local, localCur, cur)
	}
	// VUSA.L's income: a £5 fee (500 GBp) on the buy, the £3 FEE voided; dividends
	// £25 (2,500 GBp at 1.17: €29.25) and $30 at 0.93 (€27.90, $4.50 tax €4.185),
	// the dollar one in the base only.
	var fees, divs, taxes, localFees, localDivs, localTaxes string
	var excluded int
	if err := pool.QueryRow(context.Background(), `select fees::text, dividends::text, taxes::text, local_fees::text,
		local_dividends::text, local_taxes::text, local_excluded from positions where portfolio_id = 'm-FIFO-a' and symbol = 'VUSA.L'`).
		Scan(&fees, &divs, &taxes, &localFees, &localDivs, &localTaxes, &excluded); err != nil {
		t.Fatal(err)
	}
	if got := []string{fees, divs, taxes, localFees, localDivs, localTaxes}; !rmtest.Dec(fees).Equal(rmtest.Dec("5.80")) ||
		!rmtest.Dec(divs).Equal(rmtest.Dec("57.15")) || !rmtest.Dec(taxes).Equal(rmtest.Dec("4.185")) ||
		!rmtest.Dec(localFees).Equal(rmtest.Dec("5")) || !rmtest.Dec(localDivs).Equal(rmtest.Dec("25")) ||
		!rmtest.Dec(localTaxes).IsZero() || excluded != 1 {
		t.Errorf("VUSA.L fees, dividends, taxes, then local: %v, excluded %d; want 5.80 57.15 4.185 5 25 0, 1", got, excluded)
	}
}

func optText(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func TestProjectionMatchesLotEngine(t *testing.T) {
	t.Parallel()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	var hs []*rmtest.History
	for i, size := range []int{0, 1, 3, 7} {
		for _, m := range []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost} {
			h := rmtest.Realistic(t, "p-"+string(m)+"-"+string(rune('a'+i)), rmtest.UserA, m)
			applyInBatches(t, proj, h.Events, size)
			hs = append(hs, h)
		}
	}
	for _, h := range hs {
		expectLotEngine(t, pool, h)
	}
	// Spot checks on the acceptance history (FIFO, one batch).
	ctx := context.Background()
	var q, fees string
	if err := pool.QueryRow(ctx, "select quantity::text, fees::text from positions where portfolio_id = 'p-FIFO-a' and symbol = 'MSFT'").
		Scan(&q, &fees); err != nil || !rmtest.Dec(q).IsZero() || !rmtest.Dec(fees).Equal(rmtest.Dec("5")) {
		t.Errorf("MSFT after its buy was voided: quantity %s fees %s (err %v); want 0 and the FEE's 5", q, fees, err)
	}
	var n int
	if err := pool.QueryRow(ctx, "select count(*) from positions where symbol = 'GOOG'").Scan(&n); err != nil || n != 0 {
		t.Errorf("GOOG (only buy voided) still has %d position rows", n)
	}
	if err := pool.QueryRow(ctx, "select quantity::text from positions where portfolio_id = 'p-FIFO-a' and symbol = 'AAPL'").
		Scan(&q); err != nil || !rmtest.Dec(q).Equal(rmtest.Dec("36")) {
		t.Errorf("AAPL quantity %s (err %v), want (2+10+5−8)×4 = 36", q, err)
	}
	var weights string
	if err := pool.QueryRow(ctx, "select string_agg(symbol || '=' || weight || '/' || drift_band, ',' order by symbol) from targets where portfolio_id = 'p-FIFO-a'").
		Scan(&weights); err != nil || weights != "AAPL=0.6/0.1,VTI=0.4/0.1" {
		t.Errorf("targets %q (err %v): the second allocation must replace the first", weights, err)
	}
}

// Batches interleave aggregates, repeat events and come in any order within an
// aggregate: the result is the in-order projection.
func TestDuplicatesAndReordering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.AverageCost)
	c := rmtest.MultiCurrency(t, "pc", rmtest.UserB, portfolio.FIFO) // and its cash_balances

	want, _ := rmtest.DB(t)
	applyInBatches(t, rmtest.NewProjector(want), slices.Concat(a.Events, b.Events, c.Events), 0)

	got, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(got)
	r := rand.New(rand.NewPCG(1, 2))
	all := slices.Concat(a.Events, b.Events, c.Events)
	// Redeliveries: every event two or three times, shuffled, in batches of 9.
	var mixed []portfolio.Event
	for _, e := range all {
		for range 2 + r.IntN(2) {
			mixed = append(mixed, e)
		}
	}
	r.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	// Within a shuffled batch the order per aggregate is restored by sorting; across
	// batches a later version may arrive first, fail as a gap, and be redelivered.
	pending := mixed
	for round := 0; len(pending) > 0; round++ {
		if round > 200 {
			t.Fatal("redelivery does not converge")
		}
		var retry []portfolio.Event
		for start := 0; start < len(pending); start += 9 {
			chunk := pending[start:min(start+9, len(pending))]
			res, err := proj.ApplyBatch(ctx, chunk)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range res.Failed() {
				retry = append(retry, chunk[i])
			}
		}
		pending = retry
	}
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, got); d1 != d2 {
		t.Fatalf("shuffled, duplicated delivery differs from in-order:\n%s", diff(d1, d2))
	}

	// A whole history delivered twice in one batch, reversed: no failures.
	again, _ := rmtest.DB(t)
	twice := append(slices.Clone(all), all...)
	slices.Reverse(twice)
	res, err := rmtest.NewProjector(again).ApplyBatch(ctx, twice)
	if err != nil || len(res.Failures) > 0 {
		t.Fatalf("reversed duplicate batch: %+v, %v", res.Failures, err)
	}
	if res.Duplicates != len(all) || res.Applied != len(all) {
		t.Errorf("applied %d, duplicates %d; want %d each", res.Applied, res.Duplicates, len(all))
	}
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, again); d1 != d2 {
		t.Fatalf("reversed batch differs:\n%s", diff(d1, d2))
	}
}

func TestGapUnknownAndInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.FIFO)
	applyInBatches(t, proj, a.Events[:3], 0)

	// pa: versions 5 and 6 arrive without 4 (a gap); pb's first events are fine;
	// an event of a type this build does not know is skipped; an event without an
	// aggregate fails alone.
	unknown := portfolio.Event{EventID: "u1", EventType: "PortfolioRenamedV9", AggregateID: "pb", AggregateType: "Portfolio",
		Version: 3, Timestamp: b.Events[2].Timestamp, UserID: rmtest.UserB}
	batch := []portfolio.Event{a.Events[4], b.Events[0], a.Events[5], b.Events[1], unknown, {EventType: "X"}}
	res, err := proj.ApplyBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Failed(); !slices.Equal(got, []int{0, 2, 5}) {
		t.Fatalf("failed %v (%+v), want [0 2 5]", got, res.Failures)
	}
	if !strings.Contains(res.Failures[0].Reason, "gap") || res.Gaps != 1 || res.Skipped != 1 || res.Applied != 3 {
		t.Errorf("result %+v", res)
	}
	// pb's checkpoint passed the unknown event.
	var cp int64
	if err := pool.QueryRow(ctx, "select version from projection_checkpoints where aggregate_id = 'pb'").Scan(&cp); err != nil || cp != 3 {
		t.Fatalf("pb checkpoint %d (err %v), want 3", cp, err)
	}
	// The stream redelivers pa from 4: everything applies.
	res, err = proj.ApplyBatch(ctx, a.Events[3:])
	if err != nil || len(res.Failures) > 0 {
		t.Fatalf("redelivery: %+v %v", res.Failures, err)
	}
	expectLotEngine(t, pool, a)

	// A creation by a user ID that is not a UUID can never apply, nor can what
	// follows it: both are quarantined (the checkpoint passes them). A stream whose
	// first version is missing is a gap: without an event store to read it from, it
	// fails and waits for a redelivery.
	bad := b.Events[0]
	bad.AggregateID, bad.UserID = "pc", "user-1"
	next := b.Events[1]
	next.AggregateID = "pc"
	orphan := b.Events[1]
	orphan.AggregateID = "pd"
	res, err = proj.ApplyBatch(ctx, []portfolio.Event{bad, next, orphan})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Failed(); !slices.Equal(got, []int{2}) || res.Gaps != 1 {
		t.Fatalf("failed %v (%+v)", got, res.Failures)
	}
	if q := res.Quarantined; len(q) != 2 || q[0].AggregateID != "pc" || q[0].Version != 1 || !strings.Contains(q[0].Reason, "not a UUID") ||
		q[1].Version != 2 || !strings.Contains(q[1].Reason, "before PortfolioCreated") || q[1].Index != 1 {
		t.Fatalf("quarantined %+v", q)
	}
	var kinds string
	if err := pool.QueryRow(ctx, "select string_agg(aggregate_id || '/' || version || '/' || kind, ',' order by aggregate_id, version) from projection_failures").
		Scan(&kinds); err != nil || kinds != "pc/1/quarantined,pc/2/quarantined" {
		t.Fatalf("projection_failures %q (err %v)", kinds, err)
	}
	// Failures can be logged for operators, and clear once the version applies.
	if err := proj.RecordFailures(ctx, res.Failures); err != nil {
		t.Fatal(err)
	}
	if err := proj.RecordFailures(ctx, res.Failures); err != nil {
		t.Fatal(err)
	}
	var attempts int
	if err := pool.QueryRow(ctx, "select attempts from projection_failures where aggregate_id = 'pd' and version = 2").Scan(&attempts); err != nil || attempts != 2 {
		t.Fatalf("attempts %d (err %v)", attempts, err)
	}
	good := b.Events[0]
	good.AggregateID = "pd"
	if failed, err := proj.Apply(ctx, []portfolio.Event{good, orphan}); err != nil || len(failed) > 0 {
		t.Fatal(failed, err)
	}
	if err := pool.QueryRow(ctx, "select string_agg(aggregate_id || '/' || version || '/' || kind, ',' order by aggregate_id, version) from projection_failures").
		Scan(&kinds); err != nil || kinds != "pc/1/quarantined,pc/2/quarantined" {
		t.Fatalf("projection_failures %q (err %v): pd's failure should have cleared, pc's quarantine stayed", kinds, err)
	}
}

// memSource is the in-memory event store as an EventSource.
type memSource struct {
	*eventstore.Memory
	ids []string
}

func (m memSource) AggregateIDs(context.Context) ([]string, error) { return m.ids, nil }

func TestReplayTwiceIdentical(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := eventstore.NewMemory()
	src := memSource{Memory: store}
	r := rand.New(rand.NewPCG(7, 7))
	var all []portfolio.Event
	for i, user := range []string{rmtest.UserA, rmtest.UserB, rmtest.UserA} {
		h := rmtest.Realistic(t, "real-"+string(rune('a'+i)), user, portfolio.FIFO)
		g := rmtest.NewHistory(t, "rand-"+string(rune('a'+i)), user, []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost}[i%2])
		g.Random(r, 150, []string{"AAA", "BBB", "CCC", "DDD"}, rmtest.D("2023-01-01"))
		for _, x := range []*rmtest.History{h, g} {
			if err := store.Append(ctx, x.P.ID(), 0, x.Events[:1], nil); err != nil {
				t.Fatal(err)
			}
			for start := 1; start < len(x.Events); start += 50 {
				end := min(start+50, len(x.Events))
				if err := store.Append(ctx, x.P.ID(), int64(start), x.Events[start:end], nil); err != nil {
					t.Fatal(err)
				}
			}
			src.ids = append(src.ids, x.P.ID())
			all = append(all, x.Events...)
		}
	}
	pool, _ := rmtest.DB(t)
	st, err := readmodel.Rebuild(ctx, pool, src, readmodel.RebuildOptions{BatchSize: 64, PageSize: 40, Readers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != len(all) || st.Aggregates != len(src.ids) {
		t.Errorf("stats %+v, want %d events of %d aggregates", st, len(all), len(src.ids))
	}
	first := rmtest.Dump(t, pool)
	if _, err := readmodel.Rebuild(ctx, pool, src, readmodel.RebuildOptions{BatchSize: 1000, Readers: 1}); err != nil {
		t.Fatal(err)
	}
	if second := rmtest.Dump(t, pool); first != second {
		t.Fatalf("second replay differs:\n%s", diff(first, second))
	}
	// And the live projector, in other batches, builds the same tables.
	live, _ := rmtest.DB(t)
	applyInBatches(t, rmtest.NewProjector(live), all, 17)
	if d := rmtest.Dump(t, live); d != first {
		t.Fatalf("live projection differs from replay:\n%s", diff(first, d))
	}
	if strings.Count(first, "\n") < 500 {
		t.Errorf("dump has only %d lines", strings.Count(first, "\n"))
	}
}

// diff shows the first differing lines of two dumps.
func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}
