package readmodel_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

func TestQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	a2 := rmtest.NewHistory(t, "pa2", rmtest.UserA, portfolio.AverageCost)
	a2.Tx(rmtest.Buy("2024-02-01", "AAPL", "3", "100", ""))
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.FIFO)
	for _, h := range []*rmtest.History{a, a2, b} {
		applyInBatches(t, proj, h.Events, 5)
	}
	if _, err := pool.Exec(ctx, `insert into latest_prices values
		('AAPL', 190.5, 'USD', '2024-07-01T20:00:00Z', 'test'), ('VTI', 270, 'EUR', '2024-07-01T20:00:00Z', 'test')`); err != nil {
		t.Fatal(err)
	}
	q := readmodel.NewQueries(pool)

	// Portfolios.
	list, err := q.ListPortfolios(ctx, rmtest.UserA)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"pa", "pa2"}) {
		t.Fatalf("A's portfolios %v", ids)
	}
	if l, err := q.ListPortfolios(ctx, "not-a-uuid"); err != nil || len(l) != 0 {
		t.Fatalf("bad user: %v %v", l, err)
	}
	pv, err := q.GetPortfolio(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	if pv.Name != "Renamed pa" || !pv.Archived || pv.ArchivedAt == nil || pv.Version != a.P.Version() ||
		pv.LotMethod != portfolio.FIFO || pv.BaseCurrency != "USD" || !pv.CreatedAt.Equal(a.P.CreatedAt()) {
		t.Errorf("portfolio view %+v", pv)
	}
	for _, c := range []struct{ user, id string }{{rmtest.UserA, "pb"}, {rmtest.UserA, "nope"}, {"x", "pa"}} {
		if _, err := q.GetPortfolio(ctx, c.user, c.id); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("GetPortfolio(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
		if _, err := q.Positions(ctx, c.user, c.id); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("Positions(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
		if _, err := q.Transactions(ctx, c.user, c.id, readmodel.TransactionFilter{}, "", 10); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("Transactions(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
		if _, err := q.Targets(ctx, c.user, c.id); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("Targets(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
	}

	// Positions, valued where a price in the portfolio's currency exists.
	pos, err := q.Positions(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	if pos.AsOfVersion != a.P.Version() || pos.BaseCurrency != "USD" {
		t.Errorf("view %d %s", pos.AsOfVersion, pos.BaseCurrency)
	}
	var syms []string
	for _, p := range pos.Positions {
		syms = append(syms, p.Symbol)
	}
	if !slices.Equal(syms, []string{"AAPL", "MSFT", "VTI"}) {
		t.Fatalf("symbols %v", syms)
	}
	aapl := pos.Positions[0]
	if aapl.MarketPrice == nil || !aapl.MarketValue.Equal(rmtest.Dec("6858")) ||
		!aapl.UnrealizedPnL.Equal(rmtest.Dec("6858").Sub(aapl.CostBasis)) || aapl.PriceSource != "test" {
		t.Errorf("AAPL %+v", aapl)
	}
	if m := pos.Positions[1]; m.MarketValue != nil || !m.Quantity.IsZero() {
		t.Errorf("closed MSFT valued: %+v", m)
	}
	if v := pos.Positions[2]; v.MarketPrice != nil {
		t.Errorf("VTI valued at a EUR price: %+v", v)
	}
	if !slices.Equal(pos.Totals.Unpriced, []string{"VTI"}) || !pos.Totals.MarketValue.Equal(rmtest.Dec("6858")) {
		t.Errorf("totals %+v", pos.Totals)
	}
	if pos.Totals.Version == 0 || pos.Totals.Cash.IsZero() {
		t.Errorf("totals %+v", pos.Totals)
	}
	p2, err := q.Positions(ctx, rmtest.UserA, "pa2")
	if err != nil || len(p2.Positions) != 1 || !p2.Totals.CostBasis.Equal(rmtest.Dec("300")) {
		t.Errorf("pa2 positions %+v, %v", p2, err)
	}

	// Transactions: pages of 4, newest first, with and without voided ones.
	all, err := a.P.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	for _, voided := range []bool{false, true} {
		var got []readmodel.TransactionView
		cursor := ""
		for pages := 0; ; pages++ {
			page, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{IncludeVoided: voided}, cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > 4 || page.AsOfVersion != a.P.Version() || pages > 10 {
				t.Fatalf("page of %d items, asOf %d", len(page.Items), page.AsOfVersion)
			}
			got = append(got, page.Items...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		want := len(all)
		if voided {
			want += 2
		}
		if len(got) != want {
			t.Fatalf("includeVoided=%v: %d transactions, want %d", voided, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if p, c := got[i-1], got[i]; p.Date < c.Date || (p.Date == c.Date && p.Seq <= c.Seq) {
				t.Fatalf("not newest first at %d: %v/%d then %v/%d", i, p.Date, p.Seq, c.Date, c.Seq)
			}
		}
	}
	from, to := rmtest.D("2024-02-01"), rmtest.D("2024-04-30")
	for _, c := range []struct {
		f    readmodel.TransactionFilter
		want int
	}{
		{readmodel.TransactionFilter{Symbol: "AAPL"}, 6},
		{readmodel.TransactionFilter{Type: portfolio.Dividend}, 1},
		{readmodel.TransactionFilter{From: &from, To: &to}, 5}, // buy, sell, dividend, split, interest
		{readmodel.TransactionFilter{Symbol: "GOOG"}, 0},
		{readmodel.TransactionFilter{Symbol: "GOOG", IncludeVoided: true}, 1},
	} {
		page, err := q.Transactions(ctx, rmtest.UserA, "pa", c.f, "", 100)
		if err != nil || len(page.Items) != c.want || page.NextCursor != "" {
			t.Errorf("filter %+v: %d items, cursor %q, err %v; want %d", c.f, len(page.Items), page.NextCursor, err, c.want)
		}
	}
	page, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{Type: portfolio.Split}, "", 0)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("split: %+v %v", page, err)
	}
	if s := page.Items[0]; s.Ratio != "4:1" || s.Symbol != "AAPL" || s.Date != calendar.Date(rmtest.D("2024-04-01")) || s.Voided {
		t.Errorf("split view %+v", s)
	}
	for _, bad := range []string{"x", "MTox", "MTpub3Q6MQ"} {
		if _, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{}, bad, 10); !errors.Is(err, readmodel.ErrInvalidCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}

	// Targets.
	tg, err := q.Targets(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Targets) != 2 || tg.Targets[0].Symbol != "AAPL" || !tg.Targets[0].Weight.Equal(rmtest.Dec("0.6")) ||
		!tg.DriftBand.Equal(rmtest.Dec("0.1")) || tg.Version == 0 || tg.AsOfVersion != a.P.Version() {
		t.Errorf("targets %+v", tg)
	}
	if tg, err := q.Targets(ctx, rmtest.UserA, "pa2"); err != nil || len(tg.Targets) != 0 || tg.Version != 0 {
		t.Errorf("no targets: %+v %v", tg, err)
	}
}
