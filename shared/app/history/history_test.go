package history_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// now is a Monday afternoon in New York: the last closed session is Friday's.
var now = time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// newStore returns the in-memory backfill store, which passes the PostgreSQL
// store's contract suite (storetest.RunHistory).
func newStore() *memstore.SymbolHistory { return memstore.NewSymbolHistory() }

// need makes symbol needed from from on the store's next reconcile: a
// portfolio in the quotes' currency, without a benchmark, whose only trade is
// in symbol on that day.
func need(s *memstore.SymbolHistory, symbol string, from calendar.Date) {
	s.PutPortfolio(memstore.HistoryPortfolio{ID: "holds-" + symbol, BaseCurrency: "USD",
		Trades: []memstore.HistoryTrade{{Symbol: symbol, Day: from}}})
}

// record is symbol's record as it stands.
func record(t *testing.T, s *memstore.SymbolHistory, symbol string) memstore.HistoryRow {
	t.Helper()
	r, ok := s.Row(symbol)
	if !ok {
		t.Fatalf("no record of %s", symbol)
	}
	return r
}

// call is one request a fake provider answered.
type call struct{ symbol, from, to string }

// fakeBars answers a bar per weekday from listed on (nothing before), after
// failing the calls its script says, and counts against a quota per run like
// the shared limiter: the call past it is refused with KindRateLimited.
type fakeBars struct {
	mu     sync.Mutex
	listed map[string]calendar.Date
	fail   map[int]error // by call number, from 1
	quota  int           // calls allowed; 0 is unlimited
	calls  []call
	asked  int
}

func (p *fakeBars) Name() string { return "fake" }

func (p *fakeBars) DailyBars(_ context.Context, symbol string, from, to calendar.Date) ([]market.DailyBar, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	if p.quota > 0 && len(p.calls) >= p.quota {
		return nil, &market.MarketDataError{Provider: "fake", Symbol: symbol, Kind: market.KindRateLimited, Message: "limit", RetryAfter: 30 * time.Second}
	}
	p.calls = append(p.calls, call{symbol, from.String(), to.String()})
	if err := p.fail[p.asked]; err != nil {
		return nil, err
	}
	listed, ok := p.listed[symbol]
	if !ok {
		return []market.DailyBar{}, nil // as Polygon answers an unknown ticker
	}
	var bars []market.DailyBar
	for d := max(from, listed); !d.After(to); d = d.AddDays(1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		px := decimal.NewFromInt(100 + int64(d)%50)
		bars = append(bars, market.DailyBar{Symbol: symbol, Date: d, Open: px, High: px, Low: px, Close: px, Source: "fake"})
	}
	return bars, nil
}

// fakeActions reports a dividend of each symbol on the 15th of every month.
type fakeActions struct {
	mu      sync.Mutex
	calls   []call
	limited bool // answer as a provider whose rate limit is spent
}

func (a *fakeActions) Name() string { return "fake" }

func (a *fakeActions) CorporateActions(_ context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limited {
		return nil, &market.MarketDataError{Provider: "fake", Symbol: symbol, Kind: market.KindRateLimited, Message: "limit"}
	}
	a.calls = append(a.calls, call{symbol, from.String(), to.String()})
	var out []market.CorporateAction
	for d := from; !d.After(to); d = d.AddDays(1) {
		if d.Time().Day() == 15 {
			out = append(out, market.CorporateAction{Kind: market.ActionDividend, Symbol: symbol, Date: d,
				CashAmount: decimal.RequireFromString("0.25"), Currency: "USD", Source: "fake"})
		}
	}
	return out, nil
}

type fakeOffers struct {
	mu      sync.Mutex
	offered []market.CorporateAction
}

func (o *fakeOffers) Offer(_ context.Context, actions []market.CorporateAction) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.offered = append(o.offered, actions...)
	return len(actions), nil
}

type fakeFlags struct{ flagged []string }

func (f *fakeFlags) FlagUnknown(_ context.Context, symbol, source, reason string) error {
	f.flagged = append(f.flagged, symbol+" "+source+" "+reason)
	return nil
}

type rig struct {
	store   *memstore.SymbolHistory
	bars    *fakeBars
	closes  *memstore.Prices
	actions *fakeActions
	offers  *fakeOffers
	flags   *fakeFlags
	clock   time.Time
	svc     *history.Service
}

func newRig(listed map[string]calendar.Date) *rig {
	r := &rig{store: newStore(), bars: &fakeBars{listed: listed, fail: map[int]error{}}, closes: memstore.NewPrices(),
		actions: &fakeActions{}, offers: &fakeOffers{}, flags: &fakeFlags{}, clock: now}
	r.svc = history.New(history.Config{Store: r.store, Bars: r.bars, Closes: r.closes, Actions: r.actions, Offers: r.offers,
		Unknown: r.flags, ChunkDays: 366, Now: func() time.Time { return r.clock }})
	return r
}

