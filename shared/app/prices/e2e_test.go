package prices_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
)

// TestIngestToPrices: the ingest handler with the simulated provider reads the
// watch list from Postgres and publishes to kinesis-mock, twice a minute apart;
// the prices handler consumes what kinesis-mock returns (GetRecords), and
// latest_prices, daily_closes and the DynamoDB prices table hold the second
// minute's quotes, as a fresh simulator computes them, each in its currency; a
// EUR portfolio holding a London ETF in pence is valued in euros at the
// simulated pairs' rates.
func TestIngestToPrices(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "3", "ZZZZ": "1"})
	holdings(t, e.pool, "p2", u2, map[string]string{"MSFT": "2", "GONE": "0"})
	// p3 (EUR) bought 10 VUSA.L in pence: the watch list adds EURUSD=X (its
	// base) and GBPUSD=X (the buy's settlement currency, where its cash moved:
	// −800 GBP, as the projector keeps it).
	if _, err := e.pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('p3', $1::uuid, 'eur', 'EUR', 'fifo', now(), now(), 1);
insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price, currency, fx_rate, voided, recorded_at, version)
values ('t3', 'p3', $1::uuid, 1, 'buy', '2026-02-02', 'VUSA.L', 10, 8000, 'GBp', 1.17, false, now(), 1);
insert into cash_balances (portfolio_id, currency, user_id, amount, version) values ('p3', 'GBP', $1::uuid, -800, 1)`, u1); err != nil {
		t.Fatal(err)
	}
	position(t, e.pool, "p3", u1, "VUSA.L", "10", "936", "GBp", "GBP", "800")
	kc := testenv.Kinesis(t)
	stream := testenv.UniqueName(t, "market-data-updates")
	if err := kinesispub.CreateStream(ctx, kc, stream); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	for _, at := range []time.Time{now, now.Add(time.Minute)} {
		h := ingest.New(ingest.Config{Quotes: marketdata.SimQuotes{Seed: 42, Now: func() time.Time { return at }},
			Watch:   readmodel.IngestStore{DB: e.pool},
			Updates: kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, stream, kinesispub.Options{})}})
		out, err := h.Run(ctx, ingest.Input{})
		// Held: AAPL, MSFT, ZZZZ, VUSA.L; the portfolios' benchmark (the
		// default): SPY; p3's pairs: EURUSD=X, GBPUSD=X.
		if err != nil || out.Symbols != 7 || out.Published != 7 || out.Errors != 0 {
			t.Fatalf("ingest at %s: %+v %v", at, out, err)
		}
	}
	got, err := kinesispub.ReadAll(ctx, kc, stream)
	if err != nil || len(got) != 14 {
		t.Fatalf("%d records, err %v", len(got), err)
	}
	var batch []prices.Record
	for _, r := range got {
		batch = append(batch, prices.Record{Data: r.Data, PartitionKey: aws.ToString(r.PartitionKey), SequenceNumber: aws.ToString(r.SequenceNumber)})
	}
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Notifier: notifier})
	resp, err := handle(ctx, c, batch)
	if err != nil || len(resp) != 0 {
		t.Fatalf("failures %v err %v", resp, err)
	}
	sim := marketdata.SimQuotes{Seed: 42, Now: func() time.Time { return now.Add(time.Minute) }}
	day := calendar.MustNew(2026, 3, 2)
	for _, sym := range []string{"AAPL", "MSFT", "SPY", "ZZZZ", "VUSA.L", "EURUSD=X", "GBPUSD=X"} {
		want, _ := sim.Quote(ctx, sym)
		p := latestPG(t, e.pool, sym)
		cur := "USD"
		if sym == "VUSA.L" {
			cur = "GBp"
		}
		if !p.Price.Equal(want.Price) || !p.AsOf.Equal(want.Timestamp) || p.Source != "simulated" || p.Currency != cur {
			t.Fatalf("%s: latest_prices %+v, want %+v", sym, p, want)
		}
		closes, err := readmodel.DailyCloses(ctx, e.pool, sym, day, day)
		if err != nil || len(closes) != 1 || !closes[0].Close.Equal(want.Price) {
			t.Fatalf("%s: closes %+v %v", sym, closes, err)
		}
		q, ok, err := e.latest.Get(ctx, sym)
		if err != nil || !ok || !q.Price.Equal(want.Price) {
			t.Fatalf("%s: dynamodb %+v %v %v", sym, q, ok, err)
		}
	}
	// Every portfolio was revalued and its owner told; p3 in euros: 10 × the
	// pence price × GBp→EUR as currency.Rates derives it from the two pairs.
	owners := map[string]string{}
	var p3 pricing.ValuationMessage
	for _, d := range notifier.Deliveries() {
		if m, ok := d.Message.(pricing.ValuationMessage); ok {
			owners[m.PortfolioID] = d.UserIDs[0]
			if m.PortfolioID == "p3" {
				p3 = m
			}
		}
	}
	if len(owners) != 3 || owners["p1"] != u1 || owners["p2"] != u2 || owners["p3"] != u1 {
		t.Fatalf("valuations to %v", owners)
	}
	rates := currency.NewRates()
	for _, pair := range []string{"EURUSD=X", "GBPUSD=X"} {
		q, _ := sim.Quote(ctx, pair)
		if err := rates.Add(day, pair[:3], "USD", q.Price); err != nil {
			t.Fatal(err)
		}
	}
	vusa, _ := sim.Quote(ctx, "VUSA.L")
	rate, err := rates.Need("GBp", "EUR", day)
	if err != nil {
		t.Fatal(err)
	}
	if want := decimal.NewFromInt(10).Mul(vusa.Price).Mul(rate.Value); p3.Currency != "EUR" || p3.MarketValue != want.String() || len(p3.Unpriced) != 0 {
		t.Fatalf("p3: %+v, want EUR %s (10 × %s GBp × %s)", p3, want, vusa.Price, rate.Value)
	}
}
