// Package consumer is the market-data-updates consumer behind functions/prices.
//
// Per batch of Kinesis records:
//
//  1. decode each record (pricing.Decode); an undecodable record is a poison
//     record, reported as a batch item failure by its own sequence number and
//     skipped, so it never holds up the others (the mapping's bounded retries
//     and on-failure queue take it from there);
//  2. keep the newest quote per symbol in the DynamoDB prices table, one
//     conditional put per symbol (attribute_not_exists(symbol) OR #ts < :ts): a
//     late or duplicate tick never overwrites a newer price;
//  3. upsert latest_prices and daily_closes in Postgres, set-based, with the same
//     newer-wins rule (the positions view joins latest_prices at query time, so
//     this is the revaluation);
//  4. evaluate the price alert rules of the ticked symbols (shared/alerts) and
//     deliver their firings, then save the rules' state;
//  5. value every portfolio holding a ticked symbol in one query and push each
//     owner a valuation message.
//
// Failures are per symbol: when a symbol's write fails, every record of that
// symbol in the batch is reported, so a retry re-applies the symbol's ticks in
// order and never a later tick without an earlier one. Every step is idempotent
// (newer wins; alert firings are keyed), so re-processing is harmless.
package consumer

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/alerts"
	"github.com/portfoliotracker/tracker/shared/calendar"
	"github.com/portfoliotracker/tracker/shared/marketdata"
	"github.com/portfoliotracker/tracker/shared/pricing"
	"github.com/portfoliotracker/tracker/shared/readmodel"
)

// LatestStore keeps the newest quote per symbol (dynamoprices.Latest).
type LatestStore interface {
	Put(ctx context.Context, q marketdata.Quote, eventID string) (bool, error)
}

// Config wires a Consumer. Latest and DB are required; Alerts and Notifier may be
// nil (no alerts; nothing pushed).
type Config struct {
	Latest   LatestStore
	DB       readmodel.PriceDB
	Alerts   pricing.AlertStore
	Notifier pricing.Notifier
	// Currency of the quotes on the stream (latest_prices.currency). Default USD.
	Currency string
	// Exchange time zone deciding a tick's day for daily_closes. Default America/New_York.
	Location *time.Location
	// Concurrency of the DynamoDB puts. Default 32 (500 conditional puts are the
	// batch's longest step; see the benchmark).
	Concurrency int
	Logger      *slog.Logger
}

// Consumer handles batches. It is safe for concurrent use.
type Consumer struct{ cfg Config }

// New returns a Consumer.
func New(cfg Config) *Consumer {
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("America/New_York")
		if err != nil {
			panic(err) // unreachable: marketdata embeds time/tzdata
		}
		cfg.Location = loc
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg}
}

// Stats describe one batch.
type Stats struct {
	Records, Poison, Symbols, FailedSymbols int
	LatestStored                            int   // DynamoDB puts that stored (others were late or duplicates)
	LatestRows, CloseRows                   int64 // Postgres rows written
	Firings, Valuations                     int
	Decode, Dynamo, ReadModel, Alerts, Push time.Duration
}

type tick struct {
	rec int
	ev  pricing.MarketDataUpdated
}

// Handle is the Lambda handler (ReportBatchItemFailures).
func (c *Consumer) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	resp, _ := c.Process(ctx, ev.Records)
	return resp, nil
}

