package command_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// fxService is a command service whose rates are the daily closes of a
// PostgreSQL read model: EURUSD=X on Friday 1 and Monday 4 March 2024,
// GBPUSD=X on the 1st.
func fxService(t *testing.T, store eventstore.Store) *command.Service {
	t.Helper()
	pool, _ := rmtest.DB(t)
	at := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	if _, err := readmodel.UpsertDailyCloses(context.Background(), pool, []readmodel.DailyClose{
		{Symbol: "EURUSD=X", Day: rmtest.D("2024-03-01"), Close: rmtest.Dec("1.08"), AsOf: at, Source: "test"},
		{Symbol: "EURUSD=X", Day: rmtest.D("2024-03-04"), Close: rmtest.Dec("1.09"), AsOf: at, Source: "test"},
		{Symbol: "GBPUSD=X", Day: rmtest.D("2024-03-01"), Close: rmtest.Dec("1.25"), AsOf: at, Source: "test"},
	}); err != nil {
		t.Fatal(err)
	}
	return command.New(store, command.Options{SnapshotEvery: snapshotEvery, MaxAttempts: 60, BaseBackoff: time.Millisecond,
		Rates: readmodel.NewFXRates(pool)})
}

func createIn(t *testing.T, svc *command.Service, user, key, base string) string {
	t.Helper()
	res, err := svc.Create(context.Background(), command.Request{UserID: user, CommandID: key}, portfolio.CreatePortfolio{Name: "Main", BaseCurrency: base})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return res.AggregateID
}

func recorded(t *testing.T, res command.Result) []portfolio.Transaction {
	t.Helper()
	switch d := res.Events[0].Data.(type) {
	case *portfolio.TransactionRecorded:
		return []portfolio.Transaction{d.Transaction}
	case *portfolio.TransactionsImported:
		return d.Transactions
	}
	t.Fatalf("event %s", res.Events[0].EventType)
	return nil
}

// A foreign transaction recorded without fxRate gets the rate of its date from
// the daily closes, recorded on its event: inverted (USD in a EUR portfolio),
// the last close on or before a weekend day, crossed through USD and exact for
// pence (GBp); a given rate and a transaction in the base are left alone.
func TestMissingRateIsLookedUpAndRecorded(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		ctx := context.Background()
		svc := fxService(t, store)
		id := createIn(t, svc, "u1", "create", "EUR")
		for _, c := range []struct {
			name string
			tx   portfolio.Transaction
			want string
		}{
			{"USD on a Saturday: Friday's 1/1.08", rmtest.In(rmtest.Buy("2024-03-02", "AAPL", "10", "150", "1"), "USD", ""), "0.925925925926"},
			{"USD on Monday", rmtest.In(rmtest.Cash(portfolio.Dividend, "2024-03-04", "AAPL", "5", "", ""), "USD", ""), "0.917431192661"},
			{"GBp through USD, per pound", rmtest.In(rmtest.Buy("2024-03-01", "VUSA.L", "10", "7000", ""), "GBp", ""), "1.157407407408"},
			{"given", rmtest.In(rmtest.Buy("2024-03-04", "AAPL", "1", "150", ""), "USD", "0.9"), "0.9"},
			{"in the base", rmtest.In(rmtest.Cash(portfolio.Deposit, "2024-03-04", "", "100", "", ""), "EUR", ""), "0"},
		} {
			res, err := svc.RecordTransaction(ctx, command.Request{AggregateID: id, UserID: "u1"}, func(p *portfolio.Portfolio) (portfolio.Transaction, error) {
				return c.tx, nil
			})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := recorded(t, res)[0].FXRate; !got.Equal(rmtest.Dec(c.want)) {
				t.Errorf("%s: fxRate %s, want %s", c.name, got, c.want)
			}
		}
	})
}

// Without a rate in force (no pair, before the first close, or a last close
// older than MaxRateAge days) the transaction is refused with
// ErrFXRateRequired naming the pair and the date, and nothing is written;
// so is an import with one such row, named by its index.
func TestMissingRateNotFoundIsRefused(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		ctx := context.Background()
		svc := fxService(t, store)
		id := createIn(t, svc, "u1", "create", "EUR")
		for _, c := range []struct {
			tx   portfolio.Transaction
			want []string
		}{
			{rmtest.In(rmtest.Buy("2024-03-04", "7203.T", "100", "2500", ""), "JPY", ""), []string{"JPY→EUR", "2024-03-04"}},
			{rmtest.In(rmtest.Buy("2024-02-29", "AAPL", "1", "150", ""), "USD", ""), []string{"USD→EUR", "2024-02-29"}},
			{rmtest.In(rmtest.Buy("2024-03-20", "AAPL", "1", "150", ""), "USD", ""), []string{"USD→EUR", "2024-03-20", "2024-03-04", "too old"}},
		} {
			_, err := svc.RecordTransaction(ctx, command.Request{AggregateID: id, UserID: "u1"}, func(*portfolio.Portfolio) (portfolio.Transaction, error) {
				return c.tx, nil
			})
			var missing *command.RateMissingError
			if !errors.Is(err, portfolio.ErrFXRateRequired) || !errors.As(err, &missing) || missing.To != "EUR" || missing.Day != c.tx.Date {
				t.Fatalf("%s %s on %s: %v, want ErrFXRateRequired", c.tx.Symbol, c.tx.Currency, c.tx.Date, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %q", err, w)
				}
			}
		}
		rows := []portfolio.Transaction{
			rmtest.In(rmtest.Buy("2024-03-01", "AAPL", "1", "150", ""), "USD", ""),
			rmtest.In(rmtest.Buy("2024-03-04", "7203.T", "1", "2500", ""), "JPY", ""),
		}
		_, err := svc.ImportTransactions(ctx, command.Request{AggregateID: id, UserID: "u1"}, rows)
		if !errors.Is(err, portfolio.ErrFXRateRequired) || !strings.HasPrefix(err.Error(), "transaction 1: ") {
			t.Fatalf("import with a JPY row: %v, want row 1 refused", err)
		}
		if n := len(history(t, store, id)); n != 1 {
			t.Fatalf("%d events after refusals, want the creation only", n)
		}
		// Without that row, every row is recorded with its rate; rows is not changed.
		res, err := svc.ImportTransactions(ctx, command.Request{AggregateID: id, UserID: "u1"}, rows[:1])
		if err != nil {
			t.Fatal(err)
		}
		if got := recorded(t, res); len(got) != 1 || !got[0].FXRate.Equal(rmtest.Dec("0.925925925926")) || !rows[0].FXRate.IsZero() {
			t.Errorf("imported %+v (the input's rate %s)", got, rows[0].FXRate)
		}
	})
}

// A service without rates refuses a foreign transaction without fxRate with
// ErrFXRateRequired.
func TestWithoutRatesTheAggregateDecides(t *testing.T) {
	svc := newService(eventstore.NewMemory())
	id := createIn(t, svc, "u1", "create", "EUR")
	_, err := svc.RecordTransaction(context.Background(), command.Request{AggregateID: id, UserID: "u1"}, func(*portfolio.Portfolio) (portfolio.Transaction, error) {
		return rmtest.In(rmtest.Buy("2024-03-04", "AAPL", "1", "150", ""), "USD", ""), nil
	})
	if !errors.Is(err, portfolio.ErrFXRateRequired) {
		t.Fatalf("%v, want ErrFXRateRequired", err)
	}
}
