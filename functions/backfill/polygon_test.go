package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// polygonServer answers Polygon's daily aggregates (a bar per weekday of the
// range, "t" at midnight New York) and fails the first request for the ranges
// in failOnce with an HTML 502, as a proxy in front of it does.
type polygonServer struct {
	mu       sync.Mutex
	failOnce map[string]bool
	served   map[string]int // successful answers by ticker/from/to
	failed   int
}

func (p *polygonServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /v2/aggs/ticker/{T}/range/1/day/{from}/{to}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/aggs/ticker/"), "/")
	if len(parts) != 6 || r.Header.Get("Authorization") != "Bearer test-key" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	key := parts[0] + "/" + parts[4] + "/" + parts[5]
	p.mu.Lock()
	if p.failOnce[key] {
		delete(p.failOnce, key)
		p.failed++
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	}
	p.served[key]++
	p.mu.Unlock()
	from, err1 := calendar.Parse(parts[4])
	to, err2 := calendar.Parse(parts[5])
	if err1 != nil || err2 != nil {
		http.Error(w, "bad range", http.StatusBadRequest)
		return
	}
	var results []string
	for d := from; !d.After(to); d = d.AddDays(1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		y, m, dd := d.Time().Date()
		ms := time.Date(y, m, dd, 0, 0, 0, 0, market.NewYork()).UnixMilli()
		px := 100 + int(d)%37
		results = append(results, fmt.Sprintf(`{"o":%d,"h":%d.5,"l":%d,"c":%d.25,"v":1000,"vw":%d,"t":%d,"n":10}`, px, px, px-1, px, px, ms))
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ticker":%q,"queryCount":%d,"resultsCount":%d,"adjusted":true,"results":[%s],"status":"DELAYED","request_id":"x"}`,
		parts[0], len(results), len(results), strings.Join(results, ","))
}

// The backfill against a server that speaks Polygon, through the real client,
// the shared limiter (3 calls a minute here) and the PostgreSQL stores: a page
// that fails once is retried by the client; the limit ends a run and the next
// minute's run resumes where it stopped; no range is fetched twice; every
// symbol completes with its closes stored.
func TestBackfillAgainstPolygon(t *testing.T) {
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := &polygonServer{failOnce: map[string]bool{"AAPL/2024-02-29/2025-02-28": true}, served: map[string]int{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	limiter := marketdata.NewMemoryLimiter(map[string][]marketdata.Limit{marketdata.SourcePolygon: {{Max: 3, Window: time.Minute}}})
	poly := marketdata.NewPolygon(marketdata.ClientOptions{BaseURL: ts.URL, APIKey: "test-key", Limiter: limiter, Now: clock,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	store := readmodel.NewSymbolHistory(pool)
	svc := history.New(history.Config{Store: store, Bars: poly, Closes: readmodel.IngestStore{DB: pool}, ChunkDays: 366, Now: clock})
	run := func(in history.Input) history.Output {
		t.Helper()
		out, err := svc.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// AAPL from three years back (three chunks), then MSFT's year.
	out := run(history.Input{Symbol: "AAPL", From: "2023-03-01"})
	if err := store.Enqueue(ctx, "MSFT", calendar.MustNew(2025, 3, 3), now); err != nil {
		t.Fatal(err)
	}
	// Calls: AAPL's newest chunk, its second (502, then retried), then the limit.
	if !out.Limited || out.Chunks != 2 || srv.failed != 1 {
		t.Fatalf("first run %+v, %d failed pages", out, srv.failed)
	}
	st, err := store.Status(ctx, []string{"AAPL", "MSFT"})
	if err != nil {
		t.Fatal(err)
	}
	if a := st["AAPL"]; a.State != market.HistoryFilling || a.FilledFrom.String() != "2024-02-29" || a.Source != "polygon" {
		t.Fatalf("AAPL after the first run %+v", a)
	}
	// Within the same minute the limit still holds: nothing is fetched.
	if out := run(history.Input{}); !out.Limited || out.Chunks != 0 {
		t.Fatalf("second run, same minute: %+v", out)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	out = run(history.Input{})
	if out.Limited || out.Completed != 2 || out.Chunks != 2 {
		t.Fatalf("next minute's run %+v", out)
	}
	for key, n := range srv.served {
		if n != 1 {
			t.Errorf("%s fetched %d times", key, n)
		}
	}
	if len(srv.served) != 4 {
		t.Errorf("ranges fetched %v", srv.served)
	}
	st, _ = store.Status(ctx, []string{"AAPL", "MSFT"})
	for sym, from := range map[string]string{"AAPL": "2023-03-01", "MSFT": "2025-03-03"} {
		if h := st[sym]; h.State != market.HistoryComplete || h.FilledFrom.String() != from || h.FilledTo.String() != "2026-03-01" {
			t.Errorf("%s: %+v", sym, h)
		}
	}
	closes, err := readmodel.DailyCloses(ctx, pool, "AAPL", calendar.MustNew(2023, 3, 1), calendar.MustNew(2026, 3, 2))
	if err != nil {
		t.Fatal(err)
	}
	// Weekdays from 2023-03-01 to 2026-02-27: 783.
	if len(closes) != 783 || closes[0].Source != "polygon" || !closes[len(closes)-1].AsOf.Equal(time.Date(2026, 2, 27, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("%d closes of AAPL, last %+v", len(closes), closes[len(closes)-1])
	}
}
