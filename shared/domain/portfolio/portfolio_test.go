package portfolio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/shopspring/decimal"
)

const alice, bob = "user-alice", "user-bob"

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// ids returns a Meta.NewID that counts, so event and transaction IDs read e1, e2, ...
func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("e%d", n) }
}

type fixture struct {
	t    *testing.T
	p    *portfolio.Portfolio
	next func() string
	cmd  int
}

func newFixture(t *testing.T, method portfolio.LotMethod) *fixture {
	t.Helper()
	f := &fixture{t: t, next: ids()}
	p, err := portfolio.Create("pf-1", portfolio.CreatePortfolio{Name: "Main", BaseCurrency: "USD", LotMethod: method}, f.meta(alice))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	f.p = p
	return f
}

func (f *fixture) meta(user string) portfolio.Meta {
	f.cmd++
	return portfolio.Meta{UserID: user, CorrelationID: "corr", CausationID: fmt.Sprintf("cmd-%d", f.cmd), Now: t0, NewID: f.next}
}

func d(s string) calendar.Date {
	v, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func trade(typ portfolio.TxType, date, symbol, qty, price string) portfolio.Transaction {
	return portfolio.Transaction{Type: typ, Date: d(date), Symbol: symbol, Quantity: dec(qty), Price: dec(price), Currency: "USD"}
}

func split(date, symbol string, n, o int64) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Split, Date: d(date), Symbol: symbol, Ratio: portfolio.Ratio{New: n, Old: o}, Currency: "USD"}
}

func (f *fixture) record(tx portfolio.Transaction) (portfolio.Transaction, error) {
	return f.p.RecordTransaction(tx, f.meta(alice))
}

func (f *fixture) mustRecord(tx portfolio.Transaction) portfolio.Transaction {
	f.t.Helper()
	got, err := f.record(tx)
	if err != nil {
		f.t.Fatalf("record %s %s on %s: %v", tx.Type, tx.Symbol, tx.Date, err)
	}
	return got
}

func (f *fixture) quantity(symbol string) string {
	q, ok := f.p.Quantity(symbol)
	if !ok {
		return "unknown"
	}
	return q.String()
}

func TestCreateStampsTheEnvelope(t *testing.T) {
	f := newFixture(t, "")
	ev := f.p.Pending()
	if len(ev) != 1 {
		t.Fatalf("pending = %d events, want 1", len(ev))
	}
	e := ev[0]
	if e.EventType != portfolio.TypePortfolioCreated || e.AggregateID != "pf-1" || e.AggregateType != "Portfolio" ||
		e.Version != 1 || e.UserID != alice || e.CorrelationID != "corr" || e.CausationID != "cmd-1" ||
		e.EventID != "e1" || !e.Timestamp.Equal(t0) || e.SchemaVersion != 1 {
		t.Fatalf("envelope = %+v", e)
	}
	if f.p.LotMethod() != portfolio.FIFO {
		t.Fatalf("default lot method = %s, want FIFO", f.p.LotMethod())
	}
}

func TestCreateRejects(t *testing.T) {
	m := portfolio.Meta{UserID: alice, Now: t0}
	cases := map[string]portfolio.CreatePortfolio{
		"empty name":       {Name: "  ", BaseCurrency: "USD"},
		"long name":        {Name: strings.Repeat("x", 101), BaseCurrency: "USD"},
		"unknown currency": {Name: "A", BaseCurrency: "UDS"},
		"lower currency":   {Name: "A", BaseCurrency: "usd"},
		"bad lot method":   {Name: "A", BaseCurrency: "USD", LotMethod: "LIFO"},
	}
	for name, cmd := range cases {
		if _, err := portfolio.Create("pf", cmd, m); !errors.Is(err, portfolio.ErrInvalidCommand) {
			t.Errorf("%s: err = %v, want ErrInvalidCommand", name, err)
		}
	}
	if _, err := portfolio.Create("pf", portfolio.CreatePortfolio{Name: "A", BaseCurrency: "USD"}, portfolio.Meta{Now: t0}); !errors.Is(err, portfolio.ErrInvalidCommand) {
		t.Errorf("no user: err = %v", err)
	}
	f := newFixture(t, portfolio.FIFO)
	if err := f.p.Create("pf-1", portfolio.CreatePortfolio{Name: "B", BaseCurrency: "USD"}, f.meta(alice)); !errors.Is(err, portfolio.ErrAlreadyExists) {
		t.Errorf("second create: err = %v, want ErrAlreadyExists", err)
	}
}

