package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Projector applies portfolio events to the read models. What a batch changes is
// decided by package shared/app/projection/rows, in plain Go; the Projector loads
// the aggregates' stored state for it and writes what it decided, set-based, in
// one database transaction (load and write below, the rounds in selfheal.go).
//
// Semantics (docs/architecture.md §4): delivery is at least once and ordered per aggregate only.
// Each aggregate has a checkpoint, the version up to which its events are applied.
// An event at or below it is a duplicate and changes nothing; the next version
// applies. An event of a type this build does not know is skipped: it advances
// the checkpoint and changes nothing else (counted in the metrics).
//
// The projector heals itself (docs/architecture.md, "Self-healing consumers"):
//   - A gap (a later version than the next, a record the stream lost or gave up
//     on) is filled from the event store (ProjectorOptions.Source) in the same
//     transaction, and so is a record whose image did not decode. An aggregate
//     more than MaxFill versions behind catches up MaxFill versions a transaction.
//     Without a source, a gap fails the event and every later one of its
//     aggregate, so that the stream redelivers them after the missing one.
//   - An event it can never apply (unreadable in the stream and in the store, or
//     refused by the projection's rules) is quarantined: the checkpoint passes it
//     so the aggregate's later events apply, a "quarantined" row in
//     projection_failures keeps it for operators, and ProjectorOptions.Quarantine
//     receives it before the transaction commits (tracker replay takes it from
//     there).
//   - A batch that fails on its data (PostgreSQL's data classes, which no retry
//     mends) is split until the one event behind it is quarantined. Any other
//     database or event-store error is transient: the batch fails as a whole and is
//     retried.
//
// Positions and totals are recomputed from the portfolio's active transactions
// with the lot engine, once per affected portfolio per batch: back-dated trades and
// voids change history, so a fold over the stored transactions is the simple
// correct path. Only the positions of symbols the batch touched are written.
//
// Events stored before the bounds existed may hold anything the v1 payload rules
// allowed (a trade in year 0, a split of 9223372036854775807:1). A transaction
// outside portfolio.Transaction.CheckStoredRange is left out of the read models,
// and so is one that would take a position beyond the bounds (lots.ApplyStored):
// its event still applies, the checkpoint passes it, and a "left_out" row in
// projection_failures says what was left out and why. Nothing a user once
// recorded can make a batch fail.
//
// Every row's version says which event it reflects, and is the same whatever the
// batching: replaying the stream in other batches gives identical tables.
type Projector struct {
	pool     *pgxpool.Pool
	metrics  *emf.Writer
	gauges   func() []emf.Metric // the pool's, on each batch's line
	log      *slog.Logger
	function string
	source   EventReader
	sink     quarantine.Sink
	maxFill  int64
	reserve  time.Duration
}

// EventReader reads an aggregate's events from the event store (rows.EventReader).
// dynamosource.Source implements it.
type EventReader = rows.EventReader

// ProjectorOptions configures a Projector. Zero values take the defaults.
type ProjectorOptions struct {
	// Metrics receives one CloudWatch EMF line per batch. Default os.Stdout;
	// io.Discard silences it.
	Metrics io.Writer
	// Function is the metrics' "Function" dimension and the quarantine records'
	// consumer. Default "projector".
	Function string
	Logger   *slog.Logger
	// Source is the event store, read for the versions the stream did not deliver
	// whole. Without it a gap waits for the stream to redeliver.
	Source EventReader
	// Quarantine receives the events quarantined in a transaction before it
	// commits: a failed send rolls the transaction back (the batch is retried, and
	// the send with it). Without it they are only recorded in projection_failures.
	Quarantine quarantine.Sink
	// MaxFill bounds the versions of one aggregate read from the store in one
	// transaction. Default 500.
	MaxFill int
	// Reserve is the time kept before the context's deadline: no catch-up
	// transaction starts within it (what is left fails, to be retried). Default 3 s.
	Reserve time.Duration
}

