package readmodel_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
)

// An emptied franc account is worth 0 without a franc rate: it neither needs
// the rate nor hides the cash's value; a euro balance is valued at its rate.
func TestEmptiedCashBalanceNeedsNoRate(t *testing.T) {
	rates := currency.NewRates()
	if err := rates.Add(rmtest.D("2024-01-02"), "EUR", "USD", rmtest.Dec("1.1")); err != nil {
		t.Fatal(err)
	}
	v := &readmodel.PositionsView{BaseCurrency: "USD"}
	v.Totals.Balances = []readmodel.CashBalanceView{
		{Currency: "CHF", Amount: rmtest.Dec("0")},
		{Currency: "EUR", Amount: rmtest.Dec("100")},
		{Currency: "USD", Amount: rmtest.Dec("5")},
	}
	if got := readmodel.ValueNeeds(v); len(got) != 2 || got[0] != "EUR" || got[1] != "USD" {
		t.Fatalf("ValueNeeds = %v, want [EUR USD]", got)
	}
	readmodel.ValuePositions(v, nil, rates, rmtest.D("2024-01-03"))
	// 0 CHF + 100 EUR × 1.1 + 5 USD = 115 USD.
	if v.Totals.CashValue == nil || !v.Totals.CashValue.Equal(rmtest.Dec("115")) || len(v.Totals.Warnings) != 0 {
		t.Fatalf("cash value %v, warnings %v; want 115 and none", v.Totals.CashValue, v.Totals.Warnings)
	}
}