func TestSellLimitedToHoldingOnTradeDate(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"))
	// Nothing was held on Jan 5: the buy came later.
	if _, err := f.record(trade(portfolio.Sell, "2024-01-05", "AAPL", "1", "100")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("back-dated sell before the buy: err = %v", err)
	}
	// 10 held; selling 10.5 is too much.
	if _, err := f.record(trade(portfolio.Sell, "2024-01-11", "AAPL", "10.5", "100")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("oversell: err = %v", err)
	}
	f.mustRecord(trade(portfolio.Sell, "2024-03-01", "AAPL", "8", "120")) // 10 − 8 = 2
	// A back-dated sell of 5 on Feb 1 fits then (10 held) but leaves Mar 1's sell of 8
	// short (10 − 5 − 8 = −3): refused.
	_, err := f.record(trade(portfolio.Sell, "2024-02-01", "AAPL", "5", "110"))
	if !errors.Is(err, portfolio.ErrInsufficientHoldings) || !strings.Contains(err.Error(), "2024-03-01") {
		t.Fatalf("back-dated sell breaking a later one: err = %v", err)
	}
	// A back-dated sell of 2 fits everywhere: 10 − 2 − 8 = 0.
	f.mustRecord(trade(portfolio.Sell, "2024-02-01", "AAPL", "2", "110"))
	if got := f.quantity("AAPL"); got != "0" {
		t.Fatalf("quantity = %s, want 0", got)
	}
	// Refused commands wrote nothing: create + buy + sell + sell = 4 events.
	if f.p.Version() != 4 || len(f.p.Pending()) != 4 {
		t.Fatalf("version %d, pending %d; want 4, 4", f.p.Version(), len(f.p.Pending()))
	}
}

func TestDustSellClosesTheHolding(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "VWCE", "10", "100"))
	// 10.000000005 − 10 = 0.000000005 ≤ 1e-8: accepted, and the holding is 0, not −5e-9.
	f.mustRecord(trade(portfolio.Sell, "2024-01-11", "VWCE", "10.000000005", "100"))
	if got := f.quantity("VWCE"); got != "0" {
		t.Fatalf("quantity = %s, want 0", got)
	}
	f.mustRecord(trade(portfolio.Buy, "2024-01-12", "VWCE", "10", "100"))
	// 0.00000002 over: more than dust, refused.
	if _, err := f.record(trade(portfolio.Sell, "2024-01-13", "VWCE", "10.00000002", "100")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("err = %v", err)
	}
}

func TestSplitsScaleQuantityAndApplyBeforeSameDayTrades(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "NVDA", "10", "800"))
	f.mustRecord(split("2024-06-10", "NVDA", 10, 1)) // 10 × 10/1 = 100
	if got := f.quantity("NVDA"); got != "100" {
		t.Fatalf("after 10:1 = %s, want 100", got)
	}
	f.mustRecord(trade(portfolio.Sell, "2024-06-11", "NVDA", "100", "120"))
	f.mustRecord(trade(portfolio.Buy, "2024-07-01", "GE", "15", "100"))
	// A same-day split applies before that day's trades: on Jul 1 the 1:10 split
	// sees 0 shares, then the buy adds 15. Recorded after the buy, it is out of
	// order and goes through the timeline: quantity stays 15.
	f.mustRecord(split("2024-07-01", "GE", 1, 10))
	if got := f.quantity("GE"); got != "15" {
		t.Fatalf("same-day split = %s, want 15", got)
	}
	// A 1:10 reverse split on Jul 2 leaves 1.5; selling 2 after it is refused.
	f.mustRecord(split("2024-07-02", "GE", 1, 10))
	if got := f.quantity("GE"); got != "1.5" {
		t.Fatalf("after 1:10 = %s, want 1.5", got)
	}
	if _, err := f.record(trade(portfolio.Sell, "2024-07-03", "GE", "2", "1000")); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("err = %v", err)
	}
}

func TestBackDatedReverseSplitThatBreaksALaterSellIsRefused(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "XYZ", "100", "1"))
	f.mustRecord(trade(portfolio.Sell, "2024-05-01", "XYZ", "50", "1"))
	// 1:10 on Mar 1 would leave 10 shares before May's sell of 50.
	if _, err := f.record(split("2024-03-01", "XYZ", 1, 10)); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("err = %v", err)
	}
	// 2:1 on Mar 1 is fine: 200 − 50 = 150.
	f.mustRecord(split("2024-03-01", "XYZ", 2, 1))
	if got := f.quantity("XYZ"); got != "150" {
		t.Fatalf("quantity = %s, want 150", got)
	}
}

