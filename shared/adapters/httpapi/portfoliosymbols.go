package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// SymbolReads is the store of a portfolio's symbols with their history status
// (the backfill's records) and latest price; portfolio.ErrNotFound for a
// portfolio that is not the caller's. *readmodel.Queries and *memquery.Store
// implement it; the contract suite is querytest.
type SymbolReads interface {
	PortfolioSymbols(ctx context.Context, userID, portfolioID string) (readmodel.PortfolioSymbolsView, error)
}

// PortfolioSymbolsResponse is GET /portfolios/{id}/symbols: every symbol of the
// portfolio, sorted.
type PortfolioSymbolsResponse struct {
	PortfolioID string            `json:"portfolioId"`
	AsOfVersion int64             `json:"asOfVersion"`
	Items       []PortfolioSymbol `json:"items"`
}

// PortfolioSymbol is one symbol: why it is the portfolio's (held, traded,
// benchmark), where its daily closes' backfill stands (null until the backfill
// records it, within a minute of the symbol's first need) and when its latest
// price is from.
type PortfolioSymbol struct {
	Symbol      string         `json:"symbol"`
	Roles       []string       `json:"roles"`
	History     *SymbolHistory `json:"history"`
	PriceAsOf   *time.Time     `json:"priceAsOf,omitempty"`
	PriceSource string         `json:"priceSource,omitempty"`
}

// SymbolHistory is a symbol's backfill: pending, filling, complete or failed
// (reason says why), the days needed (from neededFrom to the last session) and
// those fetched so far (filledFrom..filledTo, absent before the first), from
// source.
type SymbolHistory struct {
	State      string    `json:"state"`
	NeededFrom string    `json:"neededFrom"`
	FilledFrom *string   `json:"filledFrom,omitempty"`
	FilledTo   *string   `json:"filledTo,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Source     string    `json:"source,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

func (s *Server) portfolioSymbols(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queries.PortfolioSymbols(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	resp := PortfolioSymbolsResponse{PortfolioID: v.PortfolioID, AsOfVersion: v.AsOfVersion, Items: make([]PortfolioSymbol, len(v.Symbols))}
	for i, sv := range v.Symbols {
		item := PortfolioSymbol{Symbol: sv.Symbol, Roles: []string{}, PriceAsOf: sv.PriceAsOf, PriceSource: sv.PriceSource}
		if sv.Held {
			item.Roles = append(item.Roles, "held")
		}
		if sv.Traded {
			item.Roles = append(item.Roles, "traded")
		}
		if sv.Benchmark {
			item.Roles = append(item.Roles, "benchmark")
		}
		if h := sv.History; h != nil {
			item.History = &SymbolHistory{State: string(h.State), NeededFrom: h.NeededFrom.String(), Reason: h.Reason, Source: h.Source, UpdatedAt: h.UpdatedAt}
			if h.FilledFrom != nil {
				from, to := h.FilledFrom.String(), h.FilledTo.String()
				item.History.FilledFrom, item.History.FilledTo = &from, &to
			}
		}
		resp.Items[i] = item
	}
	setVersion(w, v.AsOfVersion)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
