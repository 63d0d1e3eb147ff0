package command_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/shopspring/decimal"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const snapshotEvery = 4

// stores runs fn against the in-memory store and against DynamoDB Local.
func stores(t *testing.T, fn func(t *testing.T, store eventstore.Store)) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); fn(t, eventstore.NewMemory()) })
	t.Run("dynamodb", func(t *testing.T) {
		t.Parallel()
		client := testenv.DynamoDB(t)
		name := testenv.UniqueName(t, "events")
		table, _ := topology.TableByName(topology.EventsTable)
		if err := dynamo.CreateTable(context.Background(), client, table, name); err != nil {
			t.Fatal(err)
		}
		fn(t, dynamostore.New(client, name, dynamostore.Options{SnapshotEvery: snapshotEvery}))
	})
}

func newService(store eventstore.Store) *command.Service {
	return command.New(store, command.Options{SnapshotEvery: snapshotEvery, MaxAttempts: 60, BaseBackoff: time.Millisecond})
}

func buy(date string, symbol, qty string) portfolio.Transaction {
	d, _ := calendar.Parse(date)
	return portfolio.Transaction{Type: portfolio.Buy, Date: d, Symbol: symbol, Quantity: decimal.RequireFromString(qty), Price: decimal.NewFromInt(100), Currency: "USD"}
}

func sell(date string, symbol, qty string) portfolio.Transaction {
	tx := buy(date, symbol, qty)
	tx.Type = portfolio.Sell
	return tx
}

func record(tx portfolio.Transaction) command.Decide {
	return func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		_, err := p.RecordTransaction(tx, meta)
		return err
	}
}

func create(t *testing.T, svc *command.Service, user, key string) string {
	t.Helper()
	res, err := svc.Create(context.Background(), command.Request{UserID: user, CommandID: key}, portfolio.CreatePortfolio{Name: "Main", BaseCurrency: "USD"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return res.AggregateID
}

func history(t *testing.T, store eventstore.Store, id string) []portfolio.Event {
	t.Helper()
	ev, err := store.Events(context.Background(), id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestCommandWritesAndReturnsItsEvents(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-1")
		res, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice", CommandID: "buy-1", CorrelationID: "req-1"}, record(buy("2024-01-02", "AAPL", "10")))
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != 2 || len(res.Events) != 1 || res.Replayed || res.Events[0].CausationID != "buy-1" || res.Events[0].CorrelationID != "req-1" {
			t.Fatalf("result %+v", res)
		}
		if got := history(t, store, id); len(got) != 2 {
			t.Fatalf("stored %d events, want 2", len(got))
		}
	})
}

func TestRetriedCommandReturnsTheOriginalAndWritesNothing(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-2")
		req := command.Request{AggregateID: id, UserID: "alice", CommandID: "buy-once"}
		first, err := svc.Execute(ctx, req, record(buy("2024-01-02", "AAPL", "10")))
		if err != nil {
			t.Fatal(err)
		}
		// Later commands move the aggregate on; the retry still finds its result.
		for i := 0; i < 3; i++ {
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(buy("2024-01-03", "MSFT", "1"))); err != nil {
				t.Fatal(err)
			}
		}
		again, err := svc.Execute(ctx, req, record(buy("2024-01-02", "AAPL", "10")))
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Version != first.Version || again.Events[0].EventID != first.Events[0].EventID {
			t.Fatalf("retry = %+v, want replay of %+v", again, first)
		}
		if got := len(history(t, store, id)); got != 5 {
			t.Fatalf("%d events stored, want 5", got)
		}
		// The same key from another user is not a replay of alice's command.
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "mallory", CommandID: "buy-once"}, record(buy("2024-01-02", "AAPL", "10"))); !errors.Is(err, portfolio.ErrNotFound) {
			t.Fatalf("mallory: err = %v, want ErrNotFound", err)
		}
	})
}

func TestTenParallelRetriesWriteOnce(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		// Create, 10 times in parallel with one key: one portfolio, one event.
		results := parallel(10, func(int) (command.Result, error) {
			return svc.Create(ctx, command.Request{UserID: "alice", CommandID: "create-par"}, portfolio.CreatePortfolio{Name: "P", BaseCurrency: "USD"})
		})
		id := results[0].AggregateID
		for _, r := range results {
			if r.AggregateID != id || r.Version != 1 {
				t.Fatalf("parallel creates disagree: %+v", r)
			}
		}
		// Record a trade, 10 times in parallel with one key: one event.
		results = parallel(10, func(int) (command.Result, error) {
			return svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice", CommandID: "buy-par"}, record(buy("2024-01-02", "AAPL", "10")))
		})
		written := 0
		for _, r := range results {
			if !r.Replayed {
				written++
			}
			if r.Version != 2 || r.Events[0].EventID != results[0].Events[0].EventID {
				t.Fatalf("parallel retries disagree: %+v vs %+v", r, results[0])
			}
		}
		if written != 1 {
			t.Fatalf("%d executions wrote, want 1", written)
		}
		if got := history(t, store, id); len(got) != 2 {
			t.Fatalf("%d events stored, want 2 (create + one buy)", len(got))
		}
	})
}

