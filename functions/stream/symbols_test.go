package main

import (
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// The capped connection streams holdings first: a symbol only watched (any
// user may open a watch) comes after every held, benchmark, FX and alert
// symbol, whatever its name.
func TestMostNeededFirst(t *testing.T) {
	got := mostNeededFirst([]market.WatchedSymbol{
		{Symbol: "AAAA", Reasons: []market.WatchReason{market.WatchWatched}},
		{Symbol: "TSLA", Reasons: []market.WatchReason{market.WatchAlert}},
		{Symbol: "SPY", Reasons: []market.WatchReason{market.WatchBenchmark}},
		{Symbol: "MSFT", Reasons: []market.WatchReason{market.WatchWatched, market.WatchHeld}},
		{Symbol: "EURUSD=X", Reasons: []market.WatchReason{market.WatchFX}},
		{Symbol: "AAPL", Reasons: []market.WatchReason{market.WatchHeld}},
	})
	if want := []string{"AAPL", "MSFT", "SPY", "EURUSD=X", "TSLA", "AAAA"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
