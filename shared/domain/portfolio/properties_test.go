package portfolio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

var symbols = []string{"AAPL", "MSFT", "VWCE", "BND", "GE"}

// randomCommands drives a portfolio with a seeded mix of in-order and back-dated
// trades, splits, income and voids, many of them refused. It returns the aggregate
// and how many commands were accepted.
func randomCommands(t testing.TB, r *rand.Rand, n int) *portfolio.Portfolio {
	t.Helper()
	next := ids()
	cmd := 0
	meta := func() portfolio.Meta {
		cmd++
		return portfolio.Meta{UserID: alice, CausationID: fmt.Sprintf("c%d", cmd), Now: t0, NewID: next}
	}
	p, err := portfolio.Create("pf-r", portfolio.CreatePortfolio{Name: "R", BaseCurrency: "USD"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for i := 0; i < n; i++ {
		date := d("2020-01-01").AddDays(r.IntN(1500))
		sym := symbols[r.IntN(len(symbols))]
		qty := decimal.New(int64(1+r.IntN(2000)), -int32(r.IntN(3)))
		price := decimal.New(int64(1+r.IntN(50000)), -2)
		var tx portfolio.Transaction
		switch k := r.IntN(20); {
		case k < 8:
			tx = portfolio.Transaction{Type: portfolio.Buy, Date: date, Symbol: sym, Quantity: qty, Price: price, Fee: decimal.New(int64(r.IntN(500)), -2), Currency: "USD"}
		case k < 14:
			tx = portfolio.Transaction{Type: portfolio.Sell, Date: date, Symbol: sym, Quantity: qty, Price: price, Currency: "USD"}
		case k < 15:
			ratios := []portfolio.Ratio{{New: 2, Old: 1}, {New: 3, Old: 2}, {New: 1, Old: 4}, {New: 4, Old: 1}}
			tx = portfolio.Transaction{Type: portfolio.Split, Date: date, Symbol: sym, Ratio: ratios[r.IntN(len(ratios))], Currency: "USD"}
		case k < 16:
			tx = portfolio.Transaction{Type: portfolio.Dividend, Date: date, Symbol: sym, Amount: price, Tax: decimal.New(int64(r.IntN(100)), -2), Currency: "USD"}
		case k < 17 && len(recorded) > 0:
			id := recorded[r.IntN(len(recorded))]
			err := p.VoidTransaction(id, "random void", meta())
			if err != nil && !errors.Is(err, portfolio.ErrInsufficientHoldings) && !errors.Is(err, portfolio.ErrAlreadyVoided) {
				t.Fatalf("void: unexpected %v", err)
			}
			continue
		default:
			tx = portfolio.Transaction{Type: portfolio.Deposit, Date: date, Amount: price, Currency: "USD"}
		}
		got, err := p.RecordTransaction(tx, meta())
		if err != nil {
			if !errors.Is(err, portfolio.ErrInsufficientHoldings) {
				t.Fatalf("record %+v: unexpected %v", tx, err)
			}
			continue
		}
		recorded = append(recorded, got.ID)
	}
	return p
}

// checkQuantities recomputes every symbol's timeline from the active transactions,
// independently of the aggregate's incremental bookkeeping.
func checkQuantities(t testing.TB, p *portfolio.Portfolio) {
	t.Helper()
	txs, err := p.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]decimal.Decimal{}
	for _, tx := range txs {
		q := held[tx.Symbol]
		switch tx.Type {
		case portfolio.Buy:
			q = q.Add(tx.Quantity)
		case portfolio.Sell:
			left, ok := portfolio.ApplySell(q, tx.Quantity)
			if !ok {
				t.Fatalf("accepted history goes negative: %s sells %s of %s on %s", tx.Symbol, tx.Quantity, q, tx.Date)
			}
			q = left
		case portfolio.Split:
			q = tx.Ratio.Apply(q)
		}
		held[tx.Symbol] = q
	}
	for _, s := range symbols {
		got, ok := p.Quantity(s)
		if !ok || !got.Equal(held[s]) {
			t.Fatalf("%s: aggregate says %s (known %v), replay says %s", s, got, ok, held[s])
		}
	}
}

func TestPropertyRandomHistoriesKeepInvariants(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		p := randomCommands(t, rand.New(rand.NewPCG(seed, 7)), 300)
		checkQuantities(t, p)
	}
}

