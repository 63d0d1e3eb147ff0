package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/readyourwrites"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// fullAPI is the API with every store, and the projection applying what the
// commands wrote (what the stream does in AWS): over the in-memory stores
// (newFullAPI) or over DynamoDB Local and PostgreSQL (newPostgresAPI).
type fullAPI struct {
	*api
	// metrics holds the EMF lines the API wrote, as the api function writes
	// them to stdout.
	metrics *lockedBuffer
	events  interface {
		Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error)
	}
	apply func(ctx context.Context, events []portfolio.Event) error
	// valuations records valuations as the prices use case does.
	valuations interface {
		InsertValuations(ctx context.Context, vals []readmodel.Valuation) (int64, error)
	}
	seen map[string]bool
	// offers stores the backfill's suggestions, where the API reads them.
	offers suggestions.OfferStore
	// flags flags the symbols a provider does not know, as the ingest does
	// (in memory only).
	flags interface {
		FlagUnknown(ctx context.Context, symbol, source, reason string) error
	}
	// setHistories records symbols' backfill records (the in-memory API only).
	setHistories func(ctx context.Context, hs []market.HistoryStatus) error
	// market records latest prices and daily closes where the API reads them:
	// the positions' valuation and the command service's rate lookup.
	market func(ctx context.Context, latest []readmodel.LatestPrice, closes []readmodel.DailyClose) error
	// withWait is another API over the same stores whose portfolio queries
	// wait for the read model as opt says (newPostgresAPIWith only).
	withWait func(opt readyourwrites.Options) *api
}

// newFullAPI is the API over the in-memory stores, which pass the contract
// suites their DynamoDB and PostgreSQL implementations pass
// (eventstore/storetest, httpapi/querytest, readmodel/storetest): the event
// store, the query store (memquery, also the portfolios table the alert and
// metrics stores join on), alert rules, metrics and valuations.
func newFullAPI(t *testing.T) *fullAPI {
	t.Helper()
	store, vals, prices := eventstore.NewMemory(), memstore.NewValuations(), memstore.NewPrices()
	reads := memquery.NewOver(vals)
	offers := memstore.NewSuggestions(reads)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{
		Commands: command.New(store, command.Options{Logger: quiet, Rates: memstore.FXRates{Prices: prices}}), Events: store, Queries: reads,
		Alerts: memstore.NewAlerts(reads), Analytics: memstore.NewMetrics(reads, prices, vals), Logger: quiet,
		Suggestions: offers,
	})
	return &fullAPI{api: &api{t: t, handler: httplambda.Handler(srv)}, events: store, apply: reads.Apply, valuations: vals, seen: map[string]bool{},
		offers: offers, flags: reads, setHistories: reads.SetHistories,
		market: func(ctx context.Context, latest []readmodel.LatestPrice, closes []readmodel.DailyClose) error {
			_, err1 := prices.UpsertLatestPrices(ctx, latest)
			_, err2 := prices.UpsertDailyCloses(ctx, closes)
			return errors.Join(err1, err2, reads.SetLatestPrices(ctx, latest), reads.SetDailyCloses(ctx, closes))
		}}
}

// newPostgresAPI is the API over real DynamoDB Local and real PostgreSQL, for
// the benchmarks (they measure the PostgreSQL paths).
func newPostgresAPI(t testing.TB) *fullAPI {
	t.Helper()
	return newPostgresAPIWith(t, func(q httpapi.Queries) httpapi.Queries { return q })
}

