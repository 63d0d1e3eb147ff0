// Package rmtest holds what the read-model tests share: a migrated database per
// test, realistic portfolio histories decided by the real aggregate, and a text
// dump of the projection tables for comparisons.
package rmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/dynamosource"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Users of the tests.
const (
	UserA = "0a0a0a0a-0000-4000-8000-00000000000a"
	UserB = "0b0b0b0b-0000-4000-8000-00000000000b"
)

// DB returns a pool on a fresh, migrated database, and its DSN.
func DB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(context.Background(), dsn, readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool, dsn
}

// NewProjector returns a projector that discards its metrics.
func NewProjector(pool *pgxpool.Pool) *readmodel.Projector {
	return readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard})
}

// Store is an events table on DynamoDB Local: the event store a self-healing
// projector reads the versions the stream did not deliver from.
type Store struct {
	t      testing.TB
	Client *dynamodb.Client
	Table  string
	Events *dynamostore.Store
	// Source reads the table as the projector and a rebuild do.
	Source *dynamosource.Source
}

// NewStore creates a fresh events table.
func NewStore(t testing.TB) *Store {
	t.Helper()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(context.Background(), client, table, name); err != nil {
		t.Fatal(err)
	}
	return &Store{t: t, Client: client, Table: name, Events: dynamostore.New(client, name, dynamostore.Options{}),
		Source: dynamosource.New(client, name, 2)}
}

// Append stores events of one aggregate, consecutive versions, in appends of 25.
func (s *Store) Append(events ...portfolio.Event) {
	s.t.Helper()
	for start := 0; start < len(events); start += 25 {
		chunk := events[start:min(start+25, len(events))]
		if err := s.Events.Append(context.Background(), chunk[0].AggregateID, chunk[0].Version-1, chunk, nil); err != nil {
			s.t.Fatal(err)
		}
	}
}

// PutRaw writes e's item with some attributes replaced, past the store's checks:
// the corrupt item a bug or a hand edit would leave. It returns the item's
// attributes as a stream record's NewImage holds them (DynamoDB JSON).
func (s *Store) PutRaw(e portfolio.Event, replace map[string]string) []byte {
	s.t.Helper()
	it, err := eventstore.EncodeItem(&e)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range replace {
		it[k] = v
	}
	av := map[string]types.AttributeValue{}
	img := map[string]map[string]string{}
	for k, v := range it {
		if eventstore.NumericAttrs[k] {
			av[k] = &types.AttributeValueMemberN{Value: v}
			img[k] = map[string]string{"N": v}
		} else {
			av[k] = &types.AttributeValueMemberS{Value: v}
			img[k] = map[string]string{"S": v}
		}
	}
	if _, err := s.Client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: av}); err != nil {
		s.t.Fatal(err)
	}
	b, err := json.Marshal(img)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// History decides commands on a real aggregate and keeps the events.
type History struct {
	t      testing.TB
	P      *portfolio.Portfolio
	user   string
	now    time.Time
	n      int
	prefix string
	Events []portfolio.Event

	held  map[string]decimal.Decimal // for Random
	date  calendar.Date
	nrand int
}

// NewHistory creates portfolio id for user, in USD.
func NewHistory(t testing.TB, id, user string, method portfolio.LotMethod) *History {
	t.Helper()
	return NewHistoryIn(t, id, user, method, "USD")
}

// NewHistoryIn creates portfolio id for user in baseCurrency.
func NewHistoryIn(t testing.TB, id, user string, method portfolio.LotMethod, baseCurrency string) *History {
	t.Helper()
	h := &History{t: t, user: user, now: time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC), prefix: id}
	p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: "Portfolio " + id, Description: "test", BaseCurrency: baseCurrency, LotMethod: method}, h.meta())
	if err != nil {
		t.Fatal(err)
	}
	h.P = p
	h.collect()
	return h
}

