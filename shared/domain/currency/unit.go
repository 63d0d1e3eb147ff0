package currency

import (
	"slices"

	"github.com/shopspring/decimal"
)

// quoteUnits are the sub-units exchanges quote prices in, by the codes data
// providers and broker exports use: London in pence (GBp, GBX), Johannesburg in
// cents (ZAc, ZAC), Tel Aviv in agorot (ILA). Each is a hundredth of its currency.
var quoteUnits = map[string]string{
	"GBp": "GBP", "GBX": "GBP", "ZAc": "ZAR", "ZAC": "ZAR", "ILA": "ILS",
}

// Known reports whether code is an ISO 4217 code or a quote unit such as GBp.
func Known(code string) bool {
	if _, ok := quoteUnits[code]; ok {
		return true
	}
	return IsISO(code)
}

// Settlement is the currency cash in code is paid in, and how many units of code
// make one of it: ("GBP", 100) for GBp, (code, 1) for an ISO code.
func Settlement(code string) (settle string, divisor int64) {
	if s, ok := quoteUnits[code]; ok {
		return s, 100
	}
	return code, 1
}

// QuoteUnits lists every quote unit (GBp, GBX, ...), sorted: for a store that
// must find what is priced in a currency or in one of its units.
func QuoteUnits() []string {
	out := make([]string, 0, len(quoteUnits))
	for u := range quoteUnits {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// IsQuoteUnit reports whether code is a sub-unit (GBp) rather than a currency.
func IsQuoteUnit(code string) bool {
	_, ok := quoteUnits[code]
	return ok
}

// ToSettlement converts an amount in code to its settlement currency: pence to
// pounds. Exact (a division by 100).
func ToSettlement(code string, amount decimal.Decimal) decimal.Decimal {
	if _, ok := quoteUnits[code]; ok {
		return amount.Shift(-2)
	}
	return amount
}

// InUnit is amount, in code from, in code to when both are the same settlement
// currency, exactly: pence made pounds (÷ 100), pounds made pence (× 100); false
// when they settle in different currencies (that takes a rate, not a unit).
func InUnit(from string, amount decimal.Decimal, to string) (decimal.Decimal, bool) {
	if from == to {
		return amount, true
	}
	fs, fd := Settlement(from)
	ts, td := Settlement(to)
	if fs != ts {
		return decimal.Decimal{}, false
	}
	if fd != 1 {
		amount = amount.Shift(-2)
	}
	if td != 1 {
		amount = amount.Shift(2)
	}
	return amount, true
}