func TestVoid(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	buy := f.mustRecord(trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"))
	sell := f.mustRecord(trade(portfolio.Sell, "2024-02-10", "AAPL", "8", "100"))
	// Voiding the buy leaves the sell with nothing to sell.
	if err := f.p.VoidTransaction(buy.ID, "typo", f.meta(alice)); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("void buy: err = %v", err)
	}
	if err := f.p.VoidTransaction(sell.ID, "", f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidCommand) {
		t.Fatalf("void without reason: err = %v", err)
	}
	if err := f.p.VoidTransaction(sell.ID, "entered twice", f.meta(alice)); err != nil {
		t.Fatalf("void sell: %v", err)
	}
	if got := f.quantity("AAPL"); got != "10" {
		t.Fatalf("quantity = %s, want 10", got)
	}
	if err := f.p.VoidTransaction(sell.ID, "again", f.meta(alice)); !errors.Is(err, portfolio.ErrAlreadyVoided) {
		t.Fatalf("second void: err = %v", err)
	}
	if err := f.p.VoidTransaction("nope", "x", f.meta(alice)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Fatalf("unknown: err = %v", err)
	}
	txs, _ := f.p.Transactions()
	if len(txs) != 1 || txs[0].ID != buy.ID || f.p.TransactionCount() != 1 {
		t.Fatalf("active = %+v", txs)
	}
	last := f.p.Pending()[len(f.p.Pending())-1].Data.(*portfolio.TransactionVoided)
	if last.Voided.Symbol != "AAPL" || !last.Voided.Quantity.Equal(dec("8")) {
		t.Fatalf("void event carries %+v", last.Voided)
	}
}

