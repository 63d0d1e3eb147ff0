package history_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// strayBars answers fakeBars' bars plus bars the backfill must not store: one
// of another symbol and two of the symbol outside the range asked for (one of
// them today's session, still open).
type strayBars struct{ *fakeBars }

func (p strayBars) DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]market.DailyBar, error) {
	bars, err := p.fakeBars.DailyBars(ctx, symbol, from, to)
	if err != nil || len(bars) == 0 {
		return bars, err
	}
	px := decimal.NewFromInt(7)
	stray := func(sym string, d calendar.Date) market.DailyBar {
		return market.DailyBar{Symbol: sym, Date: d, Open: px, High: px, Low: px, Close: px, Source: "fake"}
	}
	return append(bars, stray("MSFT", from), stray(symbol, from.AddDays(-1)), stray(symbol, to.AddDays(1))), nil
}

// The closes a backfill stores in PostgreSQL (readmodel.IngestStore, as the
// backfill function wires it) are stamped at the 16:00 New York session close,
// so newer wins against the live ticks of their day: a bar replaces a tick of
// the session, an after-hours tick stamped later keeps its day. Bars of another
// symbol or outside the range asked for are left out, and so is today's
// session, which has not closed.
func TestClosesNewerWinsInPostgres(t *testing.T) {
	pool, _ := rmtest.DB(t)
	ctx := t.Context()
	ny := market.NewYork()
	thursday, friday := date("2026-02-26"), date("2026-02-27")
	live := []market.DailyClose{
		{Symbol: "AAPL", Day: thursday, Close: decimal.NewFromInt(1), AsOf: time.Date(2026, 2, 26, 15, 59, 0, 0, ny).UTC(), Source: "finnhub"},
		{Symbol: "AAPL", Day: friday, Close: decimal.NewFromInt(2), AsOf: time.Date(2026, 2, 27, 17, 30, 0, 0, ny).UTC(), Source: "finnhub"},
	}
	if _, err := readmodel.UpsertDailyCloses(ctx, pool, live); err != nil {
		t.Fatal(err)
	}
	store := newStore()
	need(store, "AAPL", date("2026-02-16"))
	var logs bytes.Buffer
	svc := history.New(history.Config{Store: store, Bars: strayBars{&fakeBars{listed: map[string]calendar.Date{"AAPL": date("2000-01-03")}}},
		Closes: readmodel.IngestStore{DB: pool}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: func() time.Time { return now }})
	out, err := svc.Run(ctx, history.Input{})
	if err != nil {
		t.Fatal(err)
	}
	// Two weeks of weekdays, 2026-02-16 to 2026-02-27; Friday's after-hours tick stays.
	if out.Completed != 1 || out.Closes != 9 {
		t.Fatalf("output %+v, want 9 closes written", out)
	}
	if !strings.Contains(logs.String(), `"msg":"history: bars left out","symbol":"AAPL","invalid":3`) {
		t.Errorf("the stray bars not reported; log:\n%s", logs.String())
	}
	closes, err := readmodel.DailyCloses(ctx, pool, "AAPL", date("2026-02-01"), date("2026-03-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(closes) != 10 || closes[0].Day != date("2026-02-16") || closes[9].Day != friday {
		t.Fatalf("closes %+v, want the weekdays of 2026-02-16..27 only", closes)
	}
	byDay := map[calendar.Date]market.DailyClose{}
	for _, c := range closes {
		byDay[c.Day] = c
	}
	if c := byDay[thursday]; c.Source != "fake" || !c.AsOf.Equal(time.Date(2026, 2, 26, 21, 0, 0, 0, time.UTC)) || c.Close.Equal(live[0].Close) {
		t.Errorf("Thursday %+v: want the bar's close at 16:00 New York (21:00 UTC), over the 15:59 tick", c)
	}
	if c := byDay[friday]; c.Source != "finnhub" || !c.Close.Equal(live[1].Close) || !c.AsOf.Equal(live[1].AsOf) {
		t.Errorf("Friday %+v: want the after-hours tick kept", c)
	}
	if other, err := readmodel.DailyCloses(ctx, pool, "MSFT", date("2026-01-01"), date("2026-03-02")); err != nil || len(other) != 0 {
		t.Errorf("MSFT's stray bar stored: %+v %v", other, err)
	}
}
