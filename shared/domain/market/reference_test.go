package market

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

func TestParseFXPair(t *testing.T) {
	for sym, want := range map[string]FXPair{"EURUSD=X": {"EUR", "USD"}, "USDJPY=X": {"USD", "JPY"}, "GBPUSD=X": {"GBP", "USD"}} {
		got, ok := ParseFXPair(sym)
		if !ok || got != want || got.Symbol() != sym {
			t.Errorf("ParseFXPair(%q) = %+v %v, want %+v", sym, got, ok, want)
		}
	}
	for _, sym := range []string{"AAPL", "EURUSD", "EURUSD=x", "eurusd=X", "EURUS=X", "EURUSDD=X", "USDUSD=X", "EUR1SD=X", "=X", ""} {
		if p, ok := ParseFXPair(sym); ok {
			t.Errorf("ParseFXPair(%q) = %+v, want no pair", sym, p)
		}
	}
	if inv := (FXPair{"EUR", "USD"}).Inverse(); inv.Symbol() != "USDEUR=X" {
		t.Errorf("inverse: %s", inv.Symbol())
	}
}

func TestCorporateActionValidate(t *testing.T) {
	day := calendar.MustNew(2024, 6, 10)
	one, four := decimal.NewFromInt(1), decimal.NewFromInt(4)
	good := []CorporateAction{
		{Kind: ActionSplit, Symbol: "NVDA", Date: day, SplitFrom: one, SplitTo: decimal.NewFromInt(10), Source: "polygon"},
		{Kind: ActionSplit, Symbol: "GE", Date: day, SplitFrom: decimal.NewFromInt(8), SplitTo: one, Source: "polygon"},
		{Kind: ActionDividend, Symbol: "AAPL", Date: day, CashAmount: decimal.RequireFromString("0.25"), Currency: "USD", Source: "polygon"},
	}
	for _, a := range good {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	bad := []CorporateAction{
		{Kind: ActionSplit, Symbol: "X", Date: day, SplitFrom: four, SplitTo: four, Source: "p"},
		{Kind: ActionSplit, Symbol: "X", Date: day, SplitFrom: decimal.Zero, SplitTo: four, Source: "p"},
		{Kind: ActionDividend, Symbol: "X", Date: day, CashAmount: decimal.Zero, Source: "p"},
		{Kind: ActionDividend, Symbol: "", Date: day, CashAmount: one, Source: "p"},
		{Kind: ActionDividend, Symbol: "X", Date: day, CashAmount: one},
		{Kind: "merger", Symbol: "X", Date: day, Source: "p"},
	}
	for _, a := range bad {
		if err := a.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", a)
		}
	}
}