func TestCommandsRefusedForStrangersArchivedAndForeignCurrency(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	if _, err := f.p.RecordTransaction(trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1"), f.meta(bob)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Fatalf("bob: err = %v, want ErrNotFound", err)
	}
	eur := trade(portfolio.Buy, "2024-01-10", "SAP", "1", "1")
	eur.Currency = "EUR"
	if _, err := f.record(eur); !errors.Is(err, portfolio.ErrFXRateRequired) {
		t.Fatalf("EUR into USD without a rate: err = %v", err)
	}
	eur.FXRate = dec("1.1")
	if _, err := f.record(eur); err != nil {
		t.Fatalf("EUR into USD at 1.1: %v", err)
	}
	again := trade(portfolio.Buy, "2024-01-11", "SAP", "1", "1") // USD, but SAP trades in EUR here
	if _, err := f.record(again); !errors.Is(err, portfolio.ErrCurrencyMismatch) {
		t.Fatalf("SAP in USD after SAP in EUR: err = %v", err)
	}
	home := trade(portfolio.Buy, "2024-01-11", "AAPL", "1", "1")
	home.FXRate = dec("1.2")
	if _, err := f.record(home); !errors.Is(err, portfolio.ErrCurrencyMismatch) {
		t.Fatalf("fxRate on a base-currency trade: err = %v", err)
	}
	conv := portfolio.Transaction{Type: portfolio.Conversion, Date: d("2024-01-12"), Currency: "EUR", Amount: dec("100"), ToCurrency: "USD", ToAmount: dec("109.50")}
	got, err := f.record(conv)
	if err != nil || !got.FXRate.Equal(dec("1.095")) {
		t.Fatalf("EUR→USD conversion: %+v, %v (want its own rate 109.50/100 = 1.095)", got, err)
	}
	if err := f.p.Archive("done", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.record(trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1")); !errors.Is(err, portfolio.ErrArchived) {
		t.Fatalf("archived: err = %v", err)
	}
	if err := f.p.ChangeDetails("New", "", f.meta(alice)); !errors.Is(err, portfolio.ErrArchived) {
		t.Fatalf("archived rename: err = %v", err)
	}
	var empty portfolio.Portfolio
	if _, err := empty.RecordTransaction(trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1"), f.meta(alice)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Fatalf("missing portfolio: err = %v", err)
	}
}

func TestTransactionValidation(t *testing.T) {
	base := func() portfolio.Transaction { return trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1") }
	cases := map[string]func(*portfolio.Transaction){
		"zero quantity":     func(tx *portfolio.Transaction) { tx.Quantity = decimal.Zero },
		"negative price":    func(tx *portfolio.Transaction) { tx.Price = dec("-1") },
		"negative fee":      func(tx *portfolio.Transaction) { tx.Fee = dec("-0.01") },
		"negative tax":      func(tx *portfolio.Transaction) { tx.Tax = dec("-0.01") },
		"no symbol":         func(tx *portfolio.Transaction) { tx.Symbol = "" },
		"padded symbol":     func(tx *portfolio.Transaction) { tx.Symbol = " AAPL" },
		"unknown currency":  func(tx *portfolio.Transaction) { tx.Currency = "XXX" },
		"amount on a trade": func(tx *portfolio.Transaction) { tx.Amount = dec("1") },
		"ratio on a trade":  func(tx *portfolio.Transaction) { tx.Ratio = portfolio.Ratio{New: 2, Old: 1} },
		"unknown type":      func(tx *portfolio.Transaction) { tx.Type = "GIFT" },
		"dividend no amount": func(tx *portfolio.Transaction) {
			*tx = portfolio.Transaction{Type: portfolio.Dividend, Date: tx.Date, Symbol: "AAPL", Currency: "USD"}
		},
		"deposit w/ symbol": func(tx *portfolio.Transaction) {
			*tx = portfolio.Transaction{Type: portfolio.Deposit, Date: tx.Date, Symbol: "AAPL", Amount: dec("1"), Currency: "USD"}
		},
		"split 1:1": func(tx *portfolio.Transaction) { *tx = split("2024-01-10", "AAPL", 1, 1) },
		"split 0:1": func(tx *portfolio.Transaction) { *tx = split("2024-01-10", "AAPL", 0, 1) },
	}
	for name, mutate := range cases {
		tx := base()
		mutate(&tx)
		if err := tx.Validate(); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("%s: err = %v, want ErrInvalidTransaction", name, err)
		}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid buy: %v", err)
	}
}

func TestCashEffect(t *testing.T) {
	cases := []struct {
		tx   portfolio.Transaction
		want string
	}{
		// −(3 × 100) − 1 fee − 0.5 tax = −301.5
		{portfolio.Transaction{Type: portfolio.Buy, Quantity: dec("3"), Price: dec("100"), Fee: dec("1"), Tax: dec("0.5")}, "-301.5"},
		// 2 × 110 − 1 = 219
		{portfolio.Transaction{Type: portfolio.Sell, Quantity: dec("2"), Price: dec("110"), Fee: dec("1")}, "219"},
		// 10 gross − 1.5 withholding = 8.5
		{portfolio.Transaction{Type: portfolio.Dividend, Amount: dec("10"), Tax: dec("1.5")}, "8.5"},
		{portfolio.Transaction{Type: portfolio.Fee, Amount: dec("4.99")}, "-4.99"},
		{portfolio.Transaction{Type: portfolio.Deposit, Amount: dec("1000")}, "1000"},
		{portfolio.Transaction{Type: portfolio.Withdrawal, Amount: dec("250")}, "-250"},
		{portfolio.Transaction{Type: portfolio.Split, Ratio: portfolio.Ratio{New: 2, Old: 1}}, "0"},
	}
	for _, c := range cases {
		if got := c.tx.CashEffect().String(); got != c.want {
			t.Errorf("%s: cash effect %s, want %s", c.tx.Type, got, c.want)
		}
	}
}

func TestTargets(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	good := portfolio.TargetAllocation{Targets: []portfolio.Target{{Symbol: "VTI", Weight: dec("0.6")}, {Symbol: "BND", Weight: dec("0.4")}}, DriftBand: dec("0.05")}
	if err := f.p.SetTargets(good, f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	got, ok := f.p.Targets()
	if !ok || got.Targets[0].Symbol != "BND" {
		t.Fatalf("targets = %+v (want sorted by symbol)", got)
	}
	bad := []portfolio.TargetAllocation{
		{Targets: []portfolio.Target{{Symbol: "VTI", Weight: dec("0.6")}, {Symbol: "BND", Weight: dec("0.3")}}, DriftBand: dec("0.05")},  // sums to 0.9
		{Targets: []portfolio.Target{{Symbol: "VTI", Weight: dec("1.2")}, {Symbol: "BND", Weight: dec("-0.2")}}, DriftBand: dec("0.05")}, // outside [0,1]
		{Targets: []portfolio.Target{{Symbol: "VTI", Weight: dec("0.5")}, {Symbol: "VTI", Weight: dec("0.5")}}, DriftBand: dec("0.05")},  // duplicate
		{Targets: []portfolio.Target{{Symbol: "VTI", Weight: dec("1")}}, DriftBand: dec("0")},                                            // no band
		{},
	}
	for i, a := range bad {
		if err := f.p.SetTargets(a, f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidTargets) {
			t.Errorf("bad[%d]: err = %v", i, err)
		}
	}
}

func TestRecordTransactionsIsAllOrNothing(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	batch := []portfolio.Transaction{
		trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"),
		trade(portfolio.Sell, "2024-01-11", "AAPL", "4", "100"),
		trade(portfolio.Sell, "2024-01-12", "AAPL", "7", "100"), // 6 left: refused
	}
	_, err := f.p.RecordTransactions(batch, f.meta(alice))
	if !errors.Is(err, portfolio.ErrInsufficientHoldings) || !strings.HasPrefix(err.Error(), "transaction 2:") {
		t.Fatalf("err = %v", err)
	}
	if f.p.Version() != 1 || len(f.p.Pending()) != 1 || f.quantity("AAPL") != "0" {
		t.Fatalf("refused batch changed state: version %d, pending %d, qty %s", f.p.Version(), len(f.p.Pending()), f.quantity("AAPL"))
	}
	txs, err := f.p.RecordTransactions(batch[:2], f.meta(alice))
	if err != nil || len(txs) != 2 || txs[0].Seq != portfolio.SeqOf(2, 0) || txs[1].Seq != portfolio.SeqOf(3, 0) {
		t.Fatalf("batch: %v %+v", err, txs)
	}
	rec, ok := f.p.FindCommand(f.p.Pending()[2].CausationID)
	if !ok || rec.FromVersion != 2 || rec.ToVersion != 3 {
		t.Fatalf("FindCommand = %+v %v, want versions 2..3", rec, ok)
	}
}

func TestEventJSONRoundTripAndCorruption(t *testing.T) {
	f := newFixture(t, portfolio.AverageCost)
	f.mustRecord(portfolio.Transaction{Type: portfolio.Buy, Date: d("2024-01-10"), Symbol: "AAPL", Quantity: dec("1.5"), Price: dec("190.25"), Fee: dec("1"), Tax: dec("0.1"), Currency: "USD", Note: "first"})
	f.mustRecord(split("2024-02-10", "AAPL", 4, 1))
	for _, e := range f.p.Pending() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back portfolio.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("round trip:\n%s\n%s", b, b2)
		}
	}
	good, _ := json.Marshal(f.p.Pending()[1])
	corrupt := map[string]string{
		"not json":        `{"eventId":`,
		"unknown type":    strings.Replace(string(good), `"TransactionRecorded"`, `"TransactionTeleported"`, 1),
		"no data":         strings.Replace(string(good), `"data":{`, `"nodata":{`, 1),
		"unknown field":   strings.Replace(string(good), `"symbol":"AAPL"`, `"symbol":"AAPL","colour":"red"`, 1),
		"bad decimal":     strings.Replace(string(good), `"quantity":"1.5"`, `"quantity":"one"`, 1),
		"no event id":     strings.Replace(string(good), `"eventId":"e2"`, `"eventId":""`, 1),
		"future schema":   strings.Replace(string(good), `"schemaVersion":1`, `"schemaVersion":9`, 1),
		"wrong aggregate": strings.Replace(string(good), `"aggregateType":"Portfolio"`, `"aggregateType":"Order"`, 1),
	}
	for name, raw := range corrupt {
		_, err := portfolio.DecodeEvent([]byte(raw))
		if !errors.Is(err, portfolio.ErrCorruptEvent) {
			t.Errorf("%s: err = %v, want ErrCorruptEvent", name, err)
			continue
		}
		if name != "not json" && !strings.Contains(err.Error(), "pf-1") {
			t.Errorf("%s: error %q does not name the aggregate", name, err)
		}
	}
}