// NewProjector returns a projector writing through pool.
func NewProjector(pool *pgxpool.Pool, opts ProjectorOptions) *Projector {
	if opts.Metrics == nil {
		opts.Metrics = os.Stdout
	}
	if opts.Function == "" {
		opts.Function = "projector"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxFill <= 0 {
		opts.MaxFill = 500
	}
	if opts.Reserve <= 0 {
		opts.Reserve = 3 * time.Second
	}
	return &Projector{
		pool:     pool,
		metrics:  emf.New(opts.Metrics, map[string]string{"Function": opts.Function}),
		gauges:   PoolGauges(pool),
		log:      opts.Logger,
		function: opts.Function,
		source:   opts.Source,
		sink:     opts.Quarantine,
		maxFill:  int64(opts.MaxFill),
		reserve:  opts.Reserve,
	}
}

// The projector's vocabulary is the pure projection's (package rows).
type (
	// Record is one stream record for ApplyRecords.
	Record = rows.Record
	// Failure is an event the projector did not apply and wants redelivered.
	Failure = rows.Failure
	// Quarantined is an event the projector skipped for good.
	Quarantined = rows.Quarantined
	// BatchResult says what ApplyBatch did.
	BatchResult = rows.BatchResult
)

// Apply is ApplyBatch returning only the failed indexes.
func (p *Projector) Apply(ctx context.Context, events []portfolio.Event) (failed []int, err error) {
	r, err := p.ApplyBatch(ctx, events)
	return r.Failed(), err
}

// KnownEventType reports whether this build projects events of type t
// (rows.KnownEventType). Events of other types may be passed to ApplyBatch with
// only their envelope (Data nil).
func KnownEventType(t string) bool { return rows.KnownEventType(t) }

// ApplyBatch applies decoded events: ApplyRecords of records holding them.
func (p *Projector) ApplyBatch(ctx context.Context, events []portfolio.Event) (BatchResult, error) {
	recs := make([]Record, len(events))
	for i := range events {
		recs[i].Event = events[i]
	}
	return p.ApplyRecords(ctx, recs)
}

// ApplyRecords applies a stream batch. An error means the database or the event
// store could not be reached (retry the whole batch: what was applied before it
// is a duplicate then); events that cannot be applied yet are reported in the
// result's failures, those that never can in its quarantine, and the rest of the
// batch applies. Usually one database transaction; see drive for when more.
func (p *Projector) ApplyRecords(ctx context.Context, recs []Record) (BatchResult, error) {
	start := time.Now()
	all := make([]int, len(recs))
	for i := range all {
		all[i] = i
	}
	var r BatchResult
	if err := p.drive(ctx, recs, all, nil, &r); err != nil {
		return BatchResult{}, fmt.Errorf("readmodel: apply %d events: %w", len(recs), err)
	}
	slices.SortFunc(r.Failures, func(x, y Failure) int { return cmp.Compare(x.Index, y.Index) })
	slices.SortFunc(r.Quarantined, func(x, y Quarantined) int {
		return cmp.Or(cmp.Compare(x.AggregateID, y.AggregateID), cmp.Compare(x.Version, y.Version))
	})
	line := append(make([]emf.Metric, 0, 18),
		emf.Metric{Name: "EventsReceived", Value: float64(len(recs))},
		emf.Metric{Name: "EventsApplied", Value: float64(r.Applied)},
		emf.Metric{Name: "EventsDuplicate", Value: float64(r.Duplicates)},
		emf.Metric{Name: "EventsUnknownType", Value: float64(r.Skipped)},
		emf.Metric{Name: "EventsFailed", Value: float64(len(r.Failures))},
		emf.Metric{Name: "EventsQuarantined", Value: float64(len(r.Quarantined))},
		emf.Metric{Name: "EventsFromStore", Value: float64(r.FromStore)},
		emf.Metric{Name: "GapsFilled", Value: float64(r.GapsFilled)},
		emf.Metric{Name: "AggregateGaps", Value: float64(r.Gaps)},
		emf.Metric{Name: "PortfoliosRecomputed", Value: float64(r.Portfolios)},
		emf.Metric{Name: "LotEngineErrors", Value: float64(r.LotErrors)},
		emf.Metric{Name: "TransactionsLeftOut", Value: float64(r.LeftOut)},
		emf.Metric{Name: "EventsOfErasedUsers", Value: float64(r.Erased)},
		emf.Metric{Name: "DatabaseTransactions", Value: float64(r.Transactions)},
		emf.Metric{Name: "BatchDuration", Unit: "Milliseconds", Value: float64(time.Since(start).Microseconds()) / 1000},
	)
	if p.gauges != nil {
		line = append(line, p.gauges()...)
	}
	p.metrics.Emit(line...)
	return r, nil
}

// ---------------------------------------------------------------- load

// load locks the batch's aggregates and reads their stored state: checkpoints,
// portfolio rows, and the active transactions of those whose events may change
// them. It first deletes the rows of the aggregates reset (Reproject).
func load(ctx context.Context, tx pgx.Tx, b *rows.Batch, reset []string) error {
	ids := b.IDs()
	var txIDs []string
	for _, id := range ids {
		if b.NeedsTransactions(id) {
			txIDs = append(txIDs, id)
		}
	}
	q := &pgx.Batch{}
	// One aggregate is projected by one transaction at a time (the live projector
	// and a replay may overlap). Locks are taken in ID order: no deadlock.
	q.Queue(`select count(pg_advisory_xact_lock(hashtextextended(id, 7))) from unnest($1::text[]) as u(id)`, ids)
	queueErased(q, b, ids)
	if len(reset) > 0 {
		// Re-projected from scratch (Reproject): under the lock, in this transaction,
		// so readers see the old rows until the new ones commit.
		for _, t := range ProjectionTables {
			col := "portfolio_id"
			switch t {
			case "portfolios":
				col = "id"
			case "projection_checkpoints", "projection_failures":
				col = "aggregate_id"
			}
			q.Queue(`delete from public.`+t+` where `+col+` = any($1::text[])`, reset)
		}
	}
	q.Queue(`select c.aggregate_id, c.version, c.updated_at,
	                p.id is not null, coalesce(p.user_id::text, ''), coalesce(p.name, ''), coalesce(p.description, ''),
	                coalesce(p.base_currency, ''), coalesce(p.lot_method, ''), coalesce(p.archived, false), p.archived_at,
	                coalesce(p.created_at, c.updated_at), coalesce(p.updated_at, c.updated_at), coalesce(p.version, 0),
	                coalesce(p.benchmark, ''), coalesce(p.whole_shares, false), coalesce(p.min_trade_value, 0)::text
	           from projection_checkpoints c left join portfolios p on p.id = c.aggregate_id
	          where c.aggregate_id = any($1::text[])`, ids).Query(func(res pgx.Rows) error {
		var id string
		var r rows.Portfolio
		var cp int64
		var cpTime time.Time
		var minTrade string
		_, err := pgx.ForEachRow(res, []any{&id, &cp, &cpTime, &r.Exists, &r.UserID, &r.Name, &r.Description, &r.BaseCurrency,
			&r.LotMethod, &r.Archived, &r.ArchivedAt, &r.CreatedAt, &r.UpdatedAt, &r.Version,
			&r.Benchmark, &r.WholeShares, &minTrade}, func() error {
			var err error
			if r.MinTradeValue, err = decimal.NewFromString(minTrade); err != nil {
				return fmt.Errorf("portfolio %s: min_trade_value %q: %w", id, minTrade, err)
			}
			if a := b.Aggregate(id); a != nil {
				a.Checkpoint, a.CheckpointTime, a.Portfolio = cp, cpTime, r
				a.Portfolio.ArchivedAt = cloneTime(r.ArchivedAt)
			}
			return nil
		})
		return err
	})
	queueTransactions(q, b, txIDs)
	return tx.SendBatch(ctx, q).Close()
}

// queueErased drops from the batch the aggregates of erased users (DELETE /me,
// migration 0023): those whose events name an erased owner, or whose stored
// portfolio row does. Read under the aggregates' locks, which the erasure takes
// too: a projection that read no tombstone commits before the erasure deletes
// its rows, and one after it reads the tombstone.
func queueErased(q *pgx.Batch, b *rows.Batch, ids []string) {
	var aggs, owners []string
	for _, id := range ids {
		for _, u := range b.Owners(id) {
			if isUUID(u) {
				aggs, owners = append(aggs, id), append(owners, u)
			}
		}
	}
	q.Queue(`select distinct u.id from unnest($1::text[], $2::uuid[]) as u(id, user_id)
	          join erased_users e on e.user_id = u.user_id
	         union
	         select p.id from portfolios p join erased_users e on e.user_id = p.user_id
	          where p.id = any($3::text[])`, aggs, owners, ids).Query(func(res pgx.Rows) error {
		erased, err := pgx.CollectRows(res, pgx.RowTo[string])
		for _, id := range erased {
			b.Erase(id)
		}
		return err
	})
}

// queueTransactions reads the active transactions of the aggregates ids.
func queueTransactions(q *pgx.Batch, b *rows.Batch, ids []string) {
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		b.Aggregate(id).StoredLoaded = true
	}
	q.Queue(selectActiveTransactions, ids).Query(func(res pgx.Rows) error {
		return scanActiveTransactions(res, func(pid string, tx portfolio.Transaction) {
			if a := b.Aggregate(pid); a != nil {
				a.Stored = append(a.Stored, tx)
			}
		})
	})
}

