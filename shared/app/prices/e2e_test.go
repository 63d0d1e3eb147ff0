package prices_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// TestIngestToPrices: the ingest handler with the simulated provider reads the
// watch list from Postgres and publishes to kinesis-mock, twice a minute apart;
// the prices handler consumes what kinesis-mock returns (GetRecords), and
// latest_prices, daily_closes and the DynamoDB prices table hold the second
// minute's quotes, as a fresh simulator computes them.
func TestIngestToPrices(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "3", "ZZZZ": "1"})
	holdings(t, e.pool, "p2", u2, map[string]string{"MSFT": "2", "GONE": "0"})
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
		// Held: AAPL, MSFT, ZZZZ; the portfolios' benchmark (the default): SPY.
		if err != nil || out.Symbols != 4 || out.Published != 4 || out.Errors != 0 {
			t.Fatalf("ingest at %s: %+v %v", at, out, err)
		}
	}
	got, err := kinesispub.ReadAll(ctx, kc, stream)
	if err != nil || len(got) != 8 {
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
	for _, sym := range []string{"AAPL", "MSFT", "SPY", "ZZZZ"} {
		want, _ := sim.Quote(ctx, sym)
		p := latestPG(t, e.pool, sym)
		if !p.Price.Equal(want.Price) || !p.AsOf.Equal(want.Timestamp) || p.Source != "simulated" {
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
	// Both portfolios were revalued and their owners told.
	owners := map[string]string{}
	for _, d := range notifier.Deliveries() {
		if m, ok := d.Message.(pricing.ValuationMessage); ok {
			owners[m.PortfolioID] = d.UserIDs[0]
		}
	}
	if len(owners) != 2 || owners["p1"] != u1 || owners["p2"] != u2 {
		t.Fatalf("valuations to %v", owners)
	}
}
