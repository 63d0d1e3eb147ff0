package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// expectQuota checks a quota refusal: the status the quota declares, code
// quota_exceeded, and details naming the quota and its limit.
func (a *api) expectQuota(r response, q quota.Quota) {
	a.t.Helper()
	a.expect(r, q.Status, "quota_exceeded")
	details, _ := r.body["error"].(map[string]any)["details"].(map[string]any)
	if details["quota"] != q.Name || details["limit"] != float64(q.Limit) || details["scope"] != string(q.Scope) {
		a.t.Fatalf("details of the %s refusal: %s", q.Name, r.raw)
	}
}

// TestTransactionsPerPortfolioQuotaAnswers422: a portfolio one transaction short
// of the quota (its events decided by the real aggregate, in the in-memory store)
// takes one more, then refuses records and imports with 422.
func TestTransactionsPerPortfolioQuotaAnswers422(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := eventstore.NewMemory()
	meta := func(i int) portfolio.Meta {
		return portfolio.Meta{UserID: alice, CausationID: fmt.Sprint("seed-", i), Now: time.Now()}
	}
	p, err := portfolio.Create("pf-full", portfolio.CreatePortfolio{Name: "Full", BaseCurrency: "USD"}, meta(0))
	if err != nil {
		t.Fatal(err)
	}
	deposit := portfolio.Transaction{Type: portfolio.Deposit, Date: calendar.MustNew(2024, time.January, 2), Amount: decimal.NewFromInt(1), Currency: "USD"}
	for left := quota.TransactionsPerPortfolio.Limit - 1; left > 0; {
		rows := make([]portfolio.Transaction, min(left, portfolio.MaxImport))
		for i := range rows {
			rows[i] = deposit
		}
		if _, err := p.ImportTransactions(rows, meta(left)); err != nil {
			t.Fatal(err)
		}
		left -= len(rows)
	}
	if err := store.Append(ctx, "pf-full", 0, p.Pending(), nil); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{Commands: command.New(store, command.Options{Logger: quiet}), Events: store, Logger: quiet}))}

	path := "/portfolios/pf-full/transactions"
	body := `{"type":"DEPOSIT","date":"2024-01-03","amount":"5"}`
	a.expect(a.do(alice, "POST", path, body), 201, "")
	a.expectQuota(a.do(alice, "POST", path, body), quota.TransactionsPerPortfolio)
	imp := `{"activities":[{"date":"2024-01-04","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}]}`
	a.expectQuota(a.do(alice, "POST", "/portfolios/pf-full/import", imp), quota.TransactionsPerPortfolio)
	a.expectQuota(a.do(alice, "POST", "/portfolios/pf-full/import/preview", imp), quota.TransactionsPerPortfolio)
	// Ownership is still decided first: a stranger gets the same 404 as for any other portfolio.
	a.expect(a.do(bob, "POST", path, body), 404, "not_found")
}

