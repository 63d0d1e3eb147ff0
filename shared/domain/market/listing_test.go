package market_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

func TestListingCurrency(t *testing.T) {
	for symbol, want := range map[string]string{
		"AAPL": "USD", "BRK.B": "USD", "VUSA.L": "GBp", "SAP.DE": "EUR", "NESN.SW": "CHF", "SHOP.TO": "CAD",
		"7203.T": "JPY", "NPN.JO": "ZAc", "EURUSD=X": "USD", "USDJPY=X": "JPY",
	} {
		if got := market.ListingCurrency(symbol); got != want {
			t.Errorf("ListingCurrency(%q) = %q, want %q", symbol, got, want)
		}
	}
}
