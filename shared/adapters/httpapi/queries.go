package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Queries is what the API reads from the read models, store by store: one
// implementation may serve them all, as *readmodel.Queries does. Every method
// filters by the caller: the functions connect with a role that Row Level
// Security does not restrict.
type Queries interface {
	PortfolioReads
	TransactionReads
	ValuationReads
	SymbolReads
}

// PortfolioReads is the store of portfolios and positions: a portfolio, its
// positions valued at the latest prices with its totals, and its target
// allocation. Each answers portfolio.ErrNotFound for a portfolio that is not
// the caller's. *readmodel.Queries and *memquery.Store implement it; the
// contract suite is querytest.
type PortfolioReads interface {
	ListPortfolios(ctx context.Context, userID string) ([]readmodel.PortfolioView, error)
	GetPortfolio(ctx context.Context, userID, portfolioID string) (readmodel.PortfolioView, error)
	Positions(ctx context.Context, userID, portfolioID string) (readmodel.PositionsView, error)
	Targets(ctx context.Context, userID, portfolioID string) (readmodel.TargetsView, error)
}

// TransactionReads is the store of recorded transactions, paged newest first
// (readmodel.ErrInvalidCursor for a cursor it did not make). *readmodel.Queries
// and *memquery.Store implement it; the contract suite is querytest.
type TransactionReads interface {
	Transactions(ctx context.Context, userID, portfolioID string, f readmodel.TransactionFilter, cursor string, limit int) (readmodel.TransactionPage, error)
}

// ValuationReads is the store of the intraday valuations the prices function
// records.
type ValuationReads interface {
	Valuations(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) (readmodel.ValuationsPage, error)
}

var _ Queries = (*readmodel.Queries)(nil)

func (s *Server) listPortfolios(w http.ResponseWriter, r *http.Request) error {
	items, err := s.queries.ListPortfolios(r.Context(), userFrom(r.Context()))
	if err != nil {
		return err
	}
	resp := PortfolioListResponse{Items: make([]PortfolioDetailResponse, len(items))}
	for i := range items {
		resp.Items[i] = portfolioDetail(&items[i])
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getPortfolio(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queries.GetPortfolio(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	setVersion(w, v.Version)
	bodyFreshness(w, r, v.Version)
	writeJSON(w, http.StatusOK, portfolioDetail(&v))
	return nil
}

func (s *Server) positions(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queries.Positions(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	resp := positionsResponse(&v)
	resp.Stale = bodyFreshness(w, r, v.AsOfVersion)
	var closes ClosesReader
	if s.analytics != nil {
		closes = s.analytics
	}
	if err := addWeightsAndDayChanges(r.Context(), closes, &resp); err != nil {
		s.logger(r).WarnContext(r.Context(), "positions: the previous closes could not be read; the day's change is left out", "error", err.Error())
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getTargets(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queries.Targets(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	resp := targetAllocationResponse(&v)
	resp.Stale = bodyFreshness(w, r, v.AsOfVersion)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f readmodel.TransactionFilter
	f.Symbol = q.Get("symbol")
	if t := q.Get("type"); t != "" {
		typ, err := portfolio.ParseTxType(t)
		if err != nil {
			return newError(http.StatusBadRequest, CodeBadRequest, err.Error(), map[string]string{"parameter": "type"})
		}
		f.Type = typ
	}
	for name, dst := range map[string]**calendar.Date{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			d, err := calendar.Parse(v)
			if err != nil {
				return newError(http.StatusBadRequest, CodeBadRequest, "query parameter "+name+" must be a date YYYY-MM-DD", map[string]string{"parameter": name})
			}
			*dst = &d
		}
	}
	if v := q.Get("includeVoided"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return newError(http.StatusBadRequest, CodeBadRequest, "query parameter includeVoided must be true or false", map[string]string{"parameter": "includeVoided"})
		}
		f.IncludeVoided = b
	}
	limit, err := queryInt(r, "limit", readmodel.DefaultPageSize, 1, readmodel.MaxPageSize)
	if err != nil {
		return err
	}
	page, err := s.queries.Transactions(r.Context(), userFrom(r.Context()), r.PathValue("id"), f, q.Get("cursor"), int(limit))
	if err != nil {
		return err
	}
	resp := transactionPageResponse(&page)
	resp.Stale = bodyFreshness(w, r, page.AsOfVersion)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
