package dynamoprices_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func table(t *testing.T, db *dynamodb.Client, logical string) string {
	t.Helper()
	tb, ok := topology.TableByName(logical)
	if !ok {
		t.Fatalf("no table %s", logical)
	}
	name := testenv.UniqueName(t, logical)
	if err := dynamo.CreateTable(t.Context(), db, tb, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestCounterExactUnderConcurrency: 40 concurrent increments against a limit of 7
// on DynamoDB Local; exactly 7 succeed, and the item carries count and expiresAt.
func TestCounterExactUnderConcurrency(t *testing.T) {
	db := testenv.DynamoDB(t)
	c := dynamoprices.NewCounter(db, table(t, db, topology.RateLimitsTable))
	// A window in the future: the table has a TTL on expiresAt, and DynamoDB Local
	// deletes expired counters while the test runs (a past date made the third
	// call below pass now and then).
	now := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute).Add(30 * time.Second)
	key, end := marketdata.RateLimitKey(marketdata.SourceFinnhub, time.Minute, now)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			allowed, err := c.Increment(t.Context(), key, 7, end)
			if err != nil {
				t.Error(err)
			}
			if allowed {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 7 {
		t.Fatalf("%d calls allowed, want 7", ok.Load())
	}
	// Another window has its own count; through WindowLimiter too.
	lim := marketdata.NewWindowLimiter(c, map[string][]marketdata.Limit{"p": {{Max: 2, Window: time.Minute}}})
	for i, want := range []bool{true, true, false} {
		allowed, retry, err := lim.Allow(t.Context(), "p", now)
		if err != nil || allowed != want || (!allowed && retry != 30*time.Second) {
			t.Fatalf("call %d: allowed %v retry %s err %v", i, allowed, retry, err)
		}
	}
	if allowed, _, _ := lim.Allow(t.Context(), "p", now.Add(time.Minute)); !allowed {
		t.Fatal("the next minute is refused")
	}
	if allowed, err := c.Increment(t.Context(), "zero", 0, end); allowed || err != nil {
		t.Fatal("a zero limit allowed a call")
	}
}

func TestCounterStoreErrorFailsClosed(t *testing.T) {
	db := testenv.DynamoDB(t)
	c := dynamoprices.NewCounter(db, testenv.UniqueName(t, "missing"))
	if allowed, err := c.Increment(t.Context(), "k", 5, time.Now()); allowed || err == nil {
		t.Fatalf("missing table: allowed %v err %v", allowed, err)
	}
}

func TestLatestNewerWins(t *testing.T) {
	db := testenv.DynamoDB(t)
	l := dynamoprices.NewLatest(db, table(t, db, topology.PricesTable))
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	q := func(p string, at time.Time) marketdata.Quote {
		return marketdata.Quote{Symbol: "AAPL", Price: decimal.RequireFromString(p), Volume: decimal.NewFromInt(1), Timestamp: at, Source: "simulated", Exchange: "XNAS",
			Currency: "USD"}
	}
	steps := []struct {
		q      marketdata.Quote
		stored bool
	}{
		{q("100.00", t0), true},
		{q("101.00", t0.Add(time.Second)), true},
		{q("99.00", t0.Add(500*time.Millisecond)), false}, // late
		{q("101.50", t0.Add(time.Second)), false},         // duplicate timestamp
		{q("102.00", t0.Add(2*time.Second)), true},
	}
	for i, s := range steps {
		stored, err := l.Put(t.Context(), s.q, "e")
		if err != nil || stored != s.stored {
			t.Fatalf("step %d: stored %v err %v", i, stored, err)
		}
	}
	got, ok, err := l.Get(t.Context(), "AAPL")
	if err != nil || !ok || got.Price.String() != "102" || !got.Timestamp.Equal(t0.Add(2*time.Second)) || got.Exchange != "XNAS" ||
		got.Currency != "USD" {
		t.Fatalf("got %+v %v %v", got, ok, err)
	}
	if _, ok, err := l.Get(t.Context(), "NONE"); ok || err != nil {
		t.Fatal("absent symbol found")
	}
}

// An item DynamoDB refuses (here an empty key, which Quote.Validate would have
// refused first) fails with pricing.ErrRefused, for the consumer to set aside
// rather than retry; a store that cannot be reached does not.
func TestLatestRefusedItem(t *testing.T) {
	db := testenv.DynamoDB(t)
	l := dynamoprices.NewLatest(db, table(t, db, topology.PricesTable))
	q := marketdata.Quote{Symbol: "", Price: decimal.RequireFromString("1"), Timestamp: time.Now().UTC(), Source: "simulated"}
	if _, err := l.Put(t.Context(), q, "e1"); !errors.Is(err, pricing.ErrRefused) {
		t.Fatalf("empty key: %v, want ErrRefused", err)
	}
	q.Symbol = "AAPL"
	if _, err := dynamoprices.NewLatest(db, "no-such-table").Put(t.Context(), q, "e1"); err == nil || errors.Is(err, pricing.ErrRefused) {
		t.Fatalf("missing table: %v, want another error", err)
	}
}

// unprocessing passes BatchGetItem through to DynamoDB Local but, on its first
// calls, asks for only part of the keys and returns the rest as unprocessed, as
// DynamoDB does when it throttles or reaches its answer limit.
type unprocessing struct {
	*dynamodb.Client
	calls, withheld atomic.Int32
}

func (u *unprocessing) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if u.calls.Add(1) > 3 {
		return u.Client.BatchGetItem(ctx, in, opts...)
	}
	asked, left := map[string]types.KeysAndAttributes{}, map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		n := len(ka.Keys) / 2
		asked[table] = types.KeysAndAttributes{Keys: ka.Keys[:n]}
		left[table] = types.KeysAndAttributes{Keys: ka.Keys[n:]}
		u.withheld.Add(int32(len(ka.Keys) - n))
	}
	out, err := u.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: asked}, opts...)
	if err != nil {
		return nil, err
	}
	out.UnprocessedKeys = left
	return out, nil
}