// Process handles one batch and returns the batch item failures and statistics.
func (c *Consumer) Process(ctx context.Context, recs []events.KinesisEventRecord) (events.KinesisEventResponse, Stats) {
	st := Stats{Records: len(recs)}
	log := c.cfg.Logger
	failed := make([]bool, len(recs))
	start := time.Now()

	// 1. Decode, grouping ticks by symbol in arrival order.
	bySym := map[string][]tick{}
	var order []string
	for i, r := range recs {
		e, err := pricing.Decode(r.Kinesis.Data)
		if err != nil {
			failed[i] = true
			st.Poison++
			log.ErrorContext(ctx, "prices: poison record", "sequenceNumber", r.Kinesis.SequenceNumber,
				"partitionKey", r.Kinesis.PartitionKey, "error", err.Error())
			continue
		}
		if _, ok := bySym[e.Symbol]; !ok {
			order = append(order, e.Symbol)
		}
		bySym[e.Symbol] = append(bySym[e.Symbol], tick{rec: i, ev: e})
	}
	st.Symbols = len(order)
	// Per symbol, ticks in time order (stable: equal timestamps keep arrival order);
	// the newest is the last.
	for _, s := range order {
		slices.SortStableFunc(bySym[s], func(a, b tick) int { return a.ev.Timestamp.Compare(b.ev.Timestamp) })
	}
	symFailed := map[string]bool{}
	st.Decode = time.Since(start)

	// 2. DynamoDB: newest per symbol, conditional put.
	start = time.Now()
	var mu sync.Mutex
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, s := range order {
		ts := bySym[s]
		newest := ts[len(ts)-1].ev
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			stored, err := c.cfg.Latest.Put(ctx, newest.Quote(), newest.EventID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				symFailed[s] = true
				log.ErrorContext(ctx, "prices: latest price not stored", "symbol", s, "error", err.Error())
			} else if stored {
				st.LatestStored++
			}
		})
	}
	wg.Wait()
	st.Dynamo = time.Since(start)

	// 3. Postgres read models, for the symbols still in good standing.
	start = time.Now()
	ok := okSymbols(order, symFailed)
	if len(ok) > 0 {
		latest := make([]readmodel.LatestPrice, 0, len(ok))
		var closes []readmodel.DailyClose
		for _, s := range ok {
			ts := bySym[s]
			n := ts[len(ts)-1].ev
			latest = append(latest, readmodel.LatestPrice{Symbol: s, Price: n.Price, Currency: c.cfg.Currency, AsOf: n.Timestamp, Source: n.Source})
			// The last tick of each exchange day is that day's close so far.
			for k, t := range ts {
				day := calendar.FromTime(t.ev.Timestamp.In(c.cfg.Location))
				if k+1 < len(ts) && calendar.FromTime(ts[k+1].ev.Timestamp.In(c.cfg.Location)) == day {
					continue
				}
				closes = append(closes, readmodel.DailyClose{Symbol: s, Day: day, Close: t.ev.Price, AsOf: t.ev.Timestamp, Source: t.ev.Source})
			}
		}
		var err error
		if st.LatestRows, err = readmodel.UpsertLatestPrices(ctx, c.cfg.DB, latest); err == nil {
			st.CloseRows, err = readmodel.UpsertDailyCloses(ctx, c.cfg.DB, closes)
		}
		if err != nil {
			log.ErrorContext(ctx, "prices: read models not updated", "symbols", len(ok), "error", err.Error())
			for _, s := range ok {
				symFailed[s] = true
			}
			ok = nil
		}
	}
	st.ReadModel = time.Since(start)

	// 4. Price alerts.
	start = time.Now()
	if len(ok) > 0 && c.cfg.Alerts != nil {
		bad, firings := c.alerts(ctx, ok, bySym)
		st.Firings = firings
		for _, s := range bad {
			symFailed[s] = true
		}
		ok = okSymbols(ok, symFailed)
	}
	st.Alerts = time.Since(start)

	// 5. Valuations of the portfolios holding the ticked symbols. A lost push is
	// not worth a retry (the next tick brings a newer value; the API serves the
	// current one), so failures are logged only.
	start = time.Now()
	if len(ok) > 0 && c.cfg.Notifier != nil {
		vals, err := readmodel.ValuationsHolding(ctx, c.cfg.DB, ok)
		if err != nil {
			log.ErrorContext(ctx, "prices: valuations", "error", err.Error())
		}
		st.Valuations = len(vals)
		for _, v := range vals {
			msg := pricing.ValuationMessage{Type: "valuation", PortfolioID: v.PortfolioID, MarketValue: v.MarketValue.String(),
				AsOf: v.AsOf.UTC().Format(time.RFC3339Nano), Unpriced: v.Unpriced}
			if err := c.cfg.Notifier.Notify(ctx, []string{v.UserID}, msg); err != nil {
				log.WarnContext(ctx, "prices: valuation not pushed", "portfolioId", v.PortfolioID, "error", err.Error())
			}
		}
	}
	st.Push = time.Since(start)

	// Report every record of a failed symbol, and the poison records.
	for s := range symFailed {
		st.FailedSymbols++
		for _, t := range bySym[s] {
			failed[t.rec] = true
		}
	}
	var resp events.KinesisEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: recs[i].Kinesis.SequenceNumber})
		}
	}
	log.InfoContext(ctx, "prices: batch", "records", st.Records, "poison", st.Poison, "symbols", st.Symbols,
		"failedSymbols", st.FailedSymbols, "latestStored", st.LatestStored, "closeRows", st.CloseRows,
		"firings", st.Firings, "valuations", st.Valuations)
	return resp, st
}

