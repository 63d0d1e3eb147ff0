package storetest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// HistoryStore is the per-symbol backfill store: the backfill's port, the
// status the API shows, and the analytics refresh's look-up.
type HistoryStore interface {
	history.Store
	Status(ctx context.Context, symbols []string) (map[string]market.HistoryStatus, error)
	StaleAfterBackfill(ctx context.Context, quoteCurrency string, since time.Time, limit int) ([]string, error)
}

var _ HistoryStore = (*readmodel.SymbolHistory)(nil)

// SeedPortfolio is a portfolio as the projector writes it, with its
// transactions' symbols and days.
type SeedPortfolio struct {
	ID, UserID, BaseCurrency, Benchmark string
	Archived                            bool
	Trades                              []SeedTrade
}

// SeedTrade is one transaction; Symbol "" is a cash movement. RecordedAt is
// when it was recorded (zero: long ago). Currency is the transaction's ("":
// USD), ToCurrency a conversion's incoming one.
type SeedTrade struct {
	Symbol     string
	Day        calendar.Date
	Voided     bool
	RecordedAt time.Time
	// Currency is the transaction's ("" is USD), ToCurrency a conversion's
	// incoming one.
	Currency, ToCurrency string
}

// HistorySubject is a store under test and how the suite seeds what it reads.
type HistorySubject struct {
	Store HistoryStore
	// PutPortfolio writes a portfolio and its transactions.
	PutPortfolio func(t *testing.T, p SeedPortfolio)
	// PutAlertRule writes a price alert rule of userID on symbol.
	PutAlertRule func(t *testing.T, userID, symbol string)
	// PutWatch records that a connection watches symbol until until.
	PutWatch func(t *testing.T, symbol string, until time.Time)
	// PutComputedAt records that the portfolio's analytics were computed at.
	PutComputedAt func(t *testing.T, portfolioID, userID string, at time.Time)
	// Row reads symbol's record whole; ok is false when there is none.
	Row func(t *testing.T, symbol string) (row HistoryRow, ok bool)
}

// HistoryRow is a record with what Status does not show: its failures in a
// row, when a run may take it next, and when its last backfill completed (zero
// before the first).
type HistoryRow struct {
	market.HistoryStatus
	Attempts      int
	NextAttemptAt time.Time
	CompletedAt   time.Time
}

func row(t *testing.T, s HistorySubject, symbol string) HistoryRow {
	t.Helper()
	r, ok := s.Row(t, symbol)
	if !ok {
		t.Fatalf("no record of %s", symbol)
	}
	return r
}

// RunHistory runs the backfill store's suite; newSubject returns an empty one.
func RunHistory(t *testing.T, newSubject func(t *testing.T) HistorySubject) {
	run(t, newSubject, []testCase[HistorySubject]{
		{"ReconcileDerivesNeedsIdempotently", testHistoryReconcile},
		{"ClaimLeaseProgressComplete", testHistoryLifecycle},
		{"ClaimOrderDueThenSymbol", testHistoryClaimOrder},
		{"PortfolioNeedsFirst", testHistoryPortfolioNeedsFirst},
		{"FailuresBackOffAndRelease", testHistoryFailures},
		{"ClaimRaceOneWinnerPerSymbol", testHistoryClaimRace},
		{"ActionsAskedAgainDaily", testHistoryActionsDaily},
		{"StaleAfterBackfill", testHistoryStale},
	})
}

var (
	historyToday = calendar.FromTime(t0)
	historyNeeds = history.Needs{Today: historyToday, Lookback: 365, Earliest: historyToday.AddDays(-3660), QuoteCurrency: "USD"}
	lease        = 10 * time.Minute
)