// TestLatestGetMany: 250 stored quotes and 10 absent symbols asked at once (three
// requests of at most 100 keys), half of each of the first requests' keys left
// unprocessed: every stored quote comes back as Get reads it, the absent ones
// not at all.
func TestLatestGetMany(t *testing.T) {
	db := testenv.DynamoDB(t)
	name := table(t, db, topology.PricesTable)
	l := dynamoprices.NewLatest(db, name)
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var symbols []string
	for i := range 250 {
		sym := fmt.Sprintf("S%03d", i)
		symbols = append(symbols, sym)
		q := marketdata.Quote{Symbol: sym, Price: decimal.NewFromInt(int64(i + 1)), Volume: decimal.NewFromInt(3), Timestamp: t0.Add(time.Duration(i) * time.Second),
			Source: "finnhub", PreviousClose: decimal.RequireFromString("1.5")}
		if _, err := l.Put(t.Context(), q, "e"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		symbols = append(symbols, fmt.Sprintf("ABSENT%d", i))
	}
	api := &unprocessing{Client: db}
	got, err := dynamoprices.NewLatest(api, name).GetMany(t.Context(), append(symbols, "S000")) // a symbol twice
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 || api.withheld.Load() == 0 || api.calls.Load() < 4 {
		t.Fatalf("%d quotes, %d keys withheld in %d calls", len(got), api.withheld.Load(), api.calls.Load())
	}
	for _, sym := range []string{"S000", "S099", "S100", "S249"} {
		want, _, _ := l.Get(t.Context(), sym)
		if q := got[sym]; q.Symbol != sym || !q.Price.Equal(want.Price) || !q.Timestamp.Equal(want.Timestamp) || q.Source != "finnhub" ||
			!q.PreviousClose.Equal(want.PreviousClose) || !q.Volume.Equal(want.Volume) {
			t.Errorf("%s: %+v, Get says %+v", sym, q, want)
		}
	}
	if none, err := l.GetMany(t.Context(), nil); err != nil || len(none) != 0 {
		t.Fatalf("no symbols: %v %v", none, err)
	}
}