// alerts evaluates the price rules of symbols and delivers the firings; it
// returns the symbols whose firings could not be delivered (their state is not
// saved, so the retry fires them again under the same key).
func (c *Consumer) alerts(ctx context.Context, symbols []string, bySym map[string][]tick) (failed []string, firings int) {
	log := c.cfg.Logger
	rules, state, err := c.cfg.Alerts.PriceRules(ctx, symbols)
	if err != nil {
		log.ErrorContext(ctx, "prices: alert rules", "error", err.Error())
		return symbols, 0
	}
	if len(rules) == 0 {
		return nil, 0
	}
	eng, err := alerts.NewEngine(rules...)
	if err == nil {
		err = eng.Restore(state)
	}
	if err != nil {
		log.ErrorContext(ctx, "prices: alert engine", "error", err.Error())
		return symbols, 0
	}
	var ticks []alerts.Tick
	for _, s := range symbols {
		for _, t := range bySym[s] {
			ticks = append(ticks, alerts.PriceTick(s, t.ev.Price, t.ev.PreviousClose, t.ev.Timestamp))
		}
	}
	fs := eng.Evaluate(ticks)
	if rec, ok := c.cfg.Alerts.(pricing.FiringRecorder); ok && len(fs) > 0 {
		if err := rec.RecordFirings(ctx, fs); err != nil {
			log.ErrorContext(ctx, "prices: alert firings not recorded", "error", err.Error())
			return symbols, 0
		}
	}
	var errs []error
	bad := map[string]bool{}
	for _, f := range fs {
		if c.cfg.Notifier == nil || f.UserID == "" {
			continue
		}
		if err := c.cfg.Notifier.Notify(ctx, []string{f.UserID}, pricing.AlertMessage{Type: "alert", Firing: f}); err != nil {
			errs = append(errs, err)
			bad[f.Symbol] = true
		}
	}
	if len(errs) > 0 {
		log.ErrorContext(ctx, "prices: alert firings not delivered", "count", len(errs), "error", errors.Join(errs...).Error())
		for s := range bad {
			failed = append(failed, s)
		}
	}
	// Save the state of the rules whose symbols are done; the others keep their old
	// state, so their retried ticks fire again under the same key.
	saved := rules[:0:0]
	for _, r := range rules {
		if !bad[r.Symbol] {
			saved = append(saved, r)
		}
	}
	if err := c.cfg.Alerts.SaveState(ctx, saved, eng.State()); err != nil {
		log.ErrorContext(ctx, "prices: alert state not saved", "error", err.Error())
		return symbols, len(fs)
	}
	return failed, len(fs)
}

func okSymbols(order []string, failed map[string]bool) []string {
	out := make([]string, 0, len(order))
	for _, s := range order {
		if !failed[s] {
			out = append(out, s)
		}
	}
	return out
}
