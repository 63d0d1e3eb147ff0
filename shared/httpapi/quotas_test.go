package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/alerts"
	"github.com/portfoliotracker/tracker/shared/calendar"
	"github.com/portfoliotracker/tracker/shared/command"
	"github.com/portfoliotracker/tracker/shared/eventstore"
	"github.com/portfoliotracker/tracker/shared/httpapi"
	"github.com/portfoliotracker/tracker/shared/portfolio"
	"github.com/portfoliotracker/tracker/shared/quota"
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
	a := &api{t: t, handler: httpapi.LambdaHandler(httpapi.New(httpapi.Config{Commands: command.New(store, command.Options{Logger: quiet}), Events: store, Logger: quiet}))}

	path := "/portfolios/pf-full/transactions"
	body := `{"type":"DEPOSIT","date":"2024-01-03","amount":"5"}`
	a.expect(a.do(alice, "POST", path, body), 201, "")
	a.expectQuota(a.do(alice, "POST", path, body), quota.TransactionsPerPortfolio)
	imp := `{"activities":[{"date":"2024-01-04","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":1,"fee":0,"currency":"USD"}]}`
	a.expectQuota(a.do(alice, "POST", "/portfolios/pf-full/import", imp), quota.TransactionsPerPortfolio)
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
