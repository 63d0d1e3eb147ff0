package analyticsjob_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// staleList answers the portfolios a completed backfill left stale, and
// records what it was asked.
type staleList struct {
	ids      []string
	currency string
	since    time.Time
	limit    int
}

func (s *staleList) StaleAfterBackfill(_ context.Context, quoteCurrency string, since time.Time, limit int) ([]string, error) {
	s.currency, s.since, s.limit = quoteCurrency, since, limit
	return s.ids, nil
}

// TestRefreshRecomputesTheStalePortfolios: the refresh schedule recomputes the
// portfolios its store says a backfill left stale, each once, through the
// stream's path, and no other; without a store it does nothing.
func TestRefreshRecomputesTheStalePortfolios(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stale, fresh := e.create(userA, "stale"), e.create(userB, "fresh")
	for _, id := range []string{stale, fresh} {
		user := userA
		if id == fresh {
			user = userB
		}
		e.record(id, user, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
	}
	e.project(stale, fresh)
	l := &countingLoader{next: e.cmds, loads: map[string]int{}, fail: map[string]bool{}}
	list := &staleList{ids: []string{stale}}
	sum, err := e.job(l, analyticsjob.Options{Refresh: analyticsjob.RefreshOptions{Stale: list, Limit: 7}}).
		RunScheduled(context.Background(), analyticsjob.ScheduledRun{Mode: analyticsjob.ModeRefresh})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mode != "refresh" || sum.Computed != 1 || sum.Failed != 0 {
		t.Errorf("summary %+v", sum)
	}
	if list.currency != "USD" || list.limit != 7 || !list.since.Equal(runTime.Add(-7*24*time.Hour)) {
		t.Errorf("asked for %+v", list)
	}
	if l.loads[stale] != 1 || l.loads[fresh] != 0 {
		t.Errorf("loads %v", l.loads)
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userA, stale); err != nil {
		t.Error(err)
	}
	if _, err := e.metrics.Series(context.Background(), userA, stale); err != nil {
		t.Errorf("the value history was not rewritten: %v", err)
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userB, fresh); !errors.Is(err, readmodel.ErrNotComputed) {
		t.Errorf("a portfolio no backfill touched was computed: %v", err)
	}
	if sum, err := e.job(l, analyticsjob.Options{}).RunScheduled(context.Background(), analyticsjob.ScheduledRun{Mode: analyticsjob.ModeRefresh}); err != nil || sum.Computed != 0 {
		t.Errorf("without a store: %+v %v", sum, err)
	}
}