func (h *History) meta() portfolio.Meta {
	h.n++
	h.now = h.now.Add(time.Minute)
	return portfolio.Meta{UserID: h.user, CorrelationID: "corr", CausationID: fmt.Sprintf("%s-cmd-%d", h.prefix, h.n), Now: h.now,
		NewID: func() string { h.n++; return fmt.Sprintf("%s-%06d", h.prefix, h.n) }}
}

func (h *History) collect() {
	h.Events = append(h.Events, h.P.Pending()...)
	h.P.MarkCommitted()
}

func (h *History) check(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	h.collect()
}

// Tx records a transaction and returns its ID.
func (h *History) Tx(tx portfolio.Transaction) string {
	h.t.Helper()
	if tx.Currency == "" {
		tx.Currency = "USD"
	}
	rec, err := h.P.RecordTransaction(tx, h.meta())
	h.check(err)
	return rec.ID
}

// Legacy appends a TransactionRecorded event built by hand, as an older build
// would have stored it before the domain bounded new commands (a trade in year 0,
// a split of 9223372036854775807:1): the aggregate folds it as it folds any stored
// event, and later commands follow it. It returns the event's version.
func (h *History) Legacy(tx portfolio.Transaction) int64 {
	h.t.Helper()
	if tx.Currency == "" {
		tx.Currency = "USD"
	}
	m := h.meta()
	v := h.P.Version() + 1
	tx.ID, tx.Seq = m.NewID(), portfolio.SeqOf(v, 0)
	data := &portfolio.TransactionRecorded{Transaction: tx}
	e := portfolio.Event{EventID: m.NewID(), EventType: portfolio.TypeTransactionRecorded, AggregateID: h.P.ID(),
		AggregateType: portfolio.AggregateType, Version: v, Timestamp: m.Now, UserID: h.user, CorrelationID: m.CorrelationID,
		CausationID: m.CausationID, SchemaVersion: portfolio.SchemaVersionOf(data), Data: data}
	if err := h.P.Apply(e); err != nil {
		h.t.Fatal(err)
	}
	h.Events = append(h.Events, e)
	return v
}

// Void voids a transaction.
func (h *History) Void(id, reason string) {
	h.t.Helper()
	h.check(h.P.VoidTransaction(id, reason, h.meta()))
}

// Targets sets the target allocation, "SYM=0.5" pairs.
func (h *History) Targets(band string, pairs ...string) {
	h.t.Helper()
	var a portfolio.TargetAllocation
	a.DriftBand = decimal.RequireFromString(band)
	for _, p := range pairs {
		var sym, w string
		for i := range p {
			if p[i] == '=' {
				sym, w = p[:i], p[i+1:]
			}
		}
		a.Targets = append(a.Targets, portfolio.Target{Symbol: sym, Weight: decimal.RequireFromString(w)})
	}
	h.check(h.P.SetTargets(a, h.meta()))
}

// Rename changes the details.
func (h *History) Rename(name string) {
	h.t.Helper()
	h.check(h.P.ChangeDetails(name, "renamed", h.meta()))
}

// Settings changes the analytics settings.
func (h *History) Settings(benchmark string, wholeShares bool, minTradeValue string) {
	h.t.Helper()
	h.check(h.P.ChangeAnalyticsSettings(portfolio.AnalyticsSettings{Benchmark: benchmark, WholeShares: wholeShares,
		MinTradeValue: decimal.RequireFromString(minTradeValue)}, h.meta()))
}

// Archive archives the portfolio.
func (h *History) Archive() { h.t.Helper(); h.check(h.P.Archive("done", h.meta())) }

// D parses a date.
func D(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Dec parses a decimal.
func Dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Buy, Sell, ... build transactions.
func Buy(date, sym, qty, price, fee string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Buy, Date: D(date), Symbol: sym, Quantity: Dec(qty), Price: Dec(price), Fee: optDec(fee)}
}

func Sell(date, sym, qty, price, fee string) portfolio.Transaction {
	tx := Buy(date, sym, qty, price, fee)
	tx.Type = portfolio.Sell
	return tx
}