func histDay(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func status(t *testing.T, s HistoryStore, symbols ...string) map[string]market.HistoryStatus {
	t.Helper()
	got, err := s.Status(t.Context(), symbols)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func neededFrom(t *testing.T, s HistoryStore, symbols ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for sym, h := range status(t, s, symbols...) {
		out[sym] = h.NeededFrom.String()
	}
	return out
}

func reconcile(t *testing.T, s HistoryStore, now time.Time) int64 {
	t.Helper()
	n, err := s.Reconcile(t.Context(), historyNeeds, now)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testHistoryReconcile: every needed symbol from where it is needed (the
// portfolio's first trade, the lookback, the ten-year bound), among them the USD
// pair of every currency a portfolio needs (its base, each transaction's
// settlement currency: ZAR for ZAc; a conversion's incoming one); nothing of
// archived portfolios, voided trades or expired watches; a second run changes
// nothing; an older trade sends the symbols back to pending from its day, due
// at once, their failures forgotten, but for one a run holds (its lease kept).
func testHistoryReconcile(t *testing.T, s HistorySubject) {
	ctx := t.Context()
	s.PutPortfolio(t, SeedPortfolio{ID: "p1", UserID: UserA, BaseCurrency: "USD", Benchmark: "SPY", Trades: []SeedTrade{
		{Symbol: "", Day: histDay("2024-02-01")}, // a deposit: the first trade
		{Symbol: "AAPL", Day: histDay("2024-03-01")}, {Symbol: "MSFT", Day: histDay("2025-01-02")},
		{Symbol: "TSLA", Day: histDay("2016-01-04"), Voided: true}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "p2", UserID: UserB, BaseCurrency: "EUR", Benchmark: "VTI", Trades: []SeedTrade{
		{Symbol: "AAPL", Day: histDay("2023-06-01")}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "p3", UserID: UserB, BaseCurrency: "USD", Benchmark: "QQQ", Archived: true, Trades: []SeedTrade{
		{Symbol: "NVDA", Day: histDay("2020-01-02")}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "p4", UserID: UserB, BaseCurrency: "GBP", Benchmark: "DIA"}) // no trade: nothing needed
	// p5 (USD) trades in Toronto (CAD) and Johannesburg (ZAc, cents), converts
	// dollars to francs; its voided London trade (GBp) needs nothing.
	s.PutPortfolio(t, SeedPortfolio{ID: "p5", UserID: UserA, BaseCurrency: "USD", Trades: []SeedTrade{
		{Symbol: "VOD.L", Day: histDay("2024-05-01"), Currency: "GBp", Voided: true},
		{Symbol: "SHOP.TO", Day: histDay("2024-05-02"), Currency: "CAD"},
		{Symbol: "NPN.JO", Day: histDay("2024-05-03"), Currency: "ZAc"},
		{Day: histDay("2024-05-06"), Currency: "USD", ToCurrency: "CHF"}}})
	s.PutAlertRule(t, UserA, "GOOG")
	s.PutWatch(t, "AMZN", t0.Add(time.Hour))
	s.PutWatch(t, "META", t0.Add(-time.Minute))

	if n := reconcile(t, s.Store, t0); n != 12 {
		t.Errorf("first reconcile changed %d records, want 12", n)
	}
	eurusd := market.FXPair{Base: "EUR", Quote: "USD"}.Symbol()
	all := []string{"AAPL", "MSFT", "SPY", "VTI", eurusd, "GOOG", "AMZN", "TSLA", "NVDA", "QQQ", "META", "DIA", "GBPUSD=X",
		"VOD.L", "SHOP.TO", "NPN.JO", "CADUSD=X", "ZARUSD=X", "CHFUSD=X"}
	lookback := historyToday.AddDays(-365).String()
	want := map[string]string{"AAPL": "2023-06-01", "MSFT": "2024-02-01", "SPY": "2024-02-01", "VTI": "2023-06-01",
		eurusd: "2023-06-01", "GOOG": lookback, "AMZN": lookback,
		"SHOP.TO": "2024-05-02", "NPN.JO": "2024-05-02", "CADUSD=X": "2024-05-02", "ZARUSD=X": "2024-05-02", "CHFUSD=X": "2024-05-02"}
	got := neededFrom(t, s.Store, all...)
	if !mapsEqual(got, want) {
		t.Fatalf("needed from %v, want %v", got, want)
	}
	for sym, h := range status(t, s.Store, all...) {
		if h.State != market.HistoryPending || h.FilledFrom != nil || h.UpdatedAt.IsZero() {
			t.Errorf("%s: %+v, want pending, nothing filled", sym, h)
		}
		if r := row(t, s, sym); !r.NextAttemptAt.Equal(t0) || r.Attempts != 0 || !r.CompletedAt.IsZero() {
			t.Errorf("%s: %+v, want due at once", sym, r)
		}
	}
	if n := reconcile(t, s.Store, t0.Add(time.Minute)); n != 0 {
		t.Errorf("second reconcile changed %d records", n)
	}

	// AAPL failed, SPY complete, MSFT held by a run, when p1's older trade
	// comes.
	at := t0.Add(90 * time.Second)
	if err := s.Store.Fail(ctx, "AAPL", history.Failure{Reason: "refused", Final: true, RetryAt: at.Add(24 * time.Hour)}, at); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Complete(ctx, "SPY", histDay("2024-02-01"), "polygon", at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.Progress(ctx, "MSFT", histDay("2025-01-02"), histDay("2026-02-27"), "polygon", at, at.Add(lease)); err != nil {
		t.Fatal(err)
	}

	// An older trade in p1, and one older than ten years in p2.
	s.PutPortfolio(t, SeedPortfolio{ID: "p1", UserID: UserA, BaseCurrency: "USD", Benchmark: "SPY", Trades: []SeedTrade{
		{Symbol: "MSFT", Day: histDay("2022-01-03")}, {Symbol: "AAPL", Day: histDay("2024-03-01")}}})
	if n := reconcile(t, s.Store, t0.Add(2*time.Minute)); n != 3 {
		t.Errorf("reconcile after an older trade changed %d records, want 3 (AAPL, MSFT, SPY: from p1's new first trade)", n)
	}
	back := t0.Add(2 * time.Minute)
	if r := row(t, s, "AAPL"); r.State != market.HistoryPending || !r.NextAttemptAt.Equal(back) || r.Attempts != 0 || r.Reason != "" {
		t.Errorf("a failed record needed further back: %+v, want pending, due at once, its failure forgotten", r)
	}
	if r := row(t, s, "SPY"); r.State != market.HistoryPending || !r.NextAttemptAt.Equal(back) || !r.CompletedAt.Equal(at) {
		t.Errorf("a complete record needed further back: %+v, want pending, due at once, its completion time kept", r)
	}
	if r := row(t, s, "MSFT"); r.State != market.HistoryFilling || !r.NextAttemptAt.Equal(at.Add(lease)) || r.NeededFrom != histDay("2022-01-03") {
		t.Errorf("a held record needed further back: %+v, want filling, its lease kept", r)
	}
	s.PutPortfolio(t, SeedPortfolio{ID: "p2", UserID: UserB, BaseCurrency: "EUR", Benchmark: "VTI", Trades: []SeedTrade{
		{Symbol: "AAPL", Day: histDay("1990-01-02")}}})
	reconcile(t, s.Store, t0.Add(3*time.Minute))
	earliest := historyNeeds.Earliest.String()
	want = map[string]string{"AAPL": earliest, "MSFT": "2022-01-03", "SPY": "2022-01-03", "VTI": earliest, eurusd: earliest}
	if got := neededFrom(t, s.Store, "AAPL", "MSFT", "SPY", "VTI", eurusd); !mapsEqual(got, want) {
		t.Errorf("needed from %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func claim(t *testing.T, s HistoryStore, now time.Time) (history.Record, bool) {
	t.Helper()
	r, ok, err := s.Claim(t.Context(), now, now.Add(lease))
	if err != nil {
		t.Fatal(err)
	}
	return r, ok
}

// testHistoryLifecycle: a claim holds a record until its lease runs out, then
// the next claim resumes it where its progress stopped; completion is refused
// (pending again) when the record is needed further back meanwhile, and a
// reconcile or enqueue while a run holds it keeps the lease.
func testHistoryLifecycle(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	if err := st.Enqueue(ctx, "AAPL", histDay("2020-01-01"), t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(ctx, "MSFT", histDay("2021-01-01"), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	r, ok := claim(t, st, t0.Add(time.Minute))
	if !ok || r.Symbol != "AAPL" || r.State != market.HistoryPending || r.NeededFrom != histDay("2020-01-01") || r.FilledFrom != nil {
		t.Fatalf("first claim %+v %v, want AAPL pending (oldest first)", r, ok)
	}
	if r := row(t, s, "AAPL"); r.State != market.HistoryFilling || !r.NextAttemptAt.Equal(t0.Add(time.Minute+lease)) {
		t.Fatalf("claimed %+v, want filling until the lease's end", r)
	}
	if r, ok := claim(t, st, t0.Add(2*time.Minute)); !ok || r.Symbol != "MSFT" {
		t.Fatalf("second claim %+v %v, want MSFT", r, ok)
	}
	if r, ok := claim(t, st, t0.Add(3*time.Minute)); ok {
		t.Fatalf("third claim took %+v: both are held", r)
	}
	now := t0.Add(4 * time.Minute)
	// A run holding AAPL learns it is needed further back at its next step.
	if err := st.Enqueue(ctx, "AAPL", histDay("2019-01-01"), now); err != nil {
		t.Fatal(err)
	}
	if r := row(t, s, "AAPL"); r.State != market.HistoryFilling || !r.NextAttemptAt.Equal(t0.Add(time.Minute+lease)) {
		t.Fatalf("needed further back while held: %+v, want the lease kept", r)
	}
	needed, err := st.Progress(ctx, "AAPL", histDay("2025-01-01"), histDay("2026-03-01"), "polygon", now, now.Add(lease))
	if err != nil || needed != histDay("2019-01-01") {
		t.Fatalf("progress: needed %s %v, want 2019-01-01", needed, err)
	}
	h := status(t, st, "AAPL")["AAPL"]
	if h.State != market.HistoryFilling || *h.FilledFrom != histDay("2025-01-01") || *h.FilledTo != histDay("2026-03-01") || h.Source != "polygon" {
		t.Fatalf("after progress %+v", h)
	}
	if r := row(t, s, "AAPL"); !r.NextAttemptAt.Equal(now.Add(lease)) {
		t.Fatalf("after progress %+v, want the lease extended", r)
	}
	// The run dies; once its lease runs out the next claim resumes AAPL.
	if r, ok := claim(t, st, now.Add(time.Minute)); ok {
		t.Fatalf("claimed %+v within the leases", r)
	}
	later := now.Add(lease + time.Second)
	r, ok = claim(t, st, later)
	if !ok || r.Symbol != "MSFT" {
		t.Fatalf("claim after the leases: %+v %v, want MSFT (its lease ran out first)", r, ok)
	}
	r, ok = claim(t, st, later)
	if !ok || r.Symbol != "AAPL" || r.State != market.HistoryFilling || *r.FilledFrom != histDay("2025-01-01") || r.NeededFrom != histDay("2019-01-01") {
		t.Fatalf("resumed claim %+v %v", r, ok)
	}
	if _, err := st.Progress(ctx, "AAPL", histDay("2019-01-01"), histDay("2024-12-31"), "polygon", later, later.Add(lease)); err != nil {
		t.Fatal(err)
	}
	// Needed further back again before it completes: pending, due at once.
	if err := st.Enqueue(ctx, "AAPL", histDay("2018-06-01"), later); err != nil {
		t.Fatal(err)
	}
	if err := st.Complete(ctx, "AAPL", histDay("2019-01-01"), "polygon", later); err != nil {
		t.Fatal(err)
	}
	if r := row(t, s, "AAPL"); r.State != market.HistoryPending || !r.NextAttemptAt.Equal(later) || !r.CompletedAt.IsZero() {
		t.Fatalf("completed though needed further back: %+v, want pending, due at once", r)
	}
	r, ok = claim(t, st, later)
	if !ok || r.Symbol != "AAPL" || r.NeededFrom != histDay("2018-06-01") || *r.FilledFrom != histDay("2019-01-01") {
		t.Fatalf("claim after a refused completion %+v %v", r, ok)
	}
	if err := st.Complete(ctx, "AAPL", histDay("2018-06-01"), "polygon", later); err != nil {
		t.Fatal(err)
	}
	if h := status(t, st, "AAPL")["AAPL"]; h.State != market.HistoryComplete || !h.UpdatedAt.Equal(later) || h.Reason != "" {
		t.Fatalf("complete %+v", h)
	}
	if r := row(t, s, "AAPL"); !r.CompletedAt.Equal(later) {
		t.Fatalf("complete %+v, want completed at %s", r, later)
	}
	if r, ok := claim(t, st, later.Add(time.Hour)); ok && r.Symbol == "AAPL" {
		t.Fatal("a complete record was claimed")
	}
	// Needed no further back: still complete; further back: pending again.
	if err := st.Enqueue(ctx, "AAPL", histDay("2018-06-01"), later); err != nil {
		t.Fatal(err)
	}
	if h := status(t, st, "AAPL")["AAPL"]; h.State != market.HistoryComplete {
		t.Fatalf("the same need reopened it: %+v", h)
	}
	if err := st.Enqueue(ctx, "AAPL", histDay("2018-01-02"), later); err != nil {
		t.Fatal(err)
	}
	if r := row(t, s, "AAPL"); r.State != market.HistoryPending || r.NeededFrom != histDay("2018-01-02") || !r.CompletedAt.Equal(later) {
		t.Fatalf("an older need: %+v, want pending, the last completion kept", r)
	}
	if _, ok := s.Row(t, "NOPE"); ok {
		t.Error("a record of a symbol never needed")
	}
	if err := st.Complete(ctx, "NOPE", histDay("2018-01-02"), "polygon", later); err == nil {
		t.Error("completing an unknown symbol succeeded")
	}
}

// testHistoryClaimOrder: the record due longest ago first, those due at the
// same instant by symbol, a failed one after every other; none due after now.
func testHistoryClaimOrder(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	// A failed record, due again before every other: it still comes after them.
	if err := st.Enqueue(ctx, "FAIL", histDay("2024-01-02"), t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	claim(t, st, t0.Add(-time.Minute))
	if err := st.Fail(ctx, "FAIL", history.Failure{Reason: "refused", Final: true, RetryAt: t0.Add(-30 * time.Second)}, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		symbol string
		at     time.Time
	}{{"MSFT", t0}, {"EMPTY", t0}, {"ZZZZ", t0.Add(-time.Second)}, {"AAPL", t0}, {"LATE", t0.Add(time.Second)}} {
		if err := st.Enqueue(ctx, e.symbol, histDay("2024-01-02"), e.at); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 6 {
		r, ok := claim(t, st, t0)
		if !ok {
			break
		}
		got = append(got, r.Symbol)
	}
	if want := []string{"ZZZZ", "AAPL", "EMPTY", "MSFT", "FAIL"}; !slices.Equal(got, want) {
		t.Errorf("claimed %v, want %v", got, want)
	}
}

// testHistoryPortfolioNeedsFirst: a symbol only an alert rule or a live watch
// needs (any user may open a watch) is claimed after every due symbol a
// portfolio needs, however long it has waited, and moves up once a portfolio
// trades it.
func testHistoryPortfolioNeedsFirst(t *testing.T, s HistorySubject) {
	s.PutWatch(t, "WWWW", t0.Add(time.Hour))
	s.PutAlertRule(t, UserA, "RULE")
	reconcile(t, s.Store, t0.Add(-time.Minute))
	s.PutPortfolio(t, SeedPortfolio{ID: "p1", UserID: UserA, BaseCurrency: "USD", Trades: []SeedTrade{{Symbol: "TTTT", Day: histDay("2024-02-01")}}})
	if n := reconcile(t, s.Store, t0); n != 1 {
		t.Errorf("reconcile changed %d records, want TTTT's", n)
	}
	var got []string
	for range 4 {
		r, ok := claim(t, s.Store, t0)
		if !ok {
			break
		}
		got = append(got, r.Symbol)
	}
	if want := []string{"TTTT", "RULE", "WWWW"}; !slices.Equal(got, want) {
		t.Errorf("claimed %v, want the portfolio's symbol first", got)
	}

	s.PutWatch(t, "LATER", t0.Add(time.Hour))
	reconcile(t, s.Store, t0.Add(-time.Minute))
	s.PutPortfolio(t, SeedPortfolio{ID: "p2", UserID: UserB, BaseCurrency: "USD", Trades: []SeedTrade{{Symbol: "NEXT", Day: histDay("2024-02-01")}}})
	reconcile(t, s.Store, t0)
	// LATER, waiting longest, is a portfolio's too now (from a day within the
	// lookback it is needed from already: only its priority changes), so it
	// comes first.
	s.PutPortfolio(t, SeedPortfolio{ID: "p3", UserID: UserB, BaseCurrency: "USD", Trades: []SeedTrade{{Symbol: "LATER", Day: historyToday.AddDays(-10)}}})
	if n := reconcile(t, s.Store, t0.Add(time.Second)); n != 1 {
		t.Errorf("reconcile changed %d records, want LATER's priority", n)
	}
	got = nil
	for range 3 {
		r, ok := claim(t, s.Store, t0.Add(2*time.Second))
		if !ok {
			break
		}
		got = append(got, r.Symbol)
	}
	if want := []string{"LATER", "NEXT"}; !slices.Equal(got, want) {
		t.Errorf("claimed %v, want %v", got, want)
	}
}

// testHistoryFailures: a transient failure keeps the state and counts, a final
// one fails the record, each due again at its retry time; a release changes
// nothing but when the record is due.
func testHistoryFailures(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	if err := st.Enqueue(ctx, "ZZZZ", histDay("2024-01-02"), t0); err != nil {
		t.Fatal(err)
	}
	claim(t, st, t0)
	retry := t0.Add(time.Minute)
	if err := st.Fail(ctx, "ZZZZ", history.Failure{Reason: "upstream timeout", RetryAt: retry}, t0); err != nil {
		t.Fatal(err)
	}
	h := status(t, st, "ZZZZ")["ZZZZ"]
	if h.State != market.HistoryPending || h.Reason != "upstream timeout" {
		t.Fatalf("after a transient failure %+v", h)
	}
	if r := row(t, s, "ZZZZ"); r.Attempts != 1 || !r.NextAttemptAt.Equal(retry) {
		t.Fatalf("after a transient failure %+v, want one attempt, due at %s", r, retry)
	}
	if _, ok := claim(t, st, retry.Add(-time.Second)); ok {
		t.Fatal("claimed before its retry time")
	}
	r, ok := claim(t, st, retry)
	if !ok || r.Attempts != 1 {
		t.Fatalf("claim at the retry time %+v %v, want one attempt counted", r, ok)
	}
	if err := st.Fail(ctx, "ZZZZ", history.Failure{Reason: "unknown symbol", Final: true, RetryAt: retry.Add(time.Hour)}, retry); err != nil {
		t.Fatal(err)
	}
	if r := row(t, s, "ZZZZ"); r.State != market.HistoryFailed || r.Reason != "unknown symbol" || r.Attempts != 2 || !r.NextAttemptAt.Equal(retry.Add(time.Hour)) {
		t.Fatalf("after a final failure %+v", r)
	}
	r, ok = claim(t, st, retry.Add(time.Hour))
	if !ok || r.State != market.HistoryFailed || r.Attempts != 2 {
		t.Fatalf("a failed record due for a retry: %+v %v", r, ok)
	}
	if _, err := st.Progress(ctx, "ZZZZ", histDay("2025-01-02"), histDay("2026-03-01"), "polygon", retry, retry.Add(lease)); err != nil {
		t.Fatal(err)
	}
	at := retry.Add(2 * time.Minute)
	if err := st.Release(ctx, "ZZZZ", at, retry); err != nil {
		t.Fatal(err)
	}
	if r := row(t, s, "ZZZZ"); r.State != market.HistoryFilling || r.Reason != "" || *r.FilledFrom != histDay("2025-01-02") ||
		!r.NextAttemptAt.Equal(at) || r.Attempts != 0 {
		t.Fatalf("after progress and a release %+v", r)
	}
	if _, ok := claim(t, st, at.Add(-time.Second)); ok {
		t.Fatal("claimed before the release's time")
	}
	if r, ok := claim(t, st, at); !ok || r.Attempts != 0 {
		t.Fatalf("claim after the release %+v %v", r, ok)
	}
}

// testHistoryClaimRace: claimers racing for one due record: exactly one wins;
// racing for as many records as claimers: each wins a different one.
func testHistoryClaimRace(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	if err := st.Enqueue(ctx, "ONE", histDay("2024-01-02"), t0); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	race(racers, func(int) {
		if _, ok, err := st.Claim(ctx, t0, t0.Add(lease)); err != nil {
			t.Error(err)
		} else if ok {
			wins.Add(1)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d claimers won one record", wins.Load())
	}
	for i := range racers {
		if err := st.Enqueue(ctx, "S"+string(rune('A'+i)), histDay("2024-01-02"), t0); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]string, racers)
	race(racers, func(i int) {
		r, ok, err := st.Claim(ctx, t0.Add(time.Second), t0.Add(lease))
		if err != nil || !ok {
			t.Errorf("claimer %d: %v %v", i, ok, err)
		}
		got[i] = r.Symbol
	})
	slices.Sort(got)
	if len(slices.Compact(slices.Clone(got))) != racers {
		t.Fatalf("claims %v: a record was claimed twice", got)
	}
}

// testHistoryActionsDaily: a complete record's corporate actions are due on
// its completion, then again once the interval has passed since the last
// check or a transaction on it was recorded since, the longest ago first; a released one is due at once; a record not
// complete never is; of several claimers of one record exactly one wins.
func testHistoryActionsDaily(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	day := 24 * time.Hour
	for i, sym := range []string{"AAAA", "BBBB", "PEND"} {
		if err := st.Enqueue(ctx, sym, histDay("2024-01-02"), t0); err != nil {
			t.Fatal(err)
		}
		if sym == "PEND" {
			continue
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		if r, ok := claim(t, st, at); !ok || r.Symbol != sym {
			t.Fatalf("claimed %+v %v, want %s", r, ok, sym)
		}
		if err := st.Complete(ctx, sym, histDay("2024-01-02"), "polygon", at); err != nil {
			t.Fatal(err)
		}
	}
	claimActions := func(now time.Time) string {
		t.Helper()
		sym, ok, err := st.ClaimActions(ctx, now, now.Add(-day))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ""
		}
		return sym
	}
	// Due on completion, the longest waiting first; then not again within the day.
	if a, b := claimActions(t0.Add(time.Hour)), claimActions(t0.Add(time.Hour)); a != "AAAA" || b != "BBBB" {
		t.Fatalf("on completion claimed %q, %q; want AAAA, BBBB", a, b)
	}
	if sym := claimActions(t0.Add(2 * time.Hour)); sym != "" {
		t.Fatalf("%s's actions due again an hour after they were asked", sym)
	}
	later := t0.Add(day + 2*time.Hour)
	if a, b, none := claimActions(later), claimActions(later), claimActions(later); a != "AAAA" || b != "BBBB" || none != "" {
		t.Fatalf("claimed %q, %q, %q; want AAAA, BBBB, then none (PEND is not complete)", a, b, none)
	}
	if err := st.ReleaseActions(ctx, "BBBB"); err != nil {
		t.Fatal(err)
	}
	if sym := claimActions(later.Add(time.Minute)); sym != "BBBB" {
		t.Fatalf("after its release claimed %q, want BBBB", sym)
	}
	var wins atomic.Int32
	race(racers, func(int) {
		if _, ok, err := st.ClaimActions(ctx, later.Add(2*day), later.Add(day)); err != nil {
			t.Error(err)
		} else if ok {
			wins.Add(1)
		}
	})
	if wins.Load() != 2 {
		t.Fatalf("%d claims of two records' actions won, want 2", wins.Load())
	}
	// A transaction on AAAA recorded since its last check: a new holder, to be
	// offered the past actions at once, not a day later.
	traded := later.Add(2*day + time.Hour)
	s.PutPortfolio(t, SeedPortfolio{ID: "p1", UserID: UserA, BaseCurrency: "USD",
		Trades: []SeedTrade{{Symbol: "AAAA", Day: histDay("2024-01-02"), RecordedAt: traded}}})
	if n := reconcile(t, st, traded); n != 1 {
		t.Errorf("the reconcile after the trade changed %d records, want AAAA's", n)
	}
	if a, none := claimActions(traded.Add(time.Minute)), claimActions(traded.Add(time.Minute)); a != "AAAA" || none != "" {
		t.Fatalf("after a trade claimed %q, %q; want AAAA only", a, none)
	}
	if n := reconcile(t, st, traded.Add(2*time.Minute)); n != 0 {
		t.Errorf("a reconcile with no new trade changed %d records", n)
	}
}

// testHistoryStale: a portfolio computed before a backfill of its traded
// symbol, its benchmark or the pair of a currency it converts (its base's, a
// transaction's settlement currency, GBP for GBp, a conversion's incoming
// one) completed is stale, least recently computed first; computed after, or
// archived, or never computed, or touched by no completed backfill (a voided
// transaction touches nothing), it is not.
func testHistoryStale(t *testing.T, s HistorySubject) {
	ctx, st := t.Context(), s.Store
	trade := []SeedTrade{{Symbol: "AAPL", Day: histDay("2024-01-02")}}
	s.PutPortfolio(t, SeedPortfolio{ID: "traded", UserID: UserA, BaseCurrency: "USD", Benchmark: "SPY", Trades: trade})
	s.PutPortfolio(t, SeedPortfolio{ID: "bench", UserID: UserA, BaseCurrency: "USD", Benchmark: "QQQ", Trades: []SeedTrade{{Symbol: "MSFT", Day: histDay("2024-01-02")}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "fx", UserID: UserB, BaseCurrency: "EUR", Benchmark: "SPY", Trades: []SeedTrade{{Symbol: "MSFT", Day: histDay("2024-01-02")}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "fresh", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY", Trades: trade})
	s.PutPortfolio(t, SeedPortfolio{ID: "archived", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY", Archived: true, Trades: trade})
	s.PutPortfolio(t, SeedPortfolio{ID: "never", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY", Trades: trade})
	s.PutPortfolio(t, SeedPortfolio{ID: "other", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY", Trades: []SeedTrade{{Symbol: "MSFT", Day: histDay("2024-01-02")}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "pence", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY",
		Trades: []SeedTrade{{Symbol: "VUSA.L", Day: histDay("2024-01-02"), Currency: "GBp"}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "conv", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY",
		Trades: []SeedTrade{{Day: histDay("2024-01-02"), Currency: "USD", ToCurrency: "CHF"}}})
	s.PutPortfolio(t, SeedPortfolio{ID: "voided", UserID: UserB, BaseCurrency: "USD", Benchmark: "SPY",
		Trades: []SeedTrade{{Symbol: "7203.T", Day: histDay("2024-01-02"), Currency: "JPY", Voided: true}}})
	s.PutComputedAt(t, "traded", UserA, t0.Add(2*time.Minute))
	s.PutComputedAt(t, "bench", UserA, t0)
	s.PutComputedAt(t, "fx", UserB, t0.Add(time.Minute))
	s.PutComputedAt(t, "fresh", UserB, t0.Add(time.Hour))
	s.PutComputedAt(t, "archived", UserB, t0)
	s.PutComputedAt(t, "other", UserB, t0)
	s.PutComputedAt(t, "pence", UserB, t0.Add(3*time.Minute))
	s.PutComputedAt(t, "conv", UserB, t0.Add(4*time.Minute))
	s.PutComputedAt(t, "voided", UserB, t0)
	done := t0.Add(10 * time.Minute)
	for _, sym := range []string{"AAPL", "QQQ", "EURUSD=X", "GBPUSD=X", "CHFUSD=X", "JPYUSD=X"} {
		if err := st.Enqueue(ctx, sym, histDay("2024-01-02"), t0); err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, sym, histDay("2024-01-02"), "simulated", done); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.StaleAfterBackfill(ctx, "USD", t0.Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bench", "fx", "traded", "pence", "conv"}; !slices.Equal(got, want) {
		t.Errorf("stale %v, want %v", got, want)
	}
	if got, _ := st.StaleAfterBackfill(ctx, "USD", t0.Add(-time.Hour), 2); len(got) != 2 {
		t.Errorf("limit 2: %v", got)
	}
	if got, _ := st.StaleAfterBackfill(ctx, "USD", done, 10); len(got) != 0 {
		t.Errorf("completed before since: %v", got)
	}
}
