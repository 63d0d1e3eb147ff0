package readmodel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestAnalyticsSettingsProjected: AnalyticsSettingsChanged lands in the portfolio
// row (the last one wins), a portfolio that never set any shows the defaults, and
// redelivery, in one batch or event by event, changes nothing.
func TestAnalyticsSettingsProjected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := rmtest.NewHistory(t, "ps", rmtest.UserA, portfolio.FIFO)
	a.Tx(rmtest.Buy("2024-02-01", "AAPL", "3", "100", ""))
	a.Settings("QQQ", false, "10")
	a.Settings("VTI", true, "50.00")
	a.Rename("After the settings")
	d := rmtest.NewHistory(t, "pd", rmtest.UserA, portfolio.FIFO)
	all := append(slices.Clone(a.Events), d.Events...)

	want, _ := rmtest.DB(t)
	applyInBatches(t, rmtest.NewProjector(want), all, 0)
	q := readmodel.NewQueries(want)
	got, err := q.GetPortfolio(ctx, rmtest.UserA, "ps")
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Settings; s.Benchmark != "VTI" || !s.WholeShares || s.MinTradeValue.String() != "50" || got.Name != "After the settings" {
		t.Errorf("ps: %+v", got)
	}
	got, err = q.GetPortfolio(ctx, rmtest.UserA, "pd")
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Settings; s.Benchmark != "SPY" || s.WholeShares || !s.MinTradeValue.IsZero() {
		t.Errorf("pd: settings %+v, want the defaults", s)
	}
	list, err := q.ListPortfolios(ctx, rmtest.UserA)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v (%v)", list, err)
	}
	for _, p := range list {
		if p.ID == "ps" && p.Settings.Benchmark != "VTI" {
			t.Errorf("list: %+v", p)
		}
	}

	// Event by event, with every event delivered again afterwards.
	again, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(again)
	applyInBatches(t, proj, all, 1)
	applyInBatches(t, proj, all, 2)
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, again); d1 != d2 {
		t.Fatalf("one by one plus redelivery differs from one batch:\n%s", diff(d1, d2))
	}
}
