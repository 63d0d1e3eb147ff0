package httpapi

import (
	"net/http"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// Intraday valuations, as the prices function records them on every batch that
// moves a held symbol (kept 7 days, then one a day): the live chart's series.
const (
	defaultValuationsWindow = 24 * time.Hour
	defaultValuationsLimit  = 1000
)

// ValuationPoint is one recorded valuation; decimals are strings.
type ValuationPoint struct {
	AsOf          time.Time `json:"asOf"`
	MarketValue   string    `json:"marketValue"`
	CostBasis     string    `json:"costBasis"`
	UnrealizedPnL string    `json:"unrealizedPnL"`
	Unpriced      []string  `json:"unpriced,omitempty"`
}

// ValuationsResponse is a page of valuations, oldest first. NextFrom, when set,
// is the from of the next page (the same to).
type ValuationsResponse struct {
	PortfolioID string           `json:"portfolioId"`
	From        time.Time        `json:"from"`
	To          time.Time        `json:"to"`
	Items       []ValuationPoint `json:"items"`
	NextFrom    *time.Time       `json:"nextFrom,omitempty"`
}

// valuations serves GET /portfolios/{id}/valuations?from&to&limit: instants in
// RFC 3339, from inclusive and to exclusive; by default the last 24 hours.
func (s *Server) valuations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	to, from := time.Now().UTC(), time.Time{}
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return newError(http.StatusBadRequest, CodeBadRequest, "query parameter "+name+" must be an RFC 3339 instant such as 2026-01-02T15:04:05Z",
					map[string]string{"parameter": name})
			}
			*dst = t.UTC()
		}
	}
	if from.IsZero() {
		from = to.Add(-defaultValuationsWindow)
	}
	if !from.Before(to) {
		return newError(http.StatusBadRequest, CodeBadRequest, "query parameter from must be before to", map[string]string{"parameter": "from"})
	}
	limit, err := queryInt(r, "limit", defaultValuationsLimit, 1, readmodel.MaxValuationsPage)
	if err != nil {
		return err
	}
	page, err := s.queries.Valuations(r.Context(), userFrom(r.Context()), r.PathValue("id"), from, to, int(limit))
	if err != nil {
		return err
	}
	resp := ValuationsResponse{PortfolioID: page.PortfolioID, From: from, To: to, Items: make([]ValuationPoint, len(page.Items))}
	for i, v := range page.Items {
		resp.Items[i] = ValuationPoint{AsOf: v.AsOf, MarketValue: v.MarketValue.String(), CostBasis: v.CostBasis.String(),
			UnrealizedPnL: v.UnrealizedPnL.String(), Unpriced: v.Unpriced}
	}
	if page.More && len(page.Items) > 0 {
		next := page.Items[len(page.Items)-1].AsOf.Add(time.Microsecond) // as_of is stored to the microsecond
		resp.NextFrom = &next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
