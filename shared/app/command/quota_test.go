package command_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// quotaService is a service on fresh events and quotas tables in DynamoDB Local,
// as the api function wires it.
func quotaService(t *testing.T) (*command.Service, *dynamoquota.Store, *dynamostore.Store) {
	t.Helper()
	client := testenv.DynamoDB(t)
	names := map[string]string{}
	for _, tb := range []string{topology.EventsTable, topology.QuotasTable} {
		decl, _ := topology.TableByName(tb)
		names[tb] = testenv.UniqueName(t, tb)
		if err := dynamo.CreateTable(context.Background(), client, decl, names[tb]); err != nil {
			t.Fatal(err)
		}
	}
	events := dynamostore.New(client, names[topology.EventsTable], dynamostore.Options{SnapshotEvery: snapshotEvery})
	quotas := dynamoquota.New(client, names[topology.QuotasTable])
	return command.New(events, command.Options{SnapshotEvery: snapshotEvery, MaxAttempts: 60, BaseBackoff: time.Millisecond, Quotas: quotas}), quotas, events
}

func refusedBy(err error, q quota.Quota) bool {
	var qe *quota.ExceededError
	return errors.As(err, &qe) && qe.Quota.Name == q.Name
}

// TestPortfoliosPerUserHoldsUnderABurst: one user's creates, all at once and 10
// more than the quota allows, open exactly the quota's portfolios; a retried
// create is a replay even at the limit, and another user is not affected.
func TestPortfoliosPerUserHoldsUnderABurst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, quotas, _ := quotaService(t)
	limit := quota.PortfoliosPerUser.Limit
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, refused int
		other            []error
	)
	for i := range limit + 10 {
		wg.Go(func() {
			_, err := svc.Create(ctx, command.Request{UserID: "alice", CommandID: fmt.Sprint("create-", i)}, portfolio.CreatePortfolio{Name: "P", BaseCurrency: "USD"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case refusedBy(err, quota.PortfoliosPerUser):
				refused++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if created != limit || refused != 10 || len(other) > 0 {
		t.Fatalf("%d created, %d refused, errors %v; want %d and 10", created, refused, other, limit)
	}
	if n, err := quotas.Count(ctx, quota.PortfoliosPerUser, "alice"); err != nil || n != limit {
		t.Fatalf("alice's portfolios counted %d (%v), want %d", n, err, limit)
	}
	// A key whose create won (Load finds no error for a portfolio that was never
	// created, only no events: its version is 0).
	var replayKey string
	for i := range limit + 10 {
		if p, err := svc.Load(ctx, command.PortfolioIDFor("alice", fmt.Sprint("create-", i))); err == nil && p.Version() > 0 {
			replayKey = fmt.Sprint("create-", i)
			break
		}
	}
	if replayKey == "" {
		t.Fatal("no created portfolio found to retry")
	}
	res, err := svc.Create(ctx, command.Request{UserID: "alice", CommandID: replayKey}, portfolio.CreatePortfolio{Name: "P", BaseCurrency: "USD"})
	if err != nil || !res.Replayed {
		t.Fatalf("a retried create at the limit: %+v, %v; want a replay", res, err)
	}
	if _, err := svc.Create(ctx, command.Request{UserID: "bob", CommandID: "create-0"}, portfolio.CreatePortfolio{Name: "P", BaseCurrency: "USD"}); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

// TestSymbolsPerUserCountsAcrossPortfoliosAndImports: a user one symbol short of
// the quota may trade that one more symbol in any portfolio and keep trading the
// counted ones; a new symbol, alone or in an import, is refused and nothing is
// written.
func TestSymbolsPerUserCountsAcrossPortfoliosAndImports(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, quotas, events := quotaService(t)
	limit := quota.SymbolsPerUser.Limit
	seeded := make([]string, limit-2)
	for i := range seeded {
		seeded[i] = fmt.Sprintf("S%04d", i)
	}
	if err := quotas.Reserve(ctx, quota.SymbolsPerUser, "alice", seeded); err != nil {
		t.Fatal(err)
	}
	p1, p2 := create(t, svc, "alice", "c1"), create(t, svc, "alice", "c2")
	do := func(id string, decide command.Decide) error {
		_, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, decide)
		return err
	}
	importing := func(txs ...portfolio.Transaction) command.Decide {
		return func(p *portfolio.Portfolio, meta portfolio.Meta) error {
			_, err := p.ImportTransactions(txs, meta)
			return err
		}
	}
	for _, step := range []struct {
		name    string
		id      string
		decide  command.Decide
		refused bool
	}{
		{"a counted symbol", p1, record(buy("2024-01-02", "S0001", "1")), false},
		{"a new symbol", p1, record(buy("2024-01-02", "NEW1", "1")), false},
		{"the same symbol in another portfolio", p2, record(buy("2024-01-02", "NEW1", "1")), false},
		{"an import of one new and counted ones", p2, importing(buy("2024-01-02", "S0002", "1"), buy("2024-01-02", "NEW2", "1")), false},
		{"a symbol past the quota", p1, record(buy("2024-01-03", "NEW3", "1")), true},
		{"an import with one symbol past the quota", p2, importing(buy("2024-01-03", "S0003", "1"), buy("2024-01-03", "NEW3", "1")), true},
		{"a counted symbol at the limit", p2, record(sell("2024-01-04", "NEW1", "1")), false},
	} {
		before := len(history(t, events, step.id))
		err := do(step.id, step.decide)
		switch {
		case step.refused && !refusedBy(err, quota.SymbolsPerUser):
			t.Fatalf("%s: %v, want the symbols quota", step.name, err)
		case step.refused && len(history(t, events, step.id)) != before:
			t.Fatalf("%s: refused, but events were written", step.name)
		case !step.refused && err != nil:
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	if n, err := quotas.Count(ctx, quota.SymbolsPerUser, "alice"); err != nil || n != limit {
		t.Fatalf("alice's symbols counted %d (%v), want %d", n, err, limit)
	}
}
