package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/portfoliotracker/tracker/shared/app/symbolsearch"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Error codes of the symbol search.
const (
	// CodeSearchUnavailable: no symbol search is configured, or the provider
	// did not answer in time.
	CodeSearchUnavailable = "search_unavailable"
	// CodeProviderError: the provider answered with an error.
	CodeProviderError = "provider_error"
)

// SymbolSearch answers GET /symbols: a market-data provider's matches, cached
// (symbolsearch.Service). Errors: symbolsearch.ErrInvalidQuery, or the
// provider's *market.MarketDataError.
type SymbolSearch interface {
	Search(ctx context.Context, query string) ([]market.SymbolMatch, error)
}

// SymbolMatchResponse is one match of a symbol search.
type SymbolMatchResponse struct {
	Symbol      string `json:"symbol"`
	Description string `json:"description"`
	Type        string `json:"type,omitempty"`     // as the provider names it: "Common Stock", "ETF", "CS"
	Exchange    string `json:"exchange,omitempty"` // MIC or the provider's exchange code
	Currency    string `json:"currency,omitempty"` // ISO 4217, when the provider says
	Source      string `json:"source"`             // the provider
}

// SymbolSearchResponse is GET /symbols?q=: the provider's matches, in its order.
type SymbolSearchResponse struct {
	Query string                `json:"query"`
	Items []SymbolMatchResponse `json:"items"`
}

// searchSymbols serves GET /symbols?q=: q is 1 to 50 printable characters.
// The provider's refusals are the API's error shape, never a 500: its rate
// limit a 429 with Retry-After, a late answer 503, any other failure 502.
func (s *Server) searchSymbols(w http.ResponseWriter, r *http.Request) error {
	if s.symbols == nil {
		return newError(http.StatusServiceUnavailable, CodeSearchUnavailable, "symbol search is not configured", nil)
	}
	q := r.URL.Query().Get("q")
	matches, err := s.symbols.Search(r.Context(), q)
	if err != nil {
		return searchError(w, err)
	}
	out := SymbolSearchResponse{Query: q, Items: make([]SymbolMatchResponse, len(matches))}
	for i, m := range matches {
		out.Items[i] = SymbolMatchResponse{Symbol: m.Symbol, Description: m.Description, Type: m.Type, Exchange: m.Exchange,
			Currency: m.Currency, Source: m.Source}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// searchError maps a failed search to its status and code, setting
// Retry-After on a rate limit (whole seconds, at least one).
func searchError(w http.ResponseWriter, err error) error {
	if errors.Is(err, symbolsearch.ErrInvalidQuery) {
		return newError(http.StatusUnprocessableEntity, CodeValidation, "query parameter q must be 1 to 50 printable characters",
			map[string]string{"parameter": "q"})
	}
	var mde *market.MarketDataError
	switch {
	case errors.As(err, &mde) && mde.Kind == market.KindRateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(mde.RetryAfter.Seconds())))))
		return newError(http.StatusTooManyRequests, CodeTooManyRequests, "the market-data provider's rate limit is reached; retry later", nil)
	case errors.As(err, &mde) && mde.Kind == market.KindTimeout,
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable, CodeSearchUnavailable, "the market-data provider did not answer in time; retry later", nil)
	}
	var details map[string]string
	if mde != nil {
		details = map[string]string{"provider": mde.Provider, "kind": string(mde.Kind)}
	}
	return newError(http.StatusBadGateway, CodeProviderError, "the market-data provider's search failed", details)
}