// loadFilledTransactions reads the stored transactions of the aggregates whose
// events read from the event store change them, when load did not.
func loadFilledTransactions(ctx context.Context, tx pgx.Tx, b *rows.Batch) error {
	var ids []string
	for _, id := range b.IDs() {
		if a := b.Aggregate(id); !a.StoredLoaded && b.NeedsTransactions(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	q := &pgx.Batch{}
	queueTransactions(q, b, ids)
	return tx.SendBatch(ctx, q).Close()
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// selectActiveTransactions reads what the lot engine needs, the currency and
// rate of each transaction included (without them a foreign trade would be
// booked as if in the base). The order is the index's (recompute sorts for
// replay, which then has little to do).
const selectActiveTransactions = `select t.portfolio_id, t.transaction_id, t.seq, t.type, t.trade_date, coalesce(t.symbol, ''),
       coalesce(t.quantity::text, ''), coalesce(t.price::text, ''), coalesce(t.amount::text, ''), t.fee::text, t.tax::text,
       coalesce(t.ratio, ''), t.currency, coalesce(t.fx_rate::text, ''), coalesce(t.to_amount::text, ''), coalesce(t.to_currency, '')
  from transactions t
 where t.portfolio_id = any($1::text[]) and not t.voided
 order by t.portfolio_id, t.trade_date, t.seq`

// scanActiveTransactions parses the rows' text values directly: a recompute reads
// every active transaction of the portfolios a batch touches, and going through
// Scan into strings doubled the allocations.
func scanActiveTransactions(rows pgx.Rows, each func(portfolioID string, tx portfolio.Transaction)) error {
	defer rows.Close()
	var pid string
	symbols := map[string]string{} // interned symbols and currencies: a portfolio repeats a few
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 16 {
			return fmt.Errorf("stored transactions: %d columns", len(v))
		}
		if string(v[0]) != pid {
			pid = string(v[0])
		}
		tx, err := parseTransactionBytes(v, symbols)
		if err != nil {
			return fmt.Errorf("stored transaction %s of %s: %w", v[1], pid, err)
		}
		each(pid, tx)
	}
	return rows.Err()
}

func parseTransactionBytes(v [][]byte, symbols map[string]string) (portfolio.Transaction, error) {
	var tx portfolio.Transaction
	var err error
	tx.ID = string(v[1])
	if tx.Seq, err = strconv.ParseInt(string(v[2]), 10, 64); err != nil {
		return tx, err
	}
	tx.Type = txType(v[3])
	if tx.Date, err = parseDateBytes(v[4]); err != nil {
		return tx, err
	}
	tx.Symbol = intern(symbols, v[5])
	for i, dst := range [...]*decimal.Decimal{&tx.Quantity, &tx.Price, &tx.Amount, &tx.Fee, &tx.Tax} {
		if b := v[6+i]; len(b) > 0 {
			if *dst, err = parseDecimalBytes(b); err != nil {
				return tx, err
			}
		}
	}
	if len(v[11]) > 0 {
		if tx.Ratio, err = portfolio.ParseRatio(string(v[11])); err != nil {
			return tx, err
		}
	}
	tx.Currency = intern(symbols, v[12])
	tx.ToCurrency = intern(symbols, v[15])
	for i, dst := range [...]*decimal.Decimal{&tx.FXRate, &tx.ToAmount} {
		if b := v[13+i]; len(b) > 0 {
			if *dst, err = parseDecimalBytes(b); err != nil {
				return tx, err
			}
		}
	}
	return tx, nil
}

// intern returns b as a string, the same one for the same bytes.
func intern(seen map[string]string, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s, ok := seen[string(b)]
	if !ok {
		s = string(b)
		seen[s] = s
	}
	return s
}

func txType(b []byte) portfolio.TxType {
	for _, t := range portfolio.TxTypes {
		if string(t) == string(b) {
			return t
		}
	}
	return portfolio.TxType(b)
}

// parseDateBytes reads Postgres's ISO date output, YYYY-MM-DD.
func parseDateBytes(b []byte) (calendar.Date, error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return calendar.Parse(string(b))
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, m, d := num(b[:4]), num(b[5:7]), num(b[8:])
	if y < 0 || m < 0 || d < 0 {
		return calendar.Parse(string(b))
	}
	return calendar.New(y, time.Month(m), d)
}

// parseDecimalBytes reads numeric output ("-123.4500") exactly, without the string
// and the text parsing of decimal.NewFromString when the digits fit in an int64.
func parseDecimalBytes(b []byte) (decimal.Decimal, error) {
	if len(b) > 18 {
		return decimal.NewFromString(string(b))
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg, i = true, 1
	}
	var m int64
	exp := int32(0)
	digits, point := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			digits++
			if point {
				exp--
			}
		case c == '.' && !point:
			point = true
		default:
			return decimal.NewFromString(string(b))
		}
	}
	if digits == 0 {
		return decimal.NewFromString(string(b))
	}
	if neg {
		m = -m
	}
	return decimal.New(m, exp), nil
}