// newPostgresAPIWith is newPostgresAPI whose API reads through wrap(queries).
func newPostgresAPIWith(t testing.TB, wrap func(httpapi.Queries) httpapi.Queries) *fullAPI {
	t.Helper()
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{ApplicationName: "api-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The API reads as the api function does: its own login, each statement as the
	// caller; the projector writes as the owner.
	callerDB, _ := readmodeltest.API(t, dsn)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	metrics := &lockedBuffer{}
	cfg := httpapi.Config{
		Commands: command.New(store, command.Options{Logger: quiet, Rates: readmodel.NewFXRates(callerDB)}), Events: store,
		Queries: wrap(readmodel.NewQueries(callerDB)), Alerts: readmodel.NewAlertRules(callerDB), Analytics: readmodel.NewMetrics(callerDB), Logger: quiet,
		Suggestions: readmodel.NewSuggestions(callerDB),
		Metrics:     emf.New(metrics, map[string]string{"Function": "api"}), Gauges: readmodel.PoolGauges(callerDB.Pool()),
	}
	srv := httpapi.New(cfg)
	projector := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Logger: quiet, Metrics: io.Discard})
	return &fullAPI{
		api:     &api{t: t, handler: httplambda.Handler(srv)},
		metrics: metrics,
		events:  store,
		apply: func(ctx context.Context, events []portfolio.Event) error {
			failed, err := projector.Apply(ctx, events)
			if err == nil && len(failed) > 0 {
				err = fmt.Errorf("events %v failed", failed)
			}
			return err
		},
		valuations: readmodel.NewValuations(pool),
		seen:       map[string]bool{},
		offers:     readmodel.NewSuggestions(pool),
		market: func(ctx context.Context, latest []readmodel.LatestPrice, closes []readmodel.DailyClose) error {
			_, err1 := readmodel.UpsertLatestPrices(ctx, pool, latest)
			_, err2 := readmodel.UpsertDailyCloses(ctx, pool, closes)
			return errors.Join(err1, err2)
		},
		withWait: func(opt readyourwrites.Options) *api {
			c := cfg
			c.ReadYourWrites = opt
			return &api{t: t, handler: httplambda.Handler(httpapi.New(c))}
		},
	}
}

// project applies every event of the portfolios seen so far (idempotent: the
// projection skips versions it has applied).
func (f *fullAPI) project(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		f.seen[id] = true
	}
	for id := range f.seen {
		events, err := f.events.Events(context.Background(), id, 1, 0)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := f.apply(context.Background(), events); err != nil {
			f.t.Fatalf("project %s: %v", id, err)
		}
	}
}

func (f *fullAPI) record(user, id, body string) string {
	f.t.Helper()
	r := f.do(user, "POST", "/portfolios/"+id+"/transactions", body)
	f.expect(r, 201, "")
	return r.data()["transactionId"].(string)
}