func Cash(typ portfolio.TxType, date, sym, amount, fee, tax string) portfolio.Transaction {
	return portfolio.Transaction{Type: typ, Date: D(date), Symbol: sym, Amount: Dec(amount), Fee: optDec(fee), Tax: optDec(tax)}
}

func Split(date, sym string, n, d int64) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Split, Date: D(date), Symbol: sym, Ratio: portfolio.Ratio{New: n, Old: d}}
}

func optDec(s string) decimal.Decimal {
	if s == "" {
		return decimal.Zero
	}
	return Dec(s)
}

// Realistic builds the acceptance history: create, deposit, buys, sells, a
// dividend, a split, interest and a fee, a back-dated trade, voids (one leaving a
// position with fees only, one removing a symbol), targets, a rename, an archive.
func Realistic(t testing.TB, id, user string, method portfolio.LotMethod) *History {
	t.Helper()
	h := NewHistory(t, id, user, method)
	h.Tx(Cash(portfolio.Deposit, "2024-01-02", "", "20000", "", ""))
	h.Tx(Buy("2024-01-03", "AAPL", "10", "150.25", "1"))
	msft := h.Tx(Buy("2024-01-04", "MSFT", "5", "300", ""))
	h.Tx(Buy("2024-02-01", "AAPL", "5", "160.10", "1.5"))
	h.Tx(Sell("2024-03-01", "AAPL", "8", "170", "1"))
	h.Tx(Cash(portfolio.Dividend, "2024-03-15", "AAPL", "12.50", "", "1.88"))
	h.Tx(Split("2024-04-01", "AAPL", 4, 1))
	h.Tx(Cash(portfolio.Interest, "2024-04-30", "", "3.21", "", ""))
	h.Tx(Cash(portfolio.Fee, "2024-05-01", "MSFT", "5", "", ""))
	h.Tx(Buy("2024-01-02", "AAPL", "2", "140", "0.5")) // back-dated: before every other trade
	goog := h.Tx(Buy("2024-05-02", "GOOG", "3", "141.80", ""))
	h.Tx(Buy("2024-05-03", "VTI", "1.2345", "250.5", ""))
	h.Targets("0.05", "AAPL=0.5", "VTI=0.3", "MSFT=0.2")
	h.Void(msft, "entered twice")
	h.Void(goog, "wrong account")
	h.Tx(Sell("2024-06-03", "VTI", "0.2345", "260", "0.25"))
	h.Tx(Cash(portfolio.Withdrawal, "2024-06-04", "", "100", "", ""))
	h.Rename("Renamed " + id)
	h.Targets("0.1", "AAPL=0.6", "VTI=0.4")
	h.Archive()
	return h
}

// In gives a transaction its currency and, when not zero, its fxRate.
func In(tx portfolio.Transaction, currency, fxRate string) portfolio.Transaction {
	tx.Currency = currency
	if fxRate != "" {
		tx.FXRate = Dec(fxRate)
	}
	return tx
}