func parallel(n int, fn func(i int) (command.Result, error)) []command.Result {
	out := make([]command.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i], errs[i] = fn(i)
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			panic(fmt.Sprintf("parallel call %d: %v", i, err))
		}
	}
	return out
}

func TestContendedDistinctCommandsAllLandOnce(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-3")
		const n = 20
		parallel(n, func(i int) (command.Result, error) {
			return svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice", CommandID: fmt.Sprintf("buy-%d", i)}, record(buy("2024-01-02", "AAPL", "1")))
		})
		events := history(t, store, id)
		if len(events) != n+1 {
			t.Fatalf("%d events, want %d", len(events), n+1)
		}
		seen := map[string]bool{}
		for _, e := range events[1:] {
			if seen[e.CausationID] {
				t.Fatalf("command %s written twice", e.CausationID)
			}
			seen[e.CausationID] = true
		}
		p, err := svc.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := p.Quantity("AAPL"); !q.Equal(decimal.NewFromInt(n)) {
			t.Fatalf("quantity %s, want %d", q, n)
		}
	})
}

func TestBackDatedTradeAfterSnapshotReloadsHistory(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-4")
		do := func(tx portfolio.Transaction) error {
			_, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(tx))
			return err
		}
		for _, tx := range []portfolio.Transaction{buy("2024-01-02", "AAPL", "10"), buy("2024-03-01", "AAPL", "5"), sell("2024-04-01", "AAPL", "12"), buy("2024-05-01", "MSFT", "1"), buy("2024-05-02", "MSFT", "1")} {
			if err := do(tx); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := store.Load(ctx, id, eventstore.LoadOptions{Consistent: true})
		if st.SnapshotVersion != 4 {
			t.Fatalf("snapshot at %d, want 4 (every %d)", st.SnapshotVersion, snapshotEvery)
		}
		// Back-dated to Feb: 10 held then, but April's sell of 12 needs March's 5 —
		// selling 4 in Feb leaves 10−4+5−12 = −1: refused, via the full history.
		if err := do(sell("2024-02-01", "AAPL", "4")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
			t.Fatalf("back-dated oversell: err = %v", err)
		}
		if err := do(sell("2024-02-01", "AAPL", "3")); err != nil {
			t.Fatalf("back-dated sell that fits: %v", err)
		}
		p, err := svc.LoadFull(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := p.Quantity("AAPL"); !q.Equal(decimal.Zero) {
			t.Fatalf("AAPL %s, want 0", q)
		}
	})
}

func TestIfMatchChecksTheVersion(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		id := create(t, svc, "alice", "create-5")
		stale := int64(0)
		_, err := svc.Execute(context.Background(), command.Request{AggregateID: id, UserID: "alice", ExpectedVersion: &stale}, record(buy("2024-01-02", "AAPL", "1")))
		if !errors.Is(err, portfolio.ErrConcurrencyConflict) {
			t.Fatalf("err = %v, want conflict", err)
		}
		current := int64(1)
		if _, err := svc.Execute(context.Background(), command.Request{AggregateID: id, UserID: "alice", ExpectedVersion: &current}, record(buy("2024-01-02", "AAPL", "1"))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDomainRefusalsPassThroughAndWriteNothing(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		if _, err := svc.Execute(ctx, command.Request{AggregateID: "nope", UserID: "alice"}, record(buy("2024-01-02", "AAPL", "1"))); !errors.Is(err, portfolio.ErrNotFound) {
			t.Fatalf("missing portfolio: %v", err)
		}
		id := create(t, svc, "alice", "create-6")
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "bob"}, record(buy("2024-01-02", "AAPL", "1"))); !errors.Is(err, portfolio.ErrNotFound) {
			t.Fatalf("bob on alice's portfolio: %v", err)
		}
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(sell("2024-01-02", "AAPL", "1"))); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
			t.Fatalf("oversell: %v", err)
		}
		if got := len(history(t, store, id)); got != 1 {
			t.Fatalf("%d events after refusals, want 1", got)
		}
	})
}

// Ownership is decided before anything else: a foreign or unknown portfolio is
// the same ErrNotFound whatever the request says, and its version never shows.
func TestOwnershipIsDecidedFirst(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-own")
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice", CommandID: "k1"}, record(buy("2024-01-02", "AAPL", "1"))); err != nil {
			t.Fatal(err)
		}
		wrong := int64(999)
		for name, req := range map[string]command.Request{
			"If-Match":       {AggregateID: id, UserID: "bob", ExpectedVersion: &wrong},
			"reused key":     {AggregateID: id, UserID: "bob", CommandID: "k1"},
			"unknown+match":  {AggregateID: "no-such-portfolio", UserID: "bob", ExpectedVersion: &wrong},
			"refused decide": {AggregateID: id, UserID: "bob"},
		} {
			_, err := svc.Execute(ctx, req, func(*portfolio.Portfolio, portfolio.Meta) error {
				return fmt.Errorf("%w: decided for a stranger", portfolio.ErrInvalidTransaction)
			})
			if !errors.Is(err, portfolio.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
			if err != nil && strings.Contains(err.Error(), "version") {
				t.Errorf("%s: %q names a version", name, err)
			}
		}
	})
}

