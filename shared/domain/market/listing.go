package market

import "strings"

// listingSuffixCurrency is the currency of a listing by its symbol's exchange
// suffix (the Yahoo-style convention the symbols use): London quotes in pence.
var listingSuffixCurrency = map[string]string{
	".L": "GBp", ".DE": "EUR", ".F": "EUR", ".PA": "EUR", ".AS": "EUR", ".MI": "EUR", ".MC": "EUR", ".BR": "EUR",
	".SW": "CHF", ".TO": "CAD", ".V": "CAD", ".AX": "AUD", ".T": "JPY", ".HK": "HKD", ".ST": "SEK", ".CO": "DKK",
	".OL": "NOK", ".JO": "ZAc", ".TA": "ILA",
}

// ListingCurrency is the currency symbol is quoted in when its source does not
// say: a pair's quote currency (USD for EURUSD=X), the currency of its exchange
// suffix (GBp for ".L", EUR for ".DE", CHF for ".SW", ...), else USD, the
// currency of the unsuffixed US listings. Providers that report a currency
// override it.
func ListingCurrency(symbol string) string {
	if pair, ok := ParseFXPair(symbol); ok {
		return pair.Quote
	}
	if i := strings.LastIndexByte(symbol, '.'); i > 0 {
		if c, ok := listingSuffixCurrency[symbol[i:]]; ok {
			return c
		}
	}
	return "USD"
}