func TestApplyRejectsEventsThatCannotFollow(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1"))
	events := f.p.Pending()
	if _, err := portfolio.Fold(nil, []portfolio.Event{events[1]}); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Fatalf("gap: err = %v", err)
	}
	if _, err := portfolio.Fold(nil, []portfolio.Event{events[0], events[0]}); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Fatalf("duplicate: err = %v", err)
	}
	orphan := events[1]
	orphan.Version = 1
	if _, err := portfolio.Fold(nil, []portfolio.Event{orphan}); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Fatalf("trade before create: err = %v", err)
	}
}

func TestRatioApply(t *testing.T) {
	cases := []struct {
		r        portfolio.Ratio
		in, want string
	}{
		{portfolio.Ratio{New: 4, Old: 1}, "10", "40"},
		{portfolio.Ratio{New: 1, Old: 10}, "15", "1.5"},
		{portfolio.Ratio{New: 1, Old: 10}, "20", "2"},
		{portfolio.Ratio{New: 3, Old: 2}, "7", "10.5"},
		{portfolio.Ratio{New: 1, Old: 3}, "10", "3.333333333333"}, // not exact: 12 places
		{portfolio.Ratio{New: 2, Old: 1}, "0.000001", "0.000002"},
	}
	for _, c := range cases {
		if got := c.r.Apply(dec(c.in)); got.String() != c.want {
			t.Errorf("%s × %s = %s, want %s", c.in, c.r, got, c.want)
		}
	}
}