// A command ID replays its first result only for the same request: another
// request under it is refused, and nothing is written.
func TestReusedCommandIDWithAnotherRequestIsRefused(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-fp")
		first := command.Request{AggregateID: id, UserID: "alice", CommandID: "key", Fingerprint: command.RequestFingerprint([]byte("buy 1"))}
		if _, err := svc.Execute(ctx, first, record(buy("2024-01-02", "AAPL", "1"))); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Execute(ctx, first, record(buy("2024-01-02", "AAPL", "1")))
		if err != nil || !res.Replayed {
			t.Fatalf("same request again: replayed=%v, %v", res.Replayed, err)
		}
		other := first
		other.Fingerprint = command.RequestFingerprint([]byte("buy 500"))
		if _, err := svc.Execute(ctx, other, record(buy("2024-01-02", "AAPL", "500"))); !errors.Is(err, command.ErrCommandIDReused) {
			t.Fatalf("another request under the key: err = %v, want ErrCommandIDReused", err)
		}
		if got := len(history(t, store, id)); got != 2 {
			t.Fatalf("%d events, want 2", got)
		}
		// Across a snapshot too (the fingerprint rides in the snapshot's records).
		for i := range snapshotEvery {
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(buy("2024-01-03", "MSFT", fmt.Sprint(i+1)))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Execute(ctx, other, record(buy("2024-01-02", "AAPL", "500"))); !errors.Is(err, command.ErrCommandIDReused) {
			t.Fatalf("after a snapshot: err = %v, want ErrCommandIDReused", err)
		}
	})
}

// A snapshot that cannot be read costs a full-history fold, never the command.
func TestUnreadableSnapshotFallsBackToTheHistory(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-snap")
		for i := range snapshotEvery + 1 {
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(buy("2024-01-02", "AAPL", fmt.Sprint(i+1)))); err != nil {
				t.Fatal(err)
			}
		}
		tamperer, ok := store.(interface {
			Tamper(ctx context.Context, aggregateID string, version int64, attr string, value *string) error
		})
		if !ok {
			t.Skip("store has no back door")
		}
		for _, garbage := range []string{"\x00not deflate", "{\"v\":99}"} {
			if err := tamperer.Tamper(ctx, id, snapshotEvery, eventstore.AttrSnapshot, &garbage); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(sell("2024-01-03", "AAPL", "1"))); err != nil {
				t.Fatalf("command over snapshot %q: %v", garbage, err)
			}
		}
		p, err := svc.LoadFull(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := p.Quantity("AAPL"); !q.Equal(decimal.NewFromInt(13)) { // 1+…+5 bought, 2 sold
			t.Fatalf("AAPL %s, want 13", q)
		}
	})
}

// erasures plays the user service's tombstone: erased users, and a look-up
// that fails (PostgreSQL down).
type erasures struct {
	mu     sync.Mutex
	erased map[string]bool
	down   bool
}

func (e *erasures) AccountErased(_ context.Context, userID string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return false, errors.New("connection refused")
	}
	return e.erased[userID], nil
}

// A command of a user whose erasure began appends nothing (a request in flight
// when DELETE /me ran): ErrAccountErased, after the decision. A tombstone that
// cannot be read lets the command through: the command path needs only the
// event store.
func TestCommandsOfAnErasedAccountAreRefused(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		accounts := &erasures{erased: map[string]bool{}}
		svc := command.New(store, command.Options{SnapshotEvery: snapshotEvery, Accounts: accounts})
		id := create(t, svc, "alice", "c1")
		accounts.erased["alice"] = true
		if _, err := svc.Execute(context.Background(), command.Request{AggregateID: id, UserID: "alice"}, record(buy("2024-01-02", "AAPL", "1"))); !errors.Is(err, command.ErrAccountErased) {
			t.Fatalf("a command after the tombstone: %v", err)
		}
		if _, err := svc.Create(context.Background(), command.Request{UserID: "alice", CommandID: "c2"}, portfolio.CreatePortfolio{Name: "Again", BaseCurrency: "USD"}); !errors.Is(err, command.ErrAccountErased) {
			t.Fatalf("a creation after the tombstone: %v", err)
		}
		if n := len(history(t, store, id)); n != 1 {
			t.Fatalf("%d events, want the creation only", n)
		}
		accounts.erased["alice"], accounts.down = false, true
		if _, err := svc.Execute(context.Background(), command.Request{AggregateID: id, UserID: "alice"}, record(buy("2024-01-02", "AAPL", "1"))); err != nil {
			t.Fatalf("a command while the tombstone cannot be read: %v", err)
		}
	})
}