func TestPropertySnapshotRoundTripsExactly(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		p := randomCommands(t, rand.New(rand.NewPCG(seed, 11)), 200)
		snap, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		back, err := portfolio.Restore(snap)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := back.Snapshot()
		if !bytes.Equal(snap, again) {
			t.Fatalf("seed %d: snapshot does not round-trip:\n%s\n%s", seed, snap, again)
		}
		if back.HasFullHistory() {
			t.Fatal("a restored snapshot claims full history")
		}
	}
}

// snapshotState decodes a snapshot for field-wise comparison.
type snapshotState struct {
	Version int64 `json:"v"`
	Symbols []struct {
		Symbol   string          `json:"s"`
		Quantity decimal.Decimal `json:"q"`
		LastDate string          `json:"d"`
		Stale    bool            `json:"x"`
	} `json:"s"`
	Recent   []portfolio.CommandRecord `json:"r"`
	Recorded int                       `json:"rc"`
	Voided   int                       `json:"vd"`
	Name     string                    `json:"n"`
}

func TestPropertyFoldFromSnapshotPlusTailEqualsFoldOfAll(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewPCG(seed, 13))
		p := randomCommands(t, r, 250)
		events := p.Pending()
		full, err := portfolio.Fold(nil, events)
		if err != nil {
			t.Fatal(err)
		}
		fullSnap, _ := full.Snapshot()
		if direct, _ := p.Snapshot(); !bytes.Equal(direct, fullSnap) {
			t.Fatalf("seed %d: deciding and folding disagree", seed)
		}
		k := 1 + r.IntN(len(events)-1)
		head, err := portfolio.Fold(nil, events[:k])
		if err != nil {
			t.Fatal(err)
		}
		headSnap, _ := head.Snapshot()
		tail, err := portfolio.Fold(headSnap, events[k:])
		if err != nil {
			t.Fatalf("seed %d: fold tail after %d: %v", seed, k, err)
		}
		tailSnap, _ := tail.Snapshot()
		var want, got snapshotState
		_ = json.Unmarshal(fullSnap, &want)
		_ = json.Unmarshal(tailSnap, &got)
		if want.Version != got.Version || want.Recorded != got.Recorded || want.Voided != got.Voided ||
			!slices.Equal(want.Recent, got.Recent) || len(want.Symbols) != len(got.Symbols) {
			t.Fatalf("seed %d: header differs:\n%s\n%s", seed, fullSnap, tailSnap)
		}
		for i := range want.Symbols {
			w, g := want.Symbols[i], got.Symbols[i]
			if w.Symbol != g.Symbol || w.LastDate != g.LastDate {
				t.Fatalf("seed %d: symbol %d: %+v vs %+v", seed, i, w, g)
			}
			// Without the history, a back-dated change makes the quantity unknown
			// (and decisions on it ask for the history); it is never wrong.
			if !g.Stale && !w.Quantity.Equal(g.Quantity) {
				t.Fatalf("seed %d: %s quantity %s from snapshot+tail, %s from all", seed, w.Symbol, g.Quantity, w.Quantity)
			}
		}
		// An in-order tail folds exactly: nothing is stale.
		if _, err := tail.Transactions(); !errors.Is(err, portfolio.ErrHistoryRequired) {
			t.Fatalf("tail fold has history: %v", err)
		}
	}
}

func TestSnapshotModeAsksForHistoryOnlyWhenItMust(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	buy := f.mustRecord(trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"))
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "MSFT", "5", "300"))
	snap, _ := f.p.Snapshot()
	p, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	m := func(id string) portfolio.Meta {
		return portfolio.Meta{UserID: alice, CausationID: id, Now: t0, NewID: ids()}
	}
	// In order: decided from the snapshot alone.
	if _, err := p.RecordTransaction(trade(portfolio.Sell, "2024-02-01", "AAPL", "4", "120"), m("x1")); err != nil {
		t.Fatalf("in-order sell from snapshot: %v", err)
	}
	if _, err := p.RecordTransaction(trade(portfolio.Sell, "2024-02-02", "AAPL", "7", "120"), m("x2")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("oversell from snapshot: %v", err)
	}
	// Back-dated and void: need the history.
	if _, err := p.RecordTransaction(trade(portfolio.Sell, "2024-01-05", "MSFT", "1", "120"), m("x3")); !errors.Is(err, portfolio.ErrHistoryRequired) {
		t.Fatalf("back-dated from snapshot: %v", err)
	}
	if err := p.VoidTransaction(buy.ID, "typo", m("x4")); !errors.Is(err, portfolio.ErrHistoryRequired) {
		t.Fatalf("void from snapshot: %v", err)
	}
}