// TestAlertRulesPerUserQuotaAnswers422: the user at the quota is refused with
// 422; another user is not.
func TestAlertRulesPerUserQuotaAnswers422(t *testing.T) {
	t.Parallel()
	a, store := newAlertsAPI(t)
	for i := range quota.AlertRulesPerUser.Limit {
		if _, err := store.Create(t.Context(), alertUserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(int64(i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	rule := `{"kind":"price_above","symbol":"AAPL","threshold":"500"}`
	a.expectQuota(a.do(alertUserA, "POST", "/alerts", rule), quota.AlertRulesPerUser)
	a.do(alertUserB, "POST", "/alerts", rule).expect(t, 201, "another user")
}

// TestPortfoliosAndSymbolsQuotasAnswer422: the api function's wiring (commands
// and alert rules counting into one quotas table) refuses the 51st portfolio,
// and a symbol past the user's quota in a transaction or an alert rule.
func TestPortfoliosAndSymbolsQuotasAnswer422(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	names := map[string]string{}
	for _, tb := range []string{topology.EventsTable, topology.QuotasTable} {
		decl, _ := topology.TableByName(tb)
		names[tb] = testenv.UniqueName(t, tb)
		if err := dynamo.CreateTable(ctx, client, decl, names[tb]); err != nil {
			t.Fatal(err)
		}
	}
	events := dynamostore.New(client, names[topology.EventsTable], dynamostore.Options{})
	quotas := dynamoquota.New(client, names[topology.QuotasTable])
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{
		Commands: command.New(events, command.Options{Logger: quiet, Quotas: quotas}), Events: events,
		Alerts: memstore.NewAlerts(memstore.NewDirectory()), Quotas: quotas, Logger: quiet,
	}))}

	var first string
	for i := range quota.PortfoliosPerUser.Limit {
		id := a.createPortfolio(alertUserA, fmt.Sprint("create-", i))
		if first == "" {
			first = id
		}
	}
	a.expectQuota(a.do(alertUserA, "POST", "/portfolios", `{"name":"One more","baseCurrency":"USD"}`, "Idempotency-Key", "create-over"), quota.PortfoliosPerUser)
	// A retried create of a counted portfolio is answered as before.
	a.expect(a.do(alertUserA, "POST", "/portfolios", `{"name":"Main","baseCurrency":"USD"}`, "Idempotency-Key", "create-0"), 200, "")

	held := make([]string, quota.SymbolsPerUser.Limit-1)
	for i := range held {
		held[i] = fmt.Sprintf("H%04d", i)
	}
	if err := quotas.Reserve(ctx, quota.SymbolsPerUser, alertUserA, held); err != nil {
		t.Fatal(err)
	}
	a.do(alertUserA, "POST", "/alerts", `{"kind":"price_above","symbol":"LAST","threshold":"10"}`).expect(t, 201, "the last symbol, in a rule")
	buy := func(symbol string) string {
		return `{"type":"BUY","date":"2024-01-02","symbol":"` + symbol + `","quantity":"1","price":"10"}`
	}
	a.expect(a.do(alertUserA, "POST", "/portfolios/"+first+"/transactions", buy("LAST")), 201, "")
	a.expect(a.do(alertUserA, "POST", "/portfolios/"+first+"/transactions", buy("H0001")), 201, "")
	a.expectQuota(a.do(alertUserA, "POST", "/portfolios/"+first+"/transactions", buy("OVER")), quota.SymbolsPerUser)
	a.expectQuota(a.do(alertUserA, "POST", "/alerts", `{"kind":"price_below","symbol":"OVER","threshold":"10"}`), quota.SymbolsPerUser)
	// An invalid rule is refused for what it is, not for its symbol.
	a.do(alertUserA, "POST", "/alerts", `{"kind":"price_below","symbol":"OVER","threshold":"-1"}`).expect(t, 422, "an invalid rule")
	if n, err := quotas.Count(ctx, quota.SymbolsPerUser, alertUserA); err != nil || n != quota.SymbolsPerUser.Limit {
		t.Fatalf("symbols counted %d (%v)", n, err)
	}
	a.do(alertUserB, "POST", "/alerts", `{"kind":"price_below","symbol":"OVER","threshold":"10"}`).expect(t, 201, "another user")

	// A patch of a portfolio rule's conditions counts its new symbols too: one
	// past the quota is refused, an invalid one is refused for what it is, one
	// counted already is taken.
	a.do(alertUserA, "POST", "/alerts", `{"id":"drift","portfolioId":"`+first+`","kind":"weight_drift","symbol":"LAST","targetWeight":"0.5","threshold":"0.05"}`).expect(t, 201, "a portfolio rule on a counted symbol")
	drift := func(symbol, band string) string {
		return `{"conditions":[{"kind":"weight_drift","symbol":"` + symbol + `","targetWeight":"0.5","threshold":"` + band + `"},{"kind":"drawdown","threshold":"0.2"}]}`
	}
	a.expectQuota(a.do(alertUserA, "PATCH", "/alerts/drift", drift("OVER", "0.05")), quota.SymbolsPerUser)
	a.do(alertUserA, "PATCH", "/alerts/drift", drift("OVER", "-1")).expect(t, 422, "an invalid patch")
	a.do(alertUserA, "PATCH", "/alerts/none", drift("OVER", "0.05")).expect(t, 404, "a patch of no rule")
	a.do(alertUserA, "PATCH", "/alerts/drift", drift("H0002", "0.05")).expect(t, 200, "a patch onto a counted symbol")
	if n, err := quotas.Count(ctx, quota.SymbolsPerUser, alertUserA); err != nil || n != quota.SymbolsPerUser.Limit {
		t.Fatalf("symbols counted %d after the patches (%v)", n, err)
	}
}
