package alerts

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// A long-lived engine reports the rules that fired or re-armed, and a second
// engine loaded from the saved subset of state behaves as the first.
func TestTakeChangedStateOfMerge(t *testing.T) {
	d := decimal.RequireFromString
	rules := []Rule{
		{ID: "above", Kind: KindPriceAbove, Symbol: "AAPL", Threshold: d("100")},
		{ID: "below", Kind: KindPriceBelow, Symbol: "AAPL", Threshold: d("50")},
		{ID: "msft", Kind: KindPriceAbove, Symbol: "MSFT", Threshold: d("300")},
		{ID: "drop", Kind: KindValueDrop, PortfolioID: "p1", Threshold: d("0.1"), Window: Duration(time.Hour)},
	}
	e, err := NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	e.Evaluate([]Tick{PriceTick("AAPL", d("90"), decimal.Zero, at(1)), PriceTick("MSFT", d("200"), decimal.Zero, at(1)), ValueTick("p1", d("1000"), at(1))})
	if got := e.TakeChanged(); len(got) != 0 {
		t.Fatalf("evaluation alone changed %v", got)
	}
	e.Evaluate([]Tick{PriceTick("AAPL", d("101"), decimal.Zero, at(2)), ValueTick("p1", d("890"), at(2))})
	if got := e.TakeChanged(); !slices.Equal(got, []string{"above", "drop"}) {
		t.Fatalf("changed %v, want the two firings", got)
	}
	if got := e.TakeChanged(); got != nil {
		t.Fatalf("taken twice: %v", got)
	}
	e.Evaluate([]Tick{PriceTick("AAPL", d("90"), decimal.Zero, at(3))}) // re-arms "above"
	if got := e.TakeChanged(); !slices.Equal(got, []string{"above"}) {
		t.Fatalf("changed %v, want the re-arming", got)
	}

	sub := e.StateOf("above", "drop", "nope")
	if len(sub.Rules) != 2 || sub.Rules["above"].Epoch != 1 || !sub.Rules["drop"].Fired || len(sub.Values["p1"]) != 2 {
		t.Fatalf("StateOf %+v", sub)
	}
	// A fresh engine whose "above" and "drop" take the saved subset, and "msft"
	// keeps its own state, fires as the original would.
	f, _ := NewEngine(rules...)
	f.Evaluate([]Tick{PriceTick("MSFT", d("301"), decimal.Zero, at(1))})
	if err := f.Merge(sub); err != nil {
		t.Fatal(err)
	}
	if rs, _ := f.RuleState("msft"); !rs.Fired {
		t.Fatalf("Merge reset msft: %+v", rs)
	}
	next := []Tick{PriceTick("AAPL", d("102"), decimal.Zero, at(4)), ValueTick("p1", d("880"), at(4))}
	want := e.Evaluate(next)
	got := f.Evaluate(next)
	if len(want) != 1 || len(got) != 1 || got[0].Key != want[0].Key || got[0].Key != "above#1" {
		t.Fatalf("merged engine fired %+v, original %+v", got, want)
	}
	// A removed rule is not reported.
	f.TakeChanged()
	f.Evaluate([]Tick{PriceTick("AAPL", d("40"), decimal.Zero, at(5))})
	f.Remove("below")
	if got := f.TakeChanged(); !slices.Equal(got, []string{"above"}) {
		t.Fatalf("changed after remove %v", got)
	}
	// A bad state is reported and restarts its own rule only (at its next
	// arming); the others' is merged all the same.
	msft, _ := f.RuleState("msft")
	bad := State{Rules: map[string]RuleState{"above": {Fired: true, Epoch: 1}, "drop": {Fired: true, Epoch: 4, FiredAt: at(5), LastAt: at(5)}}}
	if err := f.Merge(bad); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("fired without a time merged: %v", err)
	}
	if rs, _ := f.RuleState("above"); rs.Fired || rs.Epoch != 2 {
		t.Fatalf("the rule of the bad state: %+v, want armed at epoch 2", rs)
	}
	if rs, _ := f.RuleState("drop"); !rs.Fired || rs.Epoch != 4 {
		t.Fatalf("a good state beside a bad one was not merged: %+v", rs)
	}
	if rs, _ := f.RuleState("msft"); rs != msft {
		t.Fatalf("a rule not in the merged state changed: %+v, was %+v", rs, msft)
	}
}
