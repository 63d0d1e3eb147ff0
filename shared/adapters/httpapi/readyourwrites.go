package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/readyourwrites"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Read-your-writes on the portfolio queries (GET /portfolios/{id} and every GET
// under it): ?minVersion=N, the version a command returned, makes the query
// wait (readyourwrites, bounded) for the read model to reach it. Every answer
// says which version the read model was at (X-Read-Model-Version) and, when that
// is behind the version wanted, X-Read-Model-Stale: true, as do the bodies that
// carry an asOfVersion (stale: true). The owner of a portfolio the read model
// has not seen yet gets 200, never 404: GET /portfolios/{id} from its events,
// the positions, transactions and targets empty and stale, and the other
// queries what their stores hold, or 503 with Retry-After when those have not
// seen it either.

// Headers of the read model's freshness.
const (
	HeaderReadModelVersion = "X-Read-Model-Version"
	HeaderReadModelStale   = "X-Read-Model-Stale"
)

// maxMinVersion bounds minVersion: far more events than a portfolio may have,
// small enough to be exact in a JavaScript number.
const maxMinVersion = 1 << 53

// readsPortfolio reports whether a route is a portfolio query, which takes
// minVersion.
func readsPortfolio(method, path string) bool {
	return method == http.MethodGet && (path == "/portfolios/{id}" || strings.HasPrefix(path, "/portfolios/{id}/"))
}

type freshnessKey struct{}

// freshness is what a portfolio query's handler learns from the wait.
func freshness(ctx context.Context) (readyourwrites.Result, bool) {
	res, ok := ctx.Value(freshnessKey{}).(readyourwrites.Result)
	return res, ok
}

// readYourWrites wraps a portfolio query: it validates minVersion, waits for the
// read model, sets the freshness headers, and answers for the owner's
// portfolio the read model lacks (fallback: nil runs the handler, whose stores
// may have it).
func (s *Server) readYourWrites(h handler, fallback handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		minVersion, err := queryInt(r, "minVersion", 0, 1, maxMinVersion)
		if err != nil {
			return err
		}
		if s.fresh == nil {
			return h(w, r)
		}
		res, err := s.fresh.Await(r.Context(), userFrom(r.Context()), r.PathValue("id"), minVersion)
		switch {
		case errors.Is(err, portfolio.ErrNotFound):
			return errPortfolioNotFound
		case err != nil:
			return err
		}
		markFreshness(w, res, res.Version)
		r = r.WithContext(context.WithValue(r.Context(), freshnessKey{}, res))
		switch {
		case res.InReadModel:
			return h(w, r)
		case fallback != nil:
			return fallback(w, r)
		}
		return notReadyYet(w, h(w, r))
	}
}

// notReadyYet turns the 404 of a query whose store has not seen the owner's
// new portfolio yet into a 503 to retry shortly: the portfolio exists, and
// these views (figures, valuations, symbols) have no empty answer that would
// not mislead.
func notReadyYet(w http.ResponseWriter, err error) error {
	if err == nil || classify(err).status != http.StatusNotFound {
		return err
	}
	w.Header().Set("Retry-After", "1")
	return newError(http.StatusServiceUnavailable, CodeUnavailable, "the portfolio was just created and this view is not ready yet; retry in a moment", nil)
}

// markFreshness sets the headers for an answer that reflects version of the
// read model, and reports whether it is stale.
func markFreshness(w http.ResponseWriter, res readyourwrites.Result, version int64) bool {
	w.Header().Set(HeaderReadModelVersion, strconv.FormatInt(version, 10))
	stale := version < res.Wanted
	if stale {
		w.Header().Set(HeaderReadModelStale, "true")
	} else {
		w.Header().Del(HeaderReadModelStale)
	}
	return stale
}

// bodyFreshness sets the headers for a body that reflects asOfVersion (the
// read model may have moved on since the wait) and says whether it is stale.
func bodyFreshness(w http.ResponseWriter, r *http.Request, asOfVersion int64) bool {
	res, ok := freshness(r.Context())
	return ok && markFreshness(w, res, asOfVersion)
}

// portfolioFromEvents answers GET /portfolios/{id} for the owner's portfolio
// the read model has not seen yet, from its events: the command side's view
// is authoritative, so the body is current although the read model is not.
func (s *Server) portfolioFromEvents(w http.ResponseWriter, r *http.Request) error {
	p, err := s.commands.Load(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	set := p.AnalyticsSettings()
	setVersion(w, p.Version())
	writeJSON(w, http.StatusOK, PortfolioDetailResponse{ID: p.ID(), Name: p.Name(), Description: p.Description(), BaseCurrency: p.BaseCurrency(),
		LotMethod: p.LotMethod(), Archived: p.Archived(), CreatedAt: p.CreatedAt(), UpdatedAt: p.CreatedAt(), Version: p.Version(),
		Settings: AnalyticsSettingsResponse{Benchmark: set.Benchmark, WholeShares: set.WholeShares, MinTradeValue: set.MinTradeValue}})
	return nil
}

// noPositionsYet, noTransactionsYet and noTargetsYet answer for the owner's
// portfolio the read model has not seen yet: empty, valid and stale.
func (s *Server) noPositionsYet(w http.ResponseWriter, r *http.Request) error {
	p, err := s.commands.Load(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, PositionsResponse{PortfolioID: p.ID(), BaseCurrency: p.BaseCurrency(), Positions: []PositionResponse{}, Stale: true})
	return nil
}

func (s *Server) noTransactionsYet(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, TransactionPageResponse{Items: []RecordedTransactionResponse{}, Stale: true})
	return nil
}

func (s *Server) noTargetsYet(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, TargetAllocationResponse{PortfolioID: r.PathValue("id"), Targets: []TargetResponse{}, Stale: true})
	return nil
}

// readModelVersions is the read model's version of a portfolio, for
// readyourwrites: the portfolio row's, which the projector advances with
// every event it applies (the positions' asOfVersion).
type readModelVersions struct{ queries PortfolioReads }

func (v readModelVersions) PortfolioVersion(ctx context.Context, userID, portfolioID string) (int64, bool, error) {
	p, err := v.queries.GetPortfolio(ctx, userID, portfolioID)
	switch {
	case errors.Is(err, portfolio.ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return p.Version, true, nil
}

// eventStoreOwners is a portfolio's owner from its events, for readyourwrites.
type eventStoreOwners struct{ commands *command.Service }

func (o eventStoreOwners) PortfolioOwner(ctx context.Context, portfolioID string) (string, int64, error) {
	if len(portfolioID) > maxPortfolioIDLen {
		return "", 0, nil
	}
	p, err := o.commands.Load(ctx, portfolioID)
	if err != nil {
		return "", 0, err
	}
	return p.Owner(), p.Version(), nil
}