// MultiCurrency builds a EUR portfolio holding US and UK shares: EUR and GBP
// deposits, a CONVERSION of EUR into USD, AAPL bought and partly sold in USD,
// VUSA.L bought and partly sold in GBp (pence), a USD dividend with
// withholding, a voided GBP fee, each foreign transaction with its own fxRate
// (EUR per unit of its settlement currency).
func MultiCurrency(t testing.TB, id, user string, method portfolio.LotMethod) *History {
	t.Helper()
	h := NewHistoryIn(t, id, user, method, "EUR")
	h.Tx(In(Cash(portfolio.Deposit, "2024-01-02", "", "10000", "", ""), "EUR", ""))
	h.Tx(In(Cash(portfolio.Deposit, "2024-01-02", "", "8000", "", ""), "GBP", "1.15"))
	conv := In(Cash(portfolio.Conversion, "2024-01-03", "", "5000", "2", ""), "EUR", "")
	conv.ToAmount, conv.ToCurrency = Dec("5450.25"), "USD"
	h.Tx(conv)
	h.Tx(In(Buy("2024-01-04", "AAPL", "10", "150", "1"), "USD", "0.91"))
	h.Tx(In(Buy("2024-01-05", "VUSA.L", "100", "7000", "500"), "GBp", "1.16")) // £7,000 and a £5 fee
	h.Tx(In(Cash(portfolio.Dividend, "2024-02-15", "AAPL", "5", "", "0.75"), "USD", "0.92"))
	fee := h.Tx(In(Cash(portfolio.Fee, "2024-02-20", "VUSA.L", "3", "", ""), "GBP", "1.17"))
	h.Tx(In(Sell("2024-03-01", "AAPL", "4", "180", "1"), "USD", "0.925"))
	h.Tx(In(Sell("2024-03-05", "VUSA.L", "20", "7500", ""), "GBp", "1.165"))
	// VUSA.L's distributions: one in the listing's pence (2,500 GBp = £25), one
	// paid in dollars ($30, $4.50 withheld), which has no pound amount: it is in
	// the base figures only, excluded from the local ones.
	h.Tx(In(Cash(portfolio.Dividend, "2024-03-27", "VUSA.L", "2500", "", ""), "GBp", "1.17"))
	h.Tx(In(Cash(portfolio.Dividend, "2024-06-26", "VUSA.L", "30", "", "4.5"), "USD", "0.93"))
	h.Void(fee, "charged twice")
	return h
}

// Random appends n random valid transactions over the given symbols: buys,
// sells of half a holding, dividends, on dates that move forward from start (or
// from where the previous call stopped), five a day.
func (h *History) Random(r *rand.Rand, n int, symbols []string, start calendar.Date) {
	h.t.Helper()
	if h.held == nil {
		h.held = map[string]decimal.Decimal{}
		h.date = start
	}
	for i := 0; i < n; i++ {
		if h.nrand%5 == 0 {
			h.date = h.date.AddDays(1)
		}
		h.nrand++
		sym := symbols[r.IntN(len(symbols))]
		var tx portfolio.Transaction
		switch k := r.IntN(10); {
		case k < 5 || h.held[sym].LessThan(decimal.NewFromInt(2)):
			q := decimal.NewFromInt(int64(r.IntN(50) + 1))
			tx = portfolio.Transaction{Type: portfolio.Buy, Date: h.date, Symbol: sym, Quantity: q,
				Price: decimal.New(int64(r.IntN(50000)+100), -2), Fee: decimal.New(int64(r.IntN(500)), -2)}
			h.held[sym] = h.held[sym].Add(q)
		case k < 8:
			q := h.held[sym].Div(decimal.NewFromInt(2)).Floor()
			tx = portfolio.Transaction{Type: portfolio.Sell, Date: h.date, Symbol: sym, Quantity: q,
				Price: decimal.New(int64(r.IntN(50000)+100), -2), Fee: decimal.New(int64(r.IntN(500)), -2)}
			h.held[sym] = h.held[sym].Sub(q)
		default:
			tx = portfolio.Transaction{Type: portfolio.Dividend, Date: h.date, Symbol: sym, Amount: decimal.New(int64(r.IntN(10000)+1), -2),
				Tax: decimal.New(int64(r.IntN(100)), -2)}
		}
		h.Tx(tx)
	}
}

// Dump writes every projection table (and profiles), ordered by key, as text.
func Dump(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var buf bytes.Buffer
	for _, q := range []string{
		"select * from portfolios order by id",
		"select * from transactions order by transaction_id",
		"select * from positions order by portfolio_id, symbol",
		"select * from portfolio_totals order by portfolio_id",
		"select * from cash_balances order by portfolio_id, currency",
		"select * from targets order by portfolio_id, symbol",
		"select * from projection_checkpoints order by aggregate_id",
	} {
		fmt.Fprintf(&buf, "-- %s\n", q)
		if _, err := conn.Conn().PgConn().CopyTo(ctx, &buf, "copy ("+q+") to stdout"); err != nil {
			t.Fatalf("dump %q: %v", q, err)
		}
	}
	return buf.String()
}