func TestPropertyVoidEqualsNeverRecorded(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 17))
		base := randomCommands(t, r, 120)
		txs, _ := base.Transactions()
		if len(txs) == 0 {
			continue
		}
		victim := txs[r.IntN(len(txs))]
		withVoid, _ := portfolio.Fold(nil, base.Pending())
		err := withVoid.VoidTransaction(victim.ID, "test", portfolio.Meta{UserID: alice, Now: t0, NewID: func() string { return "void" }})
		if errors.Is(err, portfolio.ErrInsufficientHoldings) {
			continue // not voidable: the history would break, which the fuzzer covers
		}
		if err != nil {
			t.Fatal(err)
		}
		// Record the same history without the victim, in date order (recording
		// order could refuse a sell that only a later back-dated buy supports).
		all := slices.Clone(txs)
		without, _ := portfolio.Create("pf-r", portfolio.CreatePortfolio{Name: "R", BaseCurrency: "USD"}, portfolio.Meta{UserID: alice, Now: t0})
		for _, tx := range all {
			if tx.ID == victim.ID {
				continue
			}
			if _, err := without.RecordTransaction(tx, portfolio.Meta{UserID: alice, Now: t0, NewID: func() string { return tx.ID }}); err != nil {
				t.Fatalf("seed %d: re-recording without the voided one: %v", seed, err)
			}
		}
		a, _ := withVoid.Transactions()
		b, _ := without.Transactions()
		if len(a) != len(b) {
			t.Fatalf("seed %d: %d vs %d active transactions", seed, len(a), len(b))
		}
		for i := range a {
			if a[i].ID != b[i].ID {
				t.Fatalf("seed %d: order differs at %d: %s vs %s", seed, i, a[i].ID, b[i].ID)
			}
		}
		for _, s := range symbols {
			qa, _ := withVoid.Quantity(s)
			qb, _ := without.Quantity(s)
			if !qa.Equal(qb) {
				t.Fatalf("seed %d: %s: %s with void, %s never recorded", seed, s, qa, qb)
			}
		}
	}
}

// FuzzCommands interprets bytes as a command sequence. Whatever is accepted must
// keep every position non-negative on every date, and the state must survive a
// snapshot round trip and a refold.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 1, 10, 1, 1, 5, 2, 3, 7, 4, 0, 9})
	f.Add([]byte{0, 0, 200, 1, 0, 150, 3, 0, 2, 1, 0, 255, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := ids()
		meta := portfolio.Meta{UserID: alice, Now: t0, NewID: next}
		p, err := portfolio.Create("pf-f", portfolio.CreatePortfolio{Name: "F", BaseCurrency: "USD"}, meta)
		if err != nil {
			t.Fatal(err)
		}
		var recorded []string
		for len(data) >= 3 {
			op, a, b := data[0]%6, data[1], data[2]
			data = data[3:]
			sym := symbols[int(a)%3]
			date := d("2024-01-01").AddDays(int(b) % 40)
			qty := decimal.New(int64(a)+1, -int32(b%3))
			var tx portfolio.Transaction
			switch op {
			case 0:
				tx = portfolio.Transaction{Type: portfolio.Buy, Date: date, Symbol: sym, Quantity: qty, Price: decimal.NewFromInt(10), Currency: "USD"}
			case 1:
				tx = portfolio.Transaction{Type: portfolio.Sell, Date: date, Symbol: sym, Quantity: qty, Price: decimal.NewFromInt(10), Currency: "USD"}
			case 2:
				tx = portfolio.Transaction{Type: portfolio.Split, Date: date, Symbol: sym, Ratio: portfolio.Ratio{New: int64(a%4) + 1, Old: int64(b%3) + 1}, Currency: "USD"}
			case 3, 4:
				if len(recorded) > 0 {
					_ = p.VoidTransaction(recorded[int(a)%len(recorded)], "fuzz", meta)
				}
				continue
			default:
				tx = portfolio.Transaction{Type: portfolio.Dividend, Date: date, Symbol: sym, Amount: qty, Currency: "USD"}
			}
			if got, err := p.RecordTransaction(tx, meta); err == nil {
				recorded = append(recorded, got.ID)
			}
		}
		checkQuantities(t, p)
		snap, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		refold, err := portfolio.Fold(nil, p.Pending())
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := refold.Snapshot(); !bytes.Equal(snap, again) {
			t.Fatalf("refold differs:\n%s\n%s", snap, again)
		}
	})
}