func (r *rig) run(t *testing.T, in history.Input) history.Output {
	t.Helper()
	out, err := r.svc.Run(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A symbol needed three years back is filled newest chunk first, its closes
// stamped at the session close, and completed; then its corporate actions of
// the ten years history may go back are asked for once, in the same run, and
// offered (the offerer keeps those a portfolio held).
func TestFillsNewestFirstAndCompletes(t *testing.T) {
	r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03")})
	need(r.store, "AAPL", date("2023-03-01"))
	out := r.run(t, history.Input{})
	want := []call{{"AAPL", "2025-03-01", "2026-03-01"}, {"AAPL", "2024-02-29", "2025-02-28"}, {"AAPL", "2023-03-01", "2024-02-28"}}
	if !slices.Equal(r.bars.calls, want) {
		t.Fatalf("calls %v, want %v", r.bars.calls, want)
	}
	if wantActions := []call{{"AAPL", "2016-02-23", "2026-03-02"}}; !slices.Equal(r.actions.calls, wantActions) {
		t.Errorf("corporate actions asked for %v, want %v", r.actions.calls, wantActions)
	}
	rec := record(t, r.store, "AAPL")
	if rec.State != market.HistoryComplete || *rec.FilledFrom != date("2023-03-01") || *rec.FilledTo != date("2026-03-01") || !rec.CompletedAt.Equal(now) {
		t.Fatalf("record %+v", rec)
	}
	if out.Symbols != 1 || out.Chunks != 3 || out.Completed != 1 || out.Limited || out.Reconciled != 1 {
		t.Errorf("output %+v", out)
	}
	stored, err := r.closes.DailyCloses(t.Context(), "AAPL", date("2000-01-01"), date("2030-01-01"))
	if err != nil || int(out.Closes) != len(stored) || len(stored) < 3*250 {
		t.Errorf("%d closes stored (output says %d), %v", len(stored), out.Closes, err)
	}
	if c := closeOn(stored, date("2026-02-27")); !c.AsOf.Equal(time.Date(2026, 2, 27, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("Friday's close stamped %s, want 16:00 New York", c.AsOf)
	}
	if out.Offered != 120 || len(r.offers.offered) != 120 || out.ActionsChecked != 1 {
		t.Errorf("offered %d (%d), want a dividend a month for ten years", out.Offered, len(r.offers.offered))
	}
	// Nothing due: a second run fetches nothing.
	before := len(r.bars.calls)
	if out := r.run(t, history.Input{}); out.Symbols != 0 || len(r.bars.calls) != before {
		t.Errorf("second run %+v, %d calls", out, len(r.bars.calls)-before)
	}
}

// The rate limit ends the run where it stands; the next run resumes with the
// chunk that was refused, and no chunk is fetched twice.
func TestRateLimitStopsAndTheNextRunResumes(t *testing.T) {
	r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03"), "MSFT": date("2000-01-03")})
	need(r.store, "AAPL", date("2023-03-01"))
	need(r.store, "MSFT", date("2025-06-02"))
	r.bars.quota = 2
	out := r.run(t, history.Input{})
	if !out.Limited || out.Chunks != 2 || out.Completed != 0 {
		t.Fatalf("first run %+v", out)
	}
	rec := record(t, r.store, "AAPL")
	if rec.State != market.HistoryFilling || *rec.FilledFrom != date("2024-02-29") || !rec.NextAttemptAt.Equal(now.Add(30*time.Second)) {
		t.Fatalf("after the limit: %+v, want filling from 2024-02-29, due when the limit allows", rec)
	}
	if record(t, r.store, "MSFT").State != market.HistoryPending {
		t.Error("MSFT was touched")
	}
	// A run before the limit allows again does nothing with AAPL.
	r.clock = now.Add(10 * time.Second)
	r.bars.quota = 0
	out = r.run(t, history.Input{})
	if out.Symbols != 1 || record(t, r.store, "AAPL").State != market.HistoryFilling {
		t.Fatalf("second run %+v: only MSFT was due", out)
	}
	r.clock = now.Add(time.Minute)
	out = r.run(t, history.Input{})
	if out.Completed != 1 || record(t, r.store, "AAPL").State != market.HistoryComplete {
		t.Fatalf("third run %+v", out)
	}
	seen := map[call]bool{}
	for _, c := range r.bars.calls {
		if seen[c] {
			t.Errorf("fetched twice: %v", c)
		}
		seen[c] = true
	}
}

// A symbol the provider does not know fails and is flagged, whether the
// provider says so or answers two weeks without a bar.
func TestUnknownSymbolsFailAndAreFlagged(t *testing.T) {
	r := newRig(nil)
	need(r.store, "NOTFOUND", date("2025-01-02"))
	need(r.store, "EMPTY", date("2025-01-02"))
	// EMPTY is asked first (oldest first, then by symbol) and answered with no bar.
	r.bars.fail[2] = &market.MarketDataError{Provider: "fake", Symbol: "NOTFOUND", Kind: market.KindNotFound, Message: "no such ticker"}
	out := r.run(t, history.Input{})
	if out.Failed != 2 {
		t.Fatalf("output %+v", out)
	}
	for _, sym := range []string{"EMPTY", "NOTFOUND"} {
		rec := record(t, r.store, sym)
		if rec.State != market.HistoryFailed || !strings.HasPrefix(rec.Reason, "unknown symbol") || rec.FilledTo != nil {
			t.Errorf("%s: %+v %q", sym, rec, rec.Reason)
		}
	}
	if len(r.flags.flagged) != 2 || !strings.HasPrefix(r.flags.flagged[0], "EMPTY fake unknown symbol") {
		t.Errorf("flagged %q", r.flags.flagged)
	}
	// Failed symbols are retried, a day later: the provider's quota is every
	// portfolio's, and it just said no.
	if rec := record(t, r.store, "EMPTY"); !rec.NextAttemptAt.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("due again at %s", rec.NextAttemptAt)
	}
}

// A refusal no retry mends fails the symbol at once; a transient failure is
// retried with a doubling backoff, and fails it after MaxAttempts in a row,
// after which it is asked again only a day later.
func TestFailuresBackOff(t *testing.T) {
	r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03"), "BAD": date("2000-01-03")})
	r.svc = history.New(history.Config{Store: r.store, Bars: r.bars, Closes: r.closes, MaxAttempts: 3,
		Now: func() time.Time { return r.clock }})
	need(r.store, "AAPL", date("2025-06-02"))
	need(r.store, "BAD", date("2025-06-02"))
	for i := 1; i <= 10; i++ {
		r.bars.fail[i] = &market.MarketDataError{Provider: "fake", Kind: market.KindHTTPStatus, Status: 503, Message: "unavailable"}
	}
	r.bars.fail[2] = &market.MarketDataError{Provider: "fake", Kind: market.KindHTTPStatus, Status: 403, Message: "not authorized"}
	r.run(t, history.Input{})
	if rec := record(t, r.store, "BAD"); rec.State != market.HistoryFailed || !strings.HasPrefix(rec.Reason, "refused: ") {
		t.Errorf("BAD: %+v %q", rec, rec.Reason)
	}
	var dues []time.Duration
	for range 2 {
		rec := record(t, r.store, "AAPL")
		dues = append(dues, rec.NextAttemptAt.Sub(r.clock))
		r.clock = rec.NextAttemptAt
		r.run(t, history.Input{})
	}
	dues = append(dues, record(t, r.store, "AAPL").NextAttemptAt.Sub(r.clock))
	if want := []time.Duration{time.Minute, 2 * time.Minute, 24 * time.Hour}; !slices.Equal(dues, want) {
		t.Errorf("backoffs %v, want %v", dues, want)
	}
	rec := record(t, r.store, "AAPL")
	if rec.State != market.HistoryFailed || !strings.HasPrefix(rec.Reason, "gave up after 3 attempts") {
		t.Errorf("after three transient failures: %+v %q", rec, rec.Reason)
	}
}

// A provider whose history of a symbol starts later than needed answers an
// older chunk with nothing: the symbol is complete without asking further back.
func TestHistoryStartingLaterCompletes(t *testing.T) {
	r := newRig(map[string]calendar.Date{"IPO": date("2025-09-15")})
	need(r.store, "IPO", date("2018-01-02"))
	out := r.run(t, history.Input{})
	if len(r.bars.calls) != 2 || out.Completed != 1 {
		t.Fatalf("calls %v, output %+v", r.bars.calls, out)
	}
	if rec := record(t, r.store, "IPO"); rec.State != market.HistoryComplete || *rec.FilledFrom != date("2025-03-01") {
		t.Errorf("record %+v", rec)
	}
}

// A symbol needed further back after it completed is filled for the missing
// days only; a manual request does the same at once, and a bad one is refused.
func TestNeededFurtherBackFillsTheMissingDays(t *testing.T) {
	r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03")})
	r.svc = history.New(history.Config{Store: r.store, Bars: r.bars, Closes: r.closes, ChunkDays: 3660, Now: func() time.Time { return r.clock }})
	need(r.store, "AAPL", date("2025-03-03"))
	r.run(t, history.Input{})
	r.clock = now.Add(time.Hour)
	need(r.store, "AAPL", date("2024-03-01"))
	r.run(t, history.Input{})
	r.clock = now.Add(2 * time.Hour)
	out := r.run(t, history.Input{Symbol: "AAPL", From: "2023-03-01"})
	want := []call{{"AAPL", "2025-03-03", "2026-03-01"}, {"AAPL", "2024-03-01", "2025-03-02"}, {"AAPL", "2023-03-01", "2024-02-29"}}
	if !slices.Equal(r.bars.calls, want) || out.Completed != 1 {
		t.Fatalf("calls %v, want %v (output %+v)", r.bars.calls, want, out)
	}
	for _, in := range []history.Input{{Symbol: "AAPL"}, {From: "2024-01-01"}, {Symbol: "AAPL", From: "1990-01-01"}, {Symbol: "AAPL", From: "01/01/2024"},
		{Symbol: strings.Repeat("X", 33), From: "2024-01-01"}} {
		if _, err := r.svc.Run(t.Context(), in); !errors.Is(err, history.ErrBadInput) {
			t.Errorf("%+v: %v, want ErrBadInput", in, err)
		}
	}
}

// Without a corporate-action provider or an offerer (not wired), the backfill
// runs all the same; an offerer's failure does not hold the history back.
func TestActionsOptional(t *testing.T) {
	for name, cfg := range map[string]func(r *rig) history.Config{
		"none": func(r *rig) history.Config { return history.Config{Store: r.store, Bars: r.bars, Closes: r.closes} },
		"failing offerer": func(r *rig) history.Config {
			return history.Config{Store: r.store, Bars: r.bars, Closes: r.closes, Actions: r.actions, Offers: failingOfferer{}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03")})
			c := cfg(r)
			c.Now = func() time.Time { return r.clock }
			r.svc = history.New(c)
			need(r.store, "AAPL", date("2025-06-02"))
			if out := r.run(t, history.Input{}); out.Completed != 1 {
				t.Errorf("output %+v", out)
			}
		})
	}
}

type failingOfferer struct{}

func (failingOfferer) Offer(context.Context, []market.CorporateAction) (int, error) {
	return 0, fmt.Errorf("suggestions store down")
}

// closeOn is the close of day among closes (zero when there is none).
func closeOn(closes []market.DailyClose, day calendar.Date) market.DailyClose {
	for _, c := range closes {
		if c.Day == day {
			return c
		}
	}
	return market.DailyClose{}
}

// A complete symbol's corporate actions are asked for on completion, then
// again once a day, so a dividend after its backfill is offered too: not again
// the same day; the next day over the whole range again, its dividends going
// to the offerer. A rate limit releases the symbol for the next run.
func TestActionsAskedAgainDaily(t *testing.T) {
	r := newRig(map[string]calendar.Date{"AAPL": date("2000-01-03")})
	need(r.store, "AAPL", date("2026-01-05"))
	if out := r.run(t, history.Input{}); out.Completed != 1 || out.ActionsChecked != 1 {
		t.Fatalf("first run %+v", out)
	}
	asked := len(r.actions.calls)
	r.clock = now.Add(time.Hour)
	if out := r.run(t, history.Input{}); out.ActionsChecked != 0 || len(r.actions.calls) != asked {
		t.Fatalf("an hour later %+v, %d calls", out, len(r.actions.calls))
	}
	r.clock = now.Add(25 * time.Hour)
	offered := len(r.offers.offered)
	out := r.run(t, history.Input{})
	today := calendar.FromTime(r.clock.In(market.NewYork()))
	if want := (call{"AAPL", today.AddDays(-3660).String(), today.String()}); out.ActionsChecked != 1 || r.actions.calls[len(r.actions.calls)-1] != want {
		t.Fatalf("a day later %+v, last call %v, want %v", out, r.actions.calls[len(r.actions.calls)-1], want)
	}
	if len(r.offers.offered) == offered || out.Offered == 0 {
		t.Fatalf("nothing offered a day later: %+v", out)
	}

	r.clock = now.Add(49 * time.Hour)
	r.actions.limited = true
	if out := r.run(t, history.Input{}); !out.Limited || out.ActionsChecked != 0 {
		t.Fatalf("rate-limited %+v", out)
	}
	r.actions.limited = false
	r.clock = now.Add(49*time.Hour + time.Minute)
	if out := r.run(t, history.Input{}); out.ActionsChecked != 1 {
		t.Fatalf("after the limit %+v: the symbol was not released", out)
	}
}
