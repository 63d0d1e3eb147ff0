package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/devtools/providerstub"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

type recordingOffers struct {
	mu      sync.Mutex
	actions []market.CorporateAction
}

func (o *recordingOffers) Offer(_ context.Context, actions []market.CorporateAction) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.actions = append(o.actions, actions...)
	return len(actions), nil
}

type recordingFlags struct {
	mu      sync.Mutex
	flagged map[string]string
}

func (f *recordingFlags) FlagUnknown(_ context.Context, symbol, source, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flagged[symbol] = source + ": " + reason
	return nil
}

// The backfill as main.go opens it (marketdata.Open, Polygon as the history
// source) against the provider stub, with the shared limiter at 6 calls a
// minute and PostgreSQL stores: a page whose next page fails (an HTML 502) is a
// transient failure retried after its backoff; the limit ends runs, which the
// next minutes resume; a ticker Polygon does not know fails as unknown and is
// flagged; each chunk's splits and dividends are offered; in the end every
// known symbol is complete.
func TestBackfillAgainstTheProviderStub(t *testing.T) {
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	stub := providerstub.Start(providerstub.Options{Key: "stub-key", Now: clock, Unknown: []string{"NOPE"},
		Faults: []providerstub.Fault{{Endpoint: providerstub.PolygonAggs, Symbol: "AAPL", Kind: providerstub.FailingNextPage, Times: 1}}})
	defer stub.Close()
	limiter := marketdata.NewMemoryLimiter(map[string][]marketdata.Limit{marketdata.SourcePolygon: {{Max: 6, Window: time.Minute}}})
	src, err := marketdata.Open(ctx, marketdata.Selection{History: marketdata.SourcePolygon}, marketdata.OpenOptions{
		Keys:     func(context.Context, string) (string, error) { return "stub-key", nil },
		BaseURLs: stub.BaseURLs(), Limiter: limiter, Now: clock})
	if err != nil || src.HistorySource != marketdata.SourcePolygon {
		t.Fatalf("open: %v %+v", err, src)
	}
	store := readmodel.NewSymbolHistory(pool)
	offers, flags := &recordingOffers{}, &recordingFlags{flagged: map[string]string{}}
	svc := history.New(history.Config{Store: store, Bars: src.Bars, Actions: src.Actions, Offers: offers, Unknown: flags,
		Closes: readmodel.IngestStore{DB: pool}, ChunkDays: 366, Now: clock})
	for sym, from := range map[string]calendar.Date{"AAPL": calendar.MustNew(2024, 3, 1), "MSFT": calendar.MustNew(2025, 6, 2), "NOPE": calendar.MustNew(2025, 6, 2)} {
		if err := store.Enqueue(ctx, sym, from, now); err != nil {
			t.Fatal(err)
		}
	}
	var limited, transient bool
	for run := 0; run < 10; run++ {
		out, err := svc.Run(ctx, history.Input{})
		if err != nil {
			t.Fatal(err)
		}
		limited = limited || out.Limited
		st, err := store.Status(ctx, []string{"AAPL"})
		if err != nil {
			t.Fatal(err)
		}
		transient = transient || strings.Contains(st["AAPL"].Reason, "502")
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
	}
	if !limited || !transient {
		t.Errorf("limited %v, AAPL's transient failure seen %v", limited, transient)
	}
	st, err := store.Status(ctx, []string{"AAPL", "MSFT", "NOPE"})
	if err != nil {
		t.Fatal(err)
	}
	for sym, from := range map[string]string{"AAPL": "2024-03-01", "MSFT": "2025-06-02"} {
		if h := st[sym]; h.State != market.HistoryComplete || h.FilledFrom.String() != from || h.Source != marketdata.SourcePolygon || h.Reason != "" {
			t.Errorf("%s: %+v", sym, h)
		}
	}
	if h := st["NOPE"]; h.State != market.HistoryFailed || !strings.HasPrefix(h.Reason, "unknown symbol") || flags.flagged["NOPE"] == "" {
		t.Errorf("NOPE: %+v, flagged %q", h, flags.flagged["NOPE"])
	}
	closes, err := readmodel.DailyCloses(ctx, pool, "AAPL", calendar.MustNew(2024, 3, 1), calendar.MustNew(2026, 3, 1))
	if err != nil || len(closes) < 490 {
		t.Errorf("%d closes of AAPL (%v)", len(closes), err)
	}
	dividends := map[string]bool{}
	for _, a := range offers.actions {
		if a.Symbol == "AAPL" && a.Kind == market.ActionDividend {
			dividends[a.Date.String()] = true
		}
	}
	if len(dividends) < 7 || stub.Calls(providerstub.PolygonDividends) == 0 || stub.Calls(providerstub.PolygonSplits) == 0 {
		t.Errorf("AAPL dividends offered on %v; %d dividend and %d split calls", dividends,
			stub.Calls(providerstub.PolygonDividends), stub.Calls(providerstub.PolygonSplits))
	}
}