func TestQueriesShowTheProjectedState(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "q-1")
	p := "/portfolios/" + id
	// FIFO: buy 10 @ 100 + 1 fee, buy 10 @ 120 + 1 fee, sell 15 @ 130 − 2 fee.
	f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100","fee":"1"}`)
	f.record(alice, id, `{"type":"BUY","date":"2024-01-03","symbol":"AAPL","quantity":"10","price":"120","fee":"1"}`)
	f.record(alice, id, `{"type":"SELL","date":"2024-01-04","symbol":"AAPL","quantity":"15","price":"130","fee":"2"}`)
	f.record(alice, id, `{"type":"DIVIDEND","date":"2024-01-05","symbol":"AAPL","amount":"2.5","tax":"0.5"}`)
	f.expect(f.do(alice, "PUT", p+"/targets", `{"targets":[{"symbol":"AAPL","weight":"1"}],"driftBand":"0.1"}`), 200, "")
	f.project(id)

	pos := f.do(alice, "GET", p+"/positions", "")
	f.expect(pos, 200, "")
	positions := pos.body["positions"].([]any)
	aapl := positions[0].(map[string]any)
	// Lots: 10 @ (1000+1)/10 and 10 @ (1200+1)/10. Selling 15 takes the first lot
	// (1001) and half the second (600.5): cost 1601.5; proceeds 15×130 − 2 = 1948;
	// realized 1948 − 1601.5 = 346.5. Left: 5 shares costing 600.5.
	if aapl["quantity"] != "5" || aapl["costBasis"] != "600.5" || aapl["realizedPnL"] != "346.5" || aapl["dividends"] != "2.5" {
		t.Fatalf("AAPL position %v", aapl)
	}
	if pos.body["asOfVersion"] != float64(6) {
		t.Fatalf("asOfVersion %v, want 6", pos.body["asOfVersion"])
	}
	totals := pos.body["totals"].(map[string]any)
	// Cash: −1001 −1201 +1948 + (2.5 − 0.5 withheld) = −252.
	if totals["cash"] != "-252" || totals["taxes"] != "0.5" {
		t.Fatalf("totals %v", totals)
	}

	got := f.do(alice, "GET", p, "")
	f.expect(got, 200, "")
	if got.body["name"] != "Main" || got.body["version"] != float64(6) {
		t.Fatalf("portfolio %s", got.raw)
	}
	list := f.do(alice, "GET", "/portfolios", "")
	if items := list.body["items"].([]any); len(items) != 1 {
		t.Fatalf("list %s", list.raw)
	}
	tg := f.do(alice, "GET", p+"/targets", "")
	if tg.body["driftBand"] != "0.1" || len(tg.body["targets"].([]any)) != 1 {
		t.Fatalf("targets %s", tg.raw)
	}

	// Paging, newest first, two at a time, then filters.
	page1 := f.do(alice, "GET", p+"/transactions?limit=2", "")
	f.expect(page1, 200, "")
	if items := page1.body["items"].([]any); len(items) != 2 || items[0].(map[string]any)["type"] != "DIVIDEND" {
		t.Fatalf("page 1 %s", page1.raw)
	}
	page2 := f.do(alice, "GET", p+"/transactions?limit=2&cursor="+url.QueryEscape(page1.body["nextCursor"].(string)), "")
	if items := page2.body["items"].([]any); len(items) != 2 || page2.body["nextCursor"] != nil {
		t.Fatalf("page 2 %s", page2.raw)
	}
	sells := f.do(alice, "GET", p+"/transactions?type=sell&from=2024-01-01&to=2024-01-31", "")
	if items := sells.body["items"].([]any); len(items) != 1 {
		t.Fatalf("sells %s", sells.raw)
	}
	f.expect(f.do(alice, "GET", p+"/transactions?cursor=bm9wZQ", ""), 400, "bad_request")
	f.expect(f.do(alice, "GET", p+"/transactions?from=yesterday", ""), 400, "bad_request")
	f.expect(f.do(alice, "GET", p+"/transactions?type=GIFT", ""), 400, "bad_request")
	f.expect(f.do(alice, "GET", p+"/transactions?limit=501", ""), 400, "bad_request")
}