func isUUID(s string) bool { return uuid.Valid(s) }

// ---------------------------------------------------------------- write

// write writes what the batch decided: set-based statements, one round trip.
// Every upsert is guarded by the row's version, so a replayed batch changes
// nothing.
func write(ctx context.Context, tx pgx.Tx, b *rows.Batch) error {
	var cp cols
	var pf cols
	var txr cols
	var vd cols
	var tgDel []string
	var tg cols
	var pos cols
	var posDel cols
	var tot cols
	var balDel, bals cols // cash_balances: each recomputed portfolio's set replaces an older one
	var kept cols         // projection_failures rows that stay: left out, quarantined
	for _, q := range b.Quarantined() {
		kept.add(q.AggregateID, i64(q.Version), q.EventType, q.EventID, truncate(q.Reason, 2000), kindQuarantined, string(q.Image))
	}
	for _, id := range b.IDs() {
		a := b.Aggregate(id)
		if !a.Advanced {
			continue
		}
		cp.add(id, i64(a.Checkpoint), ts(a.CheckpointTime))
		for _, v := range slices.Sorted(maps.Keys(a.LeftOut)) {
			r := a.LeftOut[v]
			kept.add(id, i64(v), r.EventType, r.EventID, truncate(strings.Join(r.Reasons, "; "), 2000), kindLeftOut, "")
		}
		if !a.PortfolioChanged {
			continue
		}
		p := &a.Portfolio
		archivedAt := ""
		if p.ArchivedAt != nil {
			archivedAt = ts(*p.ArchivedAt)
		}
		pf.add(id, p.UserID, p.Name, p.Description, p.BaseCurrency, p.LotMethod, strconv.FormatBool(p.Archived), archivedAt,
			ts(p.CreatedAt), ts(p.UpdatedAt), i64(p.Version), p.Benchmark, strconv.FormatBool(p.WholeShares), p.MinTradeValue.String())
		for i := range a.Recorded {
			r := &a.Recorded[i]
			t := &r.Tx
			txr.add(t.ID, id, p.UserID, i64(t.Seq), string(t.Type), t.Date.String(), t.Symbol, optDec(t.Quantity), optDec(t.Price),
				optDec(t.Amount), t.Fee.String(), t.Tax.String(), t.Currency, optRatio(t.Ratio), t.Note, ts(r.RecordedAt), i64(portfolio.VersionOfSeq(t.Seq)),
				optDec(t.FXRate), optDec(t.ToAmount), t.ToCurrency)
		}
		for _, v := range a.Voids {
			vd.add(v.ID, id, v.Reason, ts(v.VoidedAt), i64(v.Version))
		}
		if a.Targets != nil {
			tgDel = append(tgDel, id)
			for _, t := range a.Targets.Targets {
				tg.add(id, t.Symbol, p.UserID, t.Weight.String(), a.Targets.DriftBand.String(), i64(a.TargetsVersion))
			}
		}
		for _, r := range a.Positions {
			q := &r.Pos
			pos.add(id, r.Symbol, p.UserID, q.Quantity.String(), q.CostBasis.String(), q.AveragePrice().String(),
				q.RealizedPnL.String(), q.Fees.String(), q.Taxes.String(), q.Dividends.String(), i64(r.Version),
				q.Currency, q.Local.Currency, q.Local.CostBasis.String(), q.Local.RealizedPnL.String(),
				q.Local.Fees.String(), q.Local.Taxes.String(), q.Local.Dividends.String(), strconv.Itoa(q.Local.Excluded))
		}
		for _, s := range a.Removed {
			posDel.add(id, s)
		}
		if t := a.Totals; t != nil {
			s := &t.Sum
			tot.add(id, p.UserID, s.Cash.String(), s.RealizedPnL.String(), s.Fees.String(), s.Taxes.String(), s.Dividends.String(),
				s.Interest.String(), s.CostBasis.String(), s.Charges.String(), s.Deposits.String(), s.Withdrawals.String(), i64(t.Version))
			balDel.add(id, i64(t.Version))
			for _, bal := range s.Balances {
				bals.add(id, bal.Currency, p.UserID, bal.Amount.String(), i64(t.Version))
			}
		}
	}
	if cp.n == 0 {
		return nil
	}
	q := &pgx.Batch{}
	wantCP := cp.n
	q.Queue(`insert into projection_checkpoints (aggregate_id, version, updated_at)
	         select * from unnest($1::text[], $2::bigint[], $3::timestamptz[])
	         on conflict (aggregate_id) do update set version = excluded.version, updated_at = excluded.updated_at
	         where projection_checkpoints.version < excluded.version`, cp.args()...).Exec(func(ct pgconn.CommandTag) error {
		if got := ct.RowsAffected(); got != int64(wantCP) {
			return fmt.Errorf("checkpoints moved for %d of %d aggregates: a concurrent projection?", got, wantCP)
		}
		return nil
	})
	// Failures logged earlier for versions now applied are resolved.
	q.Queue(`delete from projection_failures f using unnest($1::text[], $2::bigint[]) as u(id, version)
	          where f.aggregate_id = u.id and f.version <= u.version and f.kind = 'failed'`, cp.c[0], cp.c[1])
	if kept.n > 0 {
		q.Queue(`insert into projection_failures (aggregate_id, version, event_type, event_id, reason, kind, image)
		         select id, version::bigint, event_type, event_id, reason, kind, nullif(image, '')
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
		                as u(id, version, event_type, event_id, reason, kind, image)
		         on conflict (aggregate_id, version) do update set kind = excluded.kind, reason = excluded.reason,
		                event_type = case when excluded.event_type = '' then projection_failures.event_type else excluded.event_type end,
		                event_id = case when excluded.event_id = '' then projection_failures.event_id else excluded.event_id end,
		                image = coalesce(excluded.image, projection_failures.image), last_seen = now()`, kept.args()...)
	}
	if pf.n > 0 {
		q.Queue(`insert into portfolios (id, user_id, name, description, base_currency, lot_method, archived, archived_at,
		                                 created_at, updated_at, version, benchmark, whole_shares, min_trade_value)
		         select id, user_id::uuid, name, description, base_currency, lot_method, archived::boolean,
		                nullif(archived_at, '')::timestamptz, created_at::timestamptz, updated_at::timestamptz, version::bigint,
		                benchmark, whole_shares::boolean, min_trade_value::numeric
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
		                as u(id, user_id, name, description, base_currency, lot_method, archived, archived_at, created_at, updated_at,
		                     version, benchmark, whole_shares, min_trade_value)
		         on conflict (id) do update set name = excluded.name, description = excluded.description,
		                archived = excluded.archived, archived_at = excluded.archived_at, updated_at = excluded.updated_at,
		                version = excluded.version, benchmark = excluded.benchmark, whole_shares = excluded.whole_shares,
		                min_trade_value = excluded.min_trade_value
		         where portfolios.version < excluded.version`, pf.args()...)
	}
	if txr.n > 0 {
		q.Queue(`insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price,
		                                   amount, fee, tax, currency, ratio, note, recorded_at, version, fx_rate, to_amount,
		                                   to_currency)
		         select id, pid, uid::uuid, seq::bigint, type, trade_date::date, nullif(symbol, ''), nullif(quantity, '')::numeric,
		                nullif(price, '')::numeric, nullif(amount, '')::numeric, fee::numeric, tax::numeric, currency,
		                nullif(ratio, ''), nullif(note, ''), recorded_at::timestamptz, version::bigint,
		                nullif(fx_rate, '')::numeric, nullif(to_amount, '')::numeric, nullif(to_currency, '')
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
		                       $16::text[], $17::text[], $18::text[], $19::text[], $20::text[])
		                as u(id, pid, uid, seq, type, trade_date, symbol, quantity, price, amount, fee, tax, currency, ratio,
		                     note, recorded_at, version, fx_rate, to_amount, to_currency)
		         on conflict (transaction_id) do nothing`, txr.args()...)
	}
	if vd.n > 0 {
		q.Queue(`update transactions t set voided = true, void_reason = u.reason, voided_at = u.voided_at::timestamptz,
		                version = u.version::bigint
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) as u(id, pid, reason, voided_at, version)
		          where t.transaction_id = u.id and t.portfolio_id = u.pid and t.version < u.version::bigint`, vd.args()...)
	}
	if len(tgDel) > 0 {
		q.Queue(`delete from targets where portfolio_id = any($1::text[])`, tgDel)
		if tg.n > 0 {
			q.Queue(`insert into targets (portfolio_id, symbol, user_id, weight, drift_band, version)
			         select pid, symbol, uid::uuid, weight::numeric, band::numeric, version::bigint
			           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
			                as u(pid, symbol, uid, weight, band, version)`, tg.args()...)
		}
	}
	if pos.n > 0 {
		q.Queue(`insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees,
		                                taxes, dividends, version, currency, local_currency, local_cost_basis, local_realized_pnl,
		                                local_fees, local_taxes, local_dividends, local_excluded)
		         select pid, symbol, uid::uuid, quantity::numeric, cost_basis::numeric, average_price::numeric,
		                realized_pnl::numeric, fees::numeric, taxes::numeric, dividends::numeric, version::bigint,
		                currency, local_currency, local_cost_basis::numeric, local_realized_pnl::numeric,
		                local_fees::numeric, local_taxes::numeric, local_dividends::numeric, local_excluded::integer
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
		                       $16::text[], $17::text[], $18::text[], $19::text[])
		                as u(pid, symbol, uid, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version,
		                     currency, local_currency, local_cost_basis, local_realized_pnl,
		                     local_fees, local_taxes, local_dividends, local_excluded)
		         on conflict (portfolio_id, symbol) do update set quantity = excluded.quantity, cost_basis = excluded.cost_basis,
		                average_price = excluded.average_price, realized_pnl = excluded.realized_pnl, fees = excluded.fees,
		                taxes = excluded.taxes, dividends = excluded.dividends, version = excluded.version,
		                currency = excluded.currency, local_currency = excluded.local_currency,
		                local_cost_basis = excluded.local_cost_basis, local_realized_pnl = excluded.local_realized_pnl,
		                local_fees = excluded.local_fees, local_taxes = excluded.local_taxes,
		                local_dividends = excluded.local_dividends, local_excluded = excluded.local_excluded
		         where positions.version < excluded.version`, pos.args()...)
	}
	if posDel.n > 0 {
		q.Queue(`delete from positions p using unnest($1::text[], $2::text[]) as u(pid, symbol)
		          where p.portfolio_id = u.pid and p.symbol = u.symbol`, posDel.args()...)
	}
	if tot.n > 0 {
		q.Queue(`insert into portfolio_totals (portfolio_id, user_id, cash, realized_pnl, fees, taxes, dividends, interest,
		                                       cost_basis, charges, deposits, withdrawals, version)
		         select pid, uid::uuid, cash::numeric, realized_pnl::numeric, fees::numeric, taxes::numeric, dividends::numeric,
		                interest::numeric, cost_basis::numeric, charges::numeric, deposits::numeric, withdrawals::numeric,
		                version::bigint
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
		                       $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
		                as u(pid, uid, cash, realized_pnl, fees, taxes, dividends, interest, cost_basis, charges, deposits,
		                     withdrawals, version)
		         on conflict (portfolio_id) do update set cash = excluded.cash, realized_pnl = excluded.realized_pnl,
		                fees = excluded.fees, taxes = excluded.taxes, dividends = excluded.dividends, interest = excluded.interest,
		                cost_basis = excluded.cost_basis, charges = excluded.charges, deposits = excluded.deposits,
		                withdrawals = excluded.withdrawals, version = excluded.version
		         where portfolio_totals.version < excluded.version`, tot.args()...)
	}
	if balDel.n > 0 {
		// A void can take a currency out of the book: the older set goes whole,
		// and a replay (an older version) finds nothing to delete or replace.
		q.Queue(`delete from cash_balances c using unnest($1::text[], $2::text[]) as u(pid, version)
		          where c.portfolio_id = u.pid and c.version < u.version::bigint`, balDel.args()...)
	}
	if bals.n > 0 {
		q.Queue(`insert into cash_balances (portfolio_id, currency, user_id, amount, version)
		         select pid, currency, uid::uuid, amount::numeric, version::bigint
		           from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) as u(pid, currency, uid, amount, version)
		         on conflict (portfolio_id, currency) do update set amount = excluded.amount, version = excluded.version
		         where cash_balances.version < excluded.version`, bals.args()...)
	}
	return tx.SendBatch(ctx, q).Close()
}

