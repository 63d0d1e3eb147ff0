package suggestions

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// The stores' behaviour (idempotence, dismissals, races) is the contract suite's
// (shared/adapters/readmodel/storetest); these are the rules Offer decides by.

// The backfill's port (its ActionOfferer) is satisfied by the Offerer.
var _ interface {
	Offer(ctx context.Context, actions []market.CorporateAction) (int, error)
} = (*Offerer)(nil)

type proposals struct {
	holders map[string][]Holder
	got     []Suggestion
}

func (p *proposals) Holders(_ context.Context, symbol string) ([]Holder, error) {
	return p.holders[symbol], nil
}

func (p *proposals) Propose(_ context.Context, list []Suggestion) (int, error) {
	p.got = append(p.got, list...)
	return len(list), nil
}

var today = time.Date(2024, 12, 2, 9, 0, 0, 0, time.UTC)

func offer(t *testing.T, h Holder, actions ...market.CorporateAction) []Suggestion {
	t.Helper()
	store := &proposals{holders: map[string][]Holder{}}
	for _, tx := range h.Transactions {
		if len(store.holders[tx.Symbol]) == 0 {
			store.holders[tx.Symbol] = []Holder{h}
		}
	}
	o := NewOfferer(store, Options{Now: func() time.Time { return today }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if _, err := o.Offer(t.Context(), actions); err != nil {
		t.Fatal(err)
	}
	return store.got
}

func d(s string) calendar.Date { return must(calendar.Parse(s)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func holder(currency string, txs ...portfolio.Transaction) Holder {
	for i := range txs {
		txs[i].Seq, txs[i].Currency = portfolio.SeqOf(int64(i+2), 0), currency
	}
	return Holder{PortfolioID: "p", UserID: "u", BaseCurrency: currency, LotMethod: portfolio.AverageCost, Transactions: txs}
}

func bought(date, qty string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Buy, Date: d(date), Symbol: "X", Quantity: decimal.RequireFromString(qty), Price: decimal.NewFromInt(5)}
}

func cash(ex, amount, currency string) market.CorporateAction {
	return market.CorporateAction{Kind: market.ActionDividend, Symbol: "X", Date: d(ex), CashAmount: decimal.RequireFromString(amount), Currency: currency, Source: "fake"}
}

func splitOf(date, from, to string) market.CorporateAction {
	return market.CorporateAction{Kind: market.ActionSplit, Symbol: "X", Date: d(date), SplitFrom: decimal.RequireFromString(from), SplitTo: decimal.RequireFromString(to), Source: "fake"}
}

func TestSplitRatiosInWholeShares(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     portfolio.Ratio
		ok       bool
	}{
		{"1", "4", portfolio.Ratio{New: 4, Old: 1}, true},
		{"10", "1", portfolio.Ratio{New: 1, Old: 10}, true}, // a 1-for-10 reverse split
		{"1", "1.5", portfolio.Ratio{New: 3, Old: 2}, true}, // 1.5 for 1 is 3 for 2
		{"2", "6", portfolio.Ratio{New: 3, Old: 1}, true},   // reduced
		{"1", "0.001", portfolio.Ratio{New: 1, Old: 1000}, true},
		{"1", "2000000", portfolio.Ratio{}, false}, // beyond MaxRatioSide
		{"3", "1.0000001", portfolio.Ratio{}, false},
	} {
		got, err := ratioOf(splitOf("2024-06-10", c.from, c.to))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%s → %s: %v %v, want %v (ok %v)", c.from, c.to, got, err, c.want, c.ok)
		}
	}
}

func TestOfferRules(t *testing.T) {
	// No pay date: the DIVIDEND is dated the ex-date; 12.5 held × 0.1 = 1.25, exact.
	if got := offer(t, holder("USD", bought("2024-01-02", "12.5")), cash("2024-05-01", "0.1", "USD")); len(got) != 1 ||
		got[0].Transaction.Date != d("2024-05-01") || !got[0].Transaction.Amount.Equal(decimal.RequireFromString("1.25")) || got[0].PayDate != nil {
		t.Errorf("no pay date: %+v", got)
	}
	// Another currency than the portfolio's: a DIVIDEND in that currency, 10 ×
	// 0.1 = 1 USD, without a rate (the command service looks it up at accept).
	if got := offer(t, holder("EUR", bought("2024-01-02", "10")), cash("2024-05-01", "0.1", "USD")); len(got) != 1 ||
		got[0].Transaction.Currency != "USD" || !got[0].Transaction.Amount.Equal(decimal.NewFromInt(1)) || !got[0].Transaction.FXRate.IsZero() {
		t.Errorf("USD dividend to a EUR portfolio: %+v", got)
	}
	// A dividend the provider gives no currency for is in the symbol's trading
	// currency: a London listing's in pence, 10 × 3.2 = 32 GBp; a split is in the
	// base (it moves no cash, so needs no rate).
	london := holder("EUR", bought("2024-01-02", "10"))
	london.Transactions[0].Currency, london.Transactions[0].FXRate = "GBp", decimal.RequireFromString("1.17")
	if got := offer(t, london, cash("2024-05-01", "3.2", ""), splitOf("2024-06-10", "1", "2")); len(got) != 2 ||
		got[0].Transaction.Currency != "GBp" || !got[0].Transaction.Amount.Equal(decimal.NewFromInt(32)) || got[1].Transaction.Currency != "EUR" {
		t.Errorf("a London listing's dividend without a currency, and its split: %+v", got)
	}
	// After today: the close before it has not happened.
	if got := offer(t, holder("USD", bought("2024-01-02", "10")), cash("2024-12-03", "0.1", "USD")); len(got) != 0 {
		t.Errorf("tomorrow's dividend: %+v", got)
	}
	// Today's: the close before it is yesterday's.
	if got := offer(t, holder("USD", bought("2024-01-02", "10")), cash("2024-12-02", "0.1", "USD")); len(got) != 1 {
		t.Errorf("today's dividend: %+v", got)
	}
	// A regular and a special dividend on one ex-date: one suggestion of their
	// sum; the same action reported twice counts once.
	if got := offer(t, holder("USD", bought("2024-01-02", "10")), cash("2024-05-01", "0.1", "USD"), cash("2024-05-01", "1", "USD"), cash("2024-05-01", "1", "USD")); len(got) != 1 ||
		!got[0].Transaction.Amount.Equal(decimal.RequireFromString("11")) || !got[0].PerShare.Equal(decimal.RequireFromString("1.1")) {
		t.Errorf("two dividends on one day: %+v", got)
	}
	// An invalid action is skipped, the rest offered.
	if got := offer(t, holder("USD", bought("2024-01-02", "10")), cash("2024-05-01", "-1", "USD"), splitOf("2024-06-10", "1", "2")); len(got) != 1 || got[0].Kind != market.ActionSplit {
		t.Errorf("invalid action: %+v", got)
	}
	// A recorded dividend 7 days after the pay date counts; 8 days after does not.
	pay := d("2024-05-15")
	withPay := cash("2024-05-01", "0.1", "USD")
	withPay.PayDate = &pay
	recordedOn := func(date string) Holder {
		return holder("USD", bought("2024-01-02", "10"), portfolio.Transaction{Type: portfolio.Dividend, Date: d(date), Symbol: "X", Amount: decimal.NewFromInt(1)})
	}
	if got := offer(t, recordedOn("2024-05-22"), withPay); len(got) != 0 {
		t.Errorf("recorded 7 days after the pay date, suggested again: %+v", got)
	}
	if got := offer(t, recordedOn("2024-05-23"), withPay); len(got) != 1 {
		t.Errorf("recorded 8 days after the pay date, taken for this one: %+v", got)
	}
	if got := offer(t, recordedOn("2024-04-24"), withPay); len(got) != 0 {
		t.Errorf("recorded 7 days before the ex-date, suggested again: %+v", got)
	}
	// A reverse split 1:10 after buying 25, then a dividend: paid on 2.5.
	if got := offer(t, holder("USD", bought("2024-01-02", "25")), splitOf("2024-03-01", "10", "1"), cash("2024-05-01", "1", "USD")); len(got) != 2 ||
		!got[1].Held.Equal(decimal.RequireFromString("2.5")) || !got[1].Transaction.Amount.Equal(decimal.RequireFromString("2.5")) {
		t.Errorf("reverse split then dividend: %+v", got)
	}
}
