package command_test

import (
	"context"
	"errors"
	"testing"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestPreviewImportAfterSnapshotReadsTheHistory: a preview on a portfolio
// restored from a snapshot decides a back-dated row on the full history (as
// a command does), reports every row, refuses another user's portfolio as
// not found, and writes nothing.
func TestPreviewImportAfterSnapshotReadsTheHistory(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		svc := newService(store)
		ctx := context.Background()
		id := create(t, svc, "alice", "create-preview")
		for _, tx := range []portfolio.Transaction{buy("2024-01-02", "AAPL", "10"), buy("2024-03-01", "AAPL", "5"), sell("2024-04-01", "AAPL", "12"), buy("2024-05-01", "MSFT", "1"), buy("2024-05-02", "MSFT", "1")} {
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "alice"}, record(tx)); err != nil {
				t.Fatal(err)
			}
		}
		before := len(history(t, store, id))
		// Feb: 4 would leave −1 in April (refused, on the history); then 3 fits
		// on its own; a MSFT sell of 3 is more than the 2 held.
		rows := []portfolio.Transaction{sell("2024-02-01", "AAPL", "4"), sell("2024-02-01", "AAPL", "3"), sell("2024-06-01", "MSFT", "3")}
		preview, err := svc.PreviewImport(ctx, "alice", id, rows)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []error{portfolio.ErrInsufficientHoldings, nil, portfolio.ErrInsufficientHoldings} {
			if got := preview.Refused[i]; (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
				t.Errorf("row %d: %v, want %v", i, got, want)
			}
		}
		if after := len(history(t, store, id)); after != before {
			t.Fatalf("the preview wrote %d events", after-before)
		}
		if _, err := svc.PreviewImport(ctx, "bob", id, rows); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("bob's preview: %v", err)
		}
		if _, err := svc.PreviewImport(ctx, "alice", "no-such-portfolio", rows); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("a preview of nothing: %v", err)
		}
	})
}
