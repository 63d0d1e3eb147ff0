package marketdata

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// ProviderSymbol is how provider names our symbol. Listings are the same
// everywhere; currency pairs ("EURUSD=X", market.ParseFXPair) differ: Polygon's
// ticker is "C:EURUSD", Finnhub's "OANDA:EUR_USD" (its forex symbols; whether a
// free key may quote or stream them is unconfirmed). Alpha Vantage takes the two
// codes as separate parameters and the simulator our symbol, so both keep it.
// Quotes and bars always carry our symbol, never the provider's.
func ProviderSymbol(provider, symbol string) string {
	pair, ok := market.ParseFXPair(symbol)
	if !ok {
		return symbol
	}
	switch provider {
	case SourcePolygon:
		return "C:" + pair.Base + pair.Quote
	case SourceFinnhub:
		return "OANDA:" + pair.Base + "_" + pair.Quote
	}
	return symbol
}

// FromProviderSymbol is ProviderSymbol's inverse: a symbol as provider writes it
// (a Finnhub trade's "OANDA:EUR_USD") back to ours ("EURUSD=X"). Anything that is
// not one of the provider's currency-pair forms is returned unchanged.
func FromProviderSymbol(provider, symbol string) string {
	var code string
	switch provider {
	case SourcePolygon:
		rest, ok := strings.CutPrefix(symbol, "C:")
		if !ok || len(rest) != 6 {
			return symbol
		}
		code = rest
	case SourceFinnhub:
		rest, ok := strings.CutPrefix(symbol, "OANDA:")
		if !ok || len(rest) != 7 || rest[3] != '_' {
			return symbol
		}
		code = rest[:3] + rest[4:]
	default:
		return symbol
	}
	if pair, ok := market.ParseFXPair(code + "=X"); ok {
		return pair.Symbol()
	}
	return symbol
}

// Search bounds: a query is 1 to MaxQueryLen printable characters; an answer
// holds at most MaxSearchResults matches.
const (
	MaxQueryLen      = 50
	MaxSearchResults = 20
)

// CheckQuery validates a search query: 1 to MaxQueryLen characters, valid UTF-8,
// none of them a control character. The error is a *MarketDataError (KindNotFound:
// nothing can match such a query), without the query when it is not printable.
func CheckQuery(provider, query string) *MarketDataError {
	bad := func(msg string) *MarketDataError {
		return &MarketDataError{Provider: provider, Kind: KindNotFound, Message: msg}
	}
	n := utf8.RuneCountInString(query)
	switch {
	case !utf8.ValidString(query):
		return bad("search query is not valid UTF-8")
	case strings.TrimSpace(query) == "":
		return bad("search query is empty")
	case n > MaxQueryLen:
		return bad("search query is longer than 50 characters")
	}
	for _, r := range query {
		if !unicode.IsPrint(r) {
			return bad("search query holds a character that is not printable")
		}
	}
	return nil
}

// boundMatches drops matches without a usable symbol and duplicates, and keeps
// at most MaxSearchResults.
func boundMatches(in []market.SymbolMatch) []market.SymbolMatch {
	out := make([]market.SymbolMatch, 0, min(len(in), MaxSearchResults))
	seen := map[string]bool{}
	for _, m := range in {
		if len(out) == MaxSearchResults {
			break
		}
		if checkSymbol(m.Symbol) != nil || seen[m.Symbol] {
			continue
		}
		seen[m.Symbol] = true
		m.Description = truncate(strings.ToValidUTF8(m.Description, ""))
		out = append(out, m)
	}
	return out
}
