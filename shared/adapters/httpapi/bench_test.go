package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// reportLatency records per-operation durations and reports p50 and p99.
func reportLatency(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkGetPositions50Holdings: GET /portfolios/{id}/positions through the
// Lambda adapter, real PostgreSQL read models, a portfolio of 50 holdings.
func BenchmarkGetPositions50Holdings(b *testing.B) {
	f := newPostgresAPI(b)
	id := f.createPortfolio(alice, "bench-pos")
	for i := 0; i < 50; i++ {
		f.record(alice, id, fmt.Sprintf(`{"type":"BUY","date":"2024-01-%02d","symbol":"SYM%02d","quantity":"10","price":"%d.25","fee":"1"}`, 1+i%28, i, 100+i))
	}
	f.project(id)
	path := "/portfolios/" + id + "/positions"
	var lat []time.Duration
	cpu0 := processCPU()
	for b.Loop() {
		start := time.Now()
		r := f.do(alice, "GET", path, "")
		lat = append(lat, time.Since(start))
		if r.status != 200 {
			b.Fatalf("status %d %s", r.status, r.raw)
		}
	}
	reportLatency(b, lat)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkGetPositions50HoldingsPriced: GetPositions50Holdings with every
// holding priced and a previous close each, so the answer carries the weights
// and the day's change (one more read: the closes).
func BenchmarkGetPositions50HoldingsPriced(b *testing.B) {
	f := newPostgresAPI(b)
	id := f.createPortfolio(alice, "bench-pos-priced")
	now := time.Date(2024, 7, 2, 15, 0, 0, 0, time.UTC)
	var latest []readmodel.LatestPrice
	var closes []readmodel.DailyClose
	for i := 0; i < 50; i++ {
		sym := fmt.Sprintf("SYM%02d", i)
		f.record(alice, id, fmt.Sprintf(`{"type":"BUY","date":"2024-01-%02d","symbol":"%s","quantity":"10","price":"%d.25","fee":"1"}`, 1+i%28, sym, 100+i))
		latest = append(latest, readmodel.LatestPrice{Symbol: sym, Price: decimal.NewFromInt(int64(110 + i)), Currency: "USD", AsOf: now, Source: "bench"})
		closes = append(closes, readmodel.DailyClose{Symbol: sym, Day: calendar.MustNew(2024, time.July, 1), Close: decimal.NewFromInt(int64(105 + i)), AsOf: now.Add(-20 * time.Hour), Source: "bench"})
	}
	if err := f.market(context.Background(), latest, closes); err != nil {
		b.Fatal(err)
	}
	f.project(id)
	path := "/portfolios/" + id + "/positions"
	if r := f.do(alice, "GET", path, ""); r.status != 200 || !strings.Contains(r.raw, `"dayChange"`) {
		b.Fatalf("status %d %.300s", r.status, r.raw)
	}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		r := f.do(alice, "GET", path, "")
		lat = append(lat, time.Since(start))
		if r.status != 200 {
			b.Fatalf("status %d %s", r.status, r.raw)
		}
	}
	reportLatency(b, lat)
}

// BenchmarkRecordTransaction: POST /portfolios/{id}/transactions through the
// Lambda adapter against DynamoDB Local (load, decide, conditional put).
func BenchmarkRecordTransaction(b *testing.B) {
	f := newPostgresAPI(b)
	id := f.createPortfolio(alice, "bench-cmd")
	path := "/portfolios/" + id + "/transactions"
	var lat []time.Duration
	i := 0
	cpu0 := processCPU()
	for b.Loop() {
		body := fmt.Sprintf(`{"type":"BUY","date":"2024-02-01","symbol":"SYM%02d","quantity":"1","price":"100"}`, i%20)
		start := time.Now()
		r := f.do(alice, "POST", path, body)
		lat = append(lat, time.Since(start))
		if r.status != 201 {
			b.Fatalf("status %d %s", r.status, r.raw)
		}
		i++
	}
	reportLatency(b, lat)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkHostileThreshold: POST /alerts with a threshold of 1.9 MB of digits
// through the Lambda adapter (issue 13, hole 3: it took about 6 s to refuse,
// pinning an API instance). Refused on its length, before any parsing.
func BenchmarkHostileThreshold(b *testing.B) {
	f := newPostgresAPI(b)
	body := `{"kind":"price_above","symbol":"AAPL","threshold":"` + strings.Repeat("9", 1_900_000) + `"}`
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		r := f.do(alice, "POST", "/alerts", body)
		lat = append(lat, time.Since(start))
		if r.status != 422 {
			b.Fatalf("status %d %.200s", r.status, r.raw)
		}
	}
	reportLatency(b, lat)
}
