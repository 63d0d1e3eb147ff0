package marketdata

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Search implements SymbolSearcher with GET {base}/search?q=Q, which answers
// {"count": n, "result": [{"description", "displaySymbol", "symbol", "type"}]}
// (an unknown name: count 0 and an empty result). Finnhub's forex symbols in
// results (OANDA:EUR_USD) come back as ours (EURUSD=X).
func (f *Finnhub) Search(ctx context.Context, query string) ([]market.SymbolMatch, error) {
	if e := CheckQuery(SourceFinnhub, query); e != nil {
		e.At = f.c.opts.Now().UTC()
		return nil, e
	}
	u, err := url.Parse(f.c.opts.BaseURL + "/search")
	if err != nil {
		return nil, f.c.newError("", KindUpstream, 0, "bad base URL: "+errText(err), err)
	}
	u.RawQuery = url.Values{"q": {query}}.Encode()
	h := http.Header{}
	if f.c.opts.APIKey != "" {
		h.Set("X-Finnhub-Token", f.c.opts.APIKey)
	}
	body, mdErr := f.c.get(ctx, "", u, h)
	if mdErr != nil {
		return nil, mdErr
	}
	var b struct {
		Count  json.Number `json:"count"`
		Error  *string     `json:"error"`
		Result []struct {
			Description   string `json:"description"`
			DisplaySymbol string `json:"displaySymbol"`
			Symbol        string `json:"symbol"`
			Type          string `json:"type"`
		} `json:"result"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return nil, f.c.newError("", KindMalformed, 0, "search body: "+err.Error()+": "+snippet(body), nil)
	}
	if b.Error != nil {
		return nil, f.c.newError("", KindUpstream, 0, snippet([]byte(*b.Error)), nil)
	}
	out := make([]market.SymbolMatch, 0, len(b.Result))
	for _, r := range b.Result {
		out = append(out, market.SymbolMatch{Symbol: FromProviderSymbol(SourceFinnhub, r.Symbol), Description: r.Description,
			Type: r.Type, Source: SourceFinnhub})
	}
	return boundMatches(out), nil
}