func TestParseRatio(t *testing.T) {
	good := map[string]portfolio.Ratio{"4:1": {New: 4, Old: 1}, "1:10": {New: 1, Old: 10}, " 3:2 ": {New: 3, Old: 2}}
	for in, want := range good {
		if got, err := portfolio.ParseRatio(in); err != nil || got != want {
			t.Errorf("ParseRatio(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"010:1", "0x10:1", "4x:1", "4:1:2", "-4:1", "+4:1", "4:0", "0:1", "4", "", ":", "4.5:1", "99999999999999999999:1"} {
		if _, err := portfolio.ParseRatio(in); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("ParseRatio(%q) err = %v, want ErrInvalidTransaction", in, err)
		}
	}
}

func TestApplySellDust(t *testing.T) {
	cases := []struct {
		held, sold, left string
		ok               bool
	}{
		{"10", "4", "6", true},
		{"10", "10", "0", true},
		{"10", "10.000000005", "0", true},            // over by 5e-9: closes
		{"10", "10.00000002", "-0.00000002", false},  // over by 2e-8: refused
		{"3.333333333333", "3.333333333", "0", true}, // 3.33e-10 left: closes
		{"10", "9.99999998", "0.00000002", true},     // 2e-8 left: stays
	}
	for _, c := range cases {
		left, ok := portfolio.ApplySell(dec(c.held), dec(c.sold))
		if ok != c.ok || (ok && !left.Equal(dec(c.left))) {
			t.Errorf("ApplySell(%s, %s) = %s, %v; want %s, %v", c.held, c.sold, left, ok, c.left, c.ok)
		}
	}
}

func TestSortForReplayIsStableAndPutsSplitsFirst(t *testing.T) {
	txs := []portfolio.Transaction{
		{ID: "c", Date: d("2024-01-03"), Type: portfolio.Buy},
		{ID: "b2", Date: d("2024-01-02"), Type: portfolio.Sell},
		{ID: "s", Date: d("2024-01-02"), Type: portfolio.Split},
		{ID: "b1", Date: d("2024-01-02"), Type: portfolio.Buy},
		{ID: "a", Date: d("2024-01-01"), Type: portfolio.Buy},
	}
	portfolio.SortForReplay(txs)
	var got []string
	for _, tx := range txs {
		got = append(got, tx.ID)
	}
	if strings.Join(got, ",") != "a,s,b2,b1,c" {
		t.Fatalf("order = %v, want a,s,b2,b1,c (file order kept within a date)", got)
	}
}

func TestSortForReplayMatchesAStableSortOnRandomInput(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 50; round++ {
		txs := make([]portfolio.Transaction, r.IntN(300))
		for i := range txs {
			typ := portfolio.Buy
			if r.IntN(5) == 0 {
				typ = portfolio.Split
			}
			txs[i] = portfolio.Transaction{ID: fmt.Sprint(i), Date: d("2024-01-01").AddDays(r.IntN(20)), Type: typ, Seq: int64(r.IntN(3))}
		}
		want := slices.Clone(txs)
		slices.SortStableFunc(want, func(a, b portfolio.Transaction) int { return portfolio.CompareForReplay(&a, &b) })
		portfolio.SortForReplay(txs)
		for i := range txs {
			if txs[i].ID != want[i].ID {
				t.Fatalf("round %d: position %d holds %s, want %s", round, i, txs[i].ID, want[i].ID)
			}
		}
	}
}

func TestControlCharactersAreRefused(t *testing.T) {
	if _, err := portfolio.Create("pf", portfolio.CreatePortfolio{Name: "a\x00b", BaseCurrency: "USD"}, portfolio.Meta{UserID: alice, Now: t0}); !errors.Is(err, portfolio.ErrInvalidCommand) {
		t.Errorf("NUL in a name: %v", err)
	}
	tx := trade(portfolio.Buy, "2024-01-10", "AAPL", "1", "1")
	tx.Note = "bad\x1b[31m"
	if err := tx.Validate(); !errors.Is(err, portfolio.ErrInvalidTransaction) {
		t.Errorf("escape in a note: %v", err)
	}
	tx.Note = "two lines\nare fine"
	if err := tx.Validate(); err != nil {
		t.Errorf("newline in a note: %v", err)
	}
}

func TestImportIsOneEventAllOrNothing(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	rows := []portfolio.Transaction{
		trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"),
		trade(portfolio.Sell, "2024-01-12", "AAPL", "4", "110"),
		split("2024-01-11", "AAPL", 2, 1), // between them: 20 held, then 16 left
	}
	bad := append(slices.Clone(rows), trade(portfolio.Sell, "2024-01-13", "AAPL", "17", "110"))
	if _, err := f.p.ImportTransactions(bad, f.meta(alice)); !errors.Is(err, portfolio.ErrInsufficientHoldings) || !strings.HasPrefix(err.Error(), "transaction 3:") {
		t.Fatalf("oversold import: %v", err)
	}
	if f.p.Version() != 1 || f.quantity("AAPL") != "0" {
		t.Fatalf("refused import changed the state: version %d, AAPL %s", f.p.Version(), f.quantity("AAPL"))
	}
	got, err := f.p.ImportTransactions(rows, f.meta(alice))
	if err != nil {
		t.Fatal(err)
	}
	if f.p.Version() != 2 || len(f.p.Pending()) != 2 || f.quantity("AAPL") != "16" {
		t.Fatalf("import: version %d, %d events, AAPL %s; want 2, 2, 16", f.p.Version(), len(f.p.Pending()), f.quantity("AAPL"))
	}
	for i, tx := range got {
		if tx.Seq != portfolio.SeqOf(2, i) || tx.ID == "" {
			t.Fatalf("transaction %d: seq %d, id %q", i, tx.Seq, tx.ID)
		}
	}
	// The same state folds from the stored events, and through a snapshot.
	refold, err := portfolio.Fold(nil, f.p.Pending())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.p.Snapshot()
	b, _ := refold.Snapshot()
	if !bytes.Equal(a, b) {
		t.Fatalf("refold differs:\n%s\n%s", a, b)
	}
	raw, _ := json.Marshal(f.p.Pending()[1])
	decoded, err := portfolio.DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	imp := decoded.Data.(*portfolio.TransactionsImported)
	if len(imp.Transactions) != 3 || imp.Transactions[2].Seq != portfolio.SeqOf(2, 2) {
		t.Fatalf("decoded import %+v", imp)
	}
	if _, err := f.p.ImportTransactions(nil, f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidCommand) {
		t.Fatalf("empty import: %v", err)
	}
}

// TestTransactionsPerPortfolioQuota: imports and single records stop at
// quota.TransactionsPerPortfolio, voided transactions still count, and the count
// survives a snapshot.
func TestTransactionsPerPortfolioQuota(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	limit := quota.TransactionsPerPortfolio.Limit
	deposits := func(n int) []portfolio.Transaction {
		out := make([]portfolio.Transaction, n)
		for i := range out {
			out[i] = portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-10"), Amount: dec("1"), Currency: "USD"}
		}
		return out
	}
	for f.p.TransactionsRecorded()+portfolio.MaxImport <= limit-portfolio.MaxImport/2 {
		if _, err := f.p.ImportTransactions(deposits(portfolio.MaxImport), f.meta(alice)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.p.ImportTransactions(deposits(portfolio.MaxImport/2), f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	refused := func(step string, err error, would int) {
		t.Helper()
		var qe *quota.ExceededError
		if !errors.As(err, &qe) || qe.Quota.Name != quota.TransactionsPerPortfolio.Name || qe.Would != would {
			t.Fatalf("%s: %v, want the transactions quota refusing %d", step, err, would)
		}
	}
	version := f.p.Version()
	_, err := f.p.ImportTransactions(deposits(portfolio.MaxImport), f.meta(alice))
	refused("an import across the limit", err, limit-portfolio.MaxImport/2+portfolio.MaxImport)
	if f.p.Version() != version {
		t.Fatal("a refused import changed the aggregate")
	}
	if _, err := f.p.ImportTransactions(deposits(portfolio.MaxImport/2-1), f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	last := f.mustRecord(portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-11"), Amount: dec("1"), Currency: "USD"})
	if f.p.TransactionsRecorded() != limit {
		t.Fatalf("%d recorded, want %d", f.p.TransactionsRecorded(), limit)
	}
	if err := f.p.VoidTransaction(last.ID, "typo", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	_, err = f.record(portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-12"), Amount: dec("1"), Currency: "USD"})
	refused("a record past the limit after a void", err, limit+1)
	snap, err := f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	_, err = restored.RecordTransactions([]portfolio.Transaction{{Type: portfolio.Deposit, Date: d("2024-01-12"), Amount: dec("1"), Currency: "USD"}}, f.meta(alice))
	refused("a record on the restored snapshot", err, limit+1)
}

// TestPreviewImportReportsEveryRow: the preview checks each row as the import
// does, against what the accepted rows before it leave: every refusal is
// named (not only the first), a sell after a refused buy is refused in turn,
// the rows it accepts are exactly those an import of them alone records, and
// nothing is emitted.
func TestPreviewImportReportsEveryRow(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-05", "MSFT", "5", "370"))
	eur := trade(portfolio.Buy, "2024-01-09", "MSFT", "1", "340")
	eur.Currency = "EUR" // MSFT trades in USD here, and EUR needs a rate
	rows := []portfolio.Transaction{
		trade(portfolio.Buy, "2024-01-10", "AAPL", "10", "100"),
		trade(portfolio.Sell, "2024-01-11", "AAPL", "12", "110"), // 10 held
		trade(portfolio.Buy, "2024-01-12", "NVDA", "0", "500"),   // invalid
		trade(portfolio.Sell, "2024-01-13", "NVDA", "1", "510"),  // its buy was refused
		eur,
		trade(portfolio.Sell, "2024-01-14", "MSFT", "5", "380"), // the earlier record's 5
		trade(portfolio.Sell, "2024-01-15", "AAPL", "10", "120"),
	}
	for i := range rows {
		rows[i].Seq = int64(100 + i) // the caller's (a file's) indices, kept
	}
	checked, refused, err := f.p.PreviewImport(rows, f.meta(alice))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, portfolio.ErrInsufficientHoldings, portfolio.ErrInvalidTransaction, portfolio.ErrInsufficientHoldings,
		portfolio.ErrCurrencyMismatch, nil, nil} {
		if (want == nil) != (refused[i] == nil) || (want != nil && !errors.Is(refused[i], want)) {
			t.Errorf("row %d: %v, want %v", i, refused[i], want)
		}
		if checked[i].Seq != int64(100+i) || checked[i].ID != "" {
			t.Errorf("row %d came back as seq %d, id %q", i, checked[i].Seq, checked[i].ID)
		}
	}
	if f.p.Version() != 2 || len(f.p.Pending()) != 2 || f.quantity("AAPL") != "0" {
		t.Fatalf("the preview changed the portfolio: version %d, %d pending, AAPL %s", f.p.Version(), len(f.p.Pending()), f.quantity("AAPL"))
	}
	var accepted []portfolio.Transaction
	for i := range rows {
		if refused[i] == nil {
			accepted = append(accepted, rows[i])
		}
	}
	if _, err := f.p.ImportTransactions(accepted, f.meta(alice)); err != nil {
		t.Fatalf("the rows the preview accepted do not import: %v", err)
	}
	if checked, refused, err := f.p.PreviewImport(nil, f.meta(alice)); err != nil || len(checked) != 0 || len(refused) != 0 {
		t.Errorf("empty preview: %v %v %v", checked, refused, err)
	}
	if _, _, err := f.p.PreviewImport(make([]portfolio.Transaction, portfolio.MaxImport+1), f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidCommand) {
		t.Errorf("a preview past MaxImport: %v", err)
	}
	if _, _, err := f.p.PreviewImport(rows, f.meta(bob)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("bob's preview of alice's portfolio: %v", err)
	}
}