// Kinds of projection_failures rows (migration 0014).
const (
	kindFailed      = "failed"
	kindQuarantined = "quarantined"
	kindLeftOut     = "left_out"
)

// cols accumulates rows column-wise, as text, for unnest($1::text[], ...).
type cols struct {
	c [][]string
	n int
}

func (c *cols) add(vals ...string) {
	if c.c == nil {
		c.c = make([][]string, len(vals))
	}
	for i, v := range vals {
		c.c[i] = append(c.c[i], pgText(v))
	}
	c.n++
}

// pgText makes a string storable as Postgres text, which cannot hold NUL: the
// domain accepts any JSON string, and one NUL in a note must not stall the
// stream with a batch that can never commit.
func pgText(s string) string {
	if !utf8.ValidString(s) { // only what a corrupt record carries into projection_failures
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func (c *cols) args() []any {
	out := make([]any, len(c.c))
	for i := range c.c {
		out[i] = c.c[i]
	}
	return out
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// optDec is "" (stored as NULL) for zero: the domain's omitted amounts.
func optDec(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func optRatio(r portfolio.Ratio) string {
	if r.IsZero() {
		return ""
	}
	return r.String()
}

// parseTransaction rebuilds a transaction from its stored text columns.
func parseTransaction(id string, seq int64, typ, date, symbol, qty, price, amount, fee, tax, ratio string) (portfolio.Transaction, error) {
	tx := portfolio.Transaction{ID: id, Seq: seq, Type: portfolio.TxType(typ), Symbol: symbol}
	var err error
	if tx.Date, err = calendar.Parse(date); err != nil {
		return tx, err
	}
	for _, f := range []struct {
		dst *decimal.Decimal
		src string
	}{{&tx.Quantity, qty}, {&tx.Price, price}, {&tx.Amount, amount}, {&tx.Fee, fee}, {&tx.Tax, tax}} {
		if f.src == "" {
			continue
		}
		if *f.dst, err = decimal.NewFromString(f.src); err != nil {
			return tx, err
		}
	}
	if ratio != "" {
		if tx.Ratio, err = portfolio.ParseRatio(ratio); err != nil {
			return tx, err
		}
	}
	return tx, nil
}

// RecordFailures logs failed events in projection_failures for operators (one row
// per aggregate and version; a redelivery counts an attempt). Rows are deleted
// when the projection passes their version. Failures without an aggregate ID are
// not recorded (they are logged by the caller).
func (p *Projector) RecordFailures(ctx context.Context, failures []Failure) error {
	var c cols
	seen := map[string]bool{}
	for _, f := range failures {
		key := f.AggregateID + "\x00" + i64(f.Version)
		if f.AggregateID == "" || seen[key] {
			continue
		}
		seen[key] = true
		c.add(f.AggregateID, i64(f.Version), strings.ToValidUTF8(f.EventType, "?"), strings.ToValidUTF8(truncate(f.Reason, 2000), "?"))
	}
	if c.n == 0 {
		return nil
	}
	_, err := p.pool.Exec(ctx, `insert into projection_failures (aggregate_id, version, event_type, reason, kind)
	        select id, version::bigint, event_type, reason, $5 from unnest($1::text[], $2::text[], $3::text[], $4::text[])
	               as u(id, version, event_type, reason)
	        on conflict (aggregate_id, version) do update set event_type = excluded.event_type, reason = excluded.reason,
	               attempts = projection_failures.attempts + 1, last_seen = now()
	         where projection_failures.kind = excluded.kind`, append(c.args(), kindFailed)...)
	if err != nil {
		return fmt.Errorf("readmodel: record failures: %w", err)
	}
	return nil
}