// TestUnknownSymbolIsAcceptedButFlagged: a trade on a symbol the provider does
// not know is recorded like any other; once flagged, its position carries the
// unknown_symbol warning and no price, and the others carry no warnings key.
func TestUnknownSymbolIsAcceptedButFlagged(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "u-1")
	f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"ZZQX","quantity":"3","price":"10"}`)
	f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"100"}`)
	f.project(id)
	if err := f.flags.FlagUnknown(t.Context(), "ZZQX", "finnhub", "no quote for symbol (all fields zero)"); err != nil {
		t.Fatal(err)
	}
	pos := f.do(alice, "GET", "/portfolios/"+id+"/positions", "")
	f.expect(pos, 200, "")
	var body struct {
		Positions []struct {
			Symbol      string                    `json:"symbol"`
			MarketPrice *string                   `json:"marketPrice"`
			Warnings    []httpapi.WarningResponse `json:"warnings"`
		} `json:"positions"`
		Totals struct {
			Unpriced []string `json:"unpriced"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(pos.raw), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Positions) != 2 || body.Positions[0].Symbol != "AAPL" || body.Positions[1].Symbol != "ZZQX" {
		t.Fatalf("positions %s", pos.raw)
	}
	if strings.Count(pos.raw, `"warnings"`) != 1 {
		t.Errorf("a warnings key on a position without warnings: %s", pos.raw)
	}
	z := body.Positions[1]
	if len(z.Warnings) != 1 || z.Warnings[0].Code != "unknown_symbol" || !strings.Contains(z.Warnings[0].Message, "finnhub") || z.MarketPrice != nil ||
		!slices.Contains(body.Totals.Unpriced, "ZZQX") {
		t.Errorf("ZZQX %+v, totals %+v: want the unknown_symbol warning and no price", z, body.Totals)
	}
}

// TestImportedTransactionsReachTheReadModels: an import is one event; the
// projector records each of its transactions and recomputes positions.
func TestImportedTransactionsReachTheReadModels(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "imp-rm")
	body := `{"activities":[
  {"date":"2024-01-02","type":"BUY","symbol":"MSFT","quantity":10,"unitPrice":370,"fee":1,"currency":"USD"},
  {"date":"2024-01-05","type":"SELL","symbol":"MSFT","quantity":4,"unitPrice":380,"fee":1,"currency":"USD"},
  {"date":"2024-01-08","type":"BUY","symbol":"AAPL","quantity":2,"unitPrice":180,"fee":0,"currency":"USD"}
]}`
	f.expect(f.do(alice, "POST", "/portfolios/"+id+"/import", body), 201, "")
	f.project(id)
	pos := f.do(alice, "GET", "/portfolios/"+id+"/positions", "")
	f.expect(pos, 200, "")
	got := map[string]string{}
	for _, p := range pos.body["positions"].([]any) {
		m := p.(map[string]any)
		got[m["symbol"].(string)] = m["quantity"].(string) + " " + m["costBasis"].(string)
	}
	// MSFT: 10 @ 370 + 1 = 3701; selling 4 takes 4/10 of it (1480.4): 6 left at 2220.6.
	if got["MSFT"] != "6 2220.6" || got["AAPL"] != "2 360" {
		t.Fatalf("positions %v", got)
	}
	txs := f.do(alice, "GET", "/portfolios/"+id+"/transactions", "")
	if items := txs.body["items"].([]any); len(items) != 3 {
		t.Fatalf("transactions %s", txs.raw)
	}
}

// TestTenantIsolation: with users A and B, every route shows B nothing of A's,
// and B's commands on A's portfolio get 404. (The query stores' contract suite
// checks the same of the stores, on PostgreSQL through the API's login; Row
// Level Security on every read-model table is tested in shared/adapters/readmodel.)
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	a := f.createPortfolio(alice, "iso-a")
	b := f.createPortfolio(bob, "iso-b")
	tx := f.record(alice, a, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100"}`)
	f.record(bob, b, `{"type":"BUY","date":"2024-01-02","symbol":"MSFT","quantity":"1","price":"300"}`)
	f.expect(f.do(alice, "PUT", "/portfolios/"+a+"/targets", `{"targets":[{"symbol":"AAPL","weight":"1"}],"driftBand":"0.1"}`), 200, "")
	f.project(a, b)

	list := f.do(bob, "GET", "/portfolios", "")
	items := list.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != b {
		t.Fatalf("bob lists %s", list.raw)
	}
	pa := "/portfolios/" + a
	for _, c := range []struct{ method, path, body string }{
		{"GET", pa, ""},
		{"GET", pa + "/positions", ""},
		{"GET", pa + "/transactions", ""},
		{"GET", pa + "/targets", ""},
		{"GET", pa + "/events", ""},
		{"PATCH", pa, `{"name":"mine"}`},
		{"POST", pa + "/archive", `{}`},
		{"POST", pa + "/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}`},
		{"POST", pa + "/transactions/" + tx + "/void", `{"reason":"x"}`},
		{"PUT", pa + "/targets", `{"targets":[{"symbol":"A","weight":"1"}],"driftBand":"0.1"}`},
		{"POST", pa + "/import", `{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}]}`},
	} {
		r := f.do(bob, c.method, c.path, c.body)
		f.expect(r, 404, "not_found")
		if strings.Contains(r.raw, "AAPL") || strings.Contains(r.raw, tx) {
			t.Fatalf("%s %s leaks alice's data: %s", c.method, c.path, r.raw)
		}
	}
	// Nothing bob tried changed alice's portfolio.
	f.project(a)
	if r := f.do(alice, "GET", pa, ""); r.body["name"] != "Main" || r.body["version"] != float64(3) {
		t.Fatalf("alice's portfolio after bob: %s", r.raw)
	}
	// A malformed user ID (not a UUID) is a stranger too, not an error.
	f.expect(f.do("not-a-uuid", "GET", pa+"/positions", ""), 404, "not_found")
}
