package readmodel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Suggestions is the Postgres store of suggested transactions (migration
// 0016). Over the owner's pool it serves the backfill's offers (Holders reads
// every user's transactions of a symbol, Propose inserts); over a CallerDB it
// serves the owner's decisions, each statement as the caller, whose row the
// policies alone let it read and update.
type Suggestions struct{ db MetricsDB }

// NewSuggestions returns the store over db (the owner's pool, or a CallerDB).
func NewSuggestions(db MetricsDB) *Suggestions { return &Suggestions{db: db} }

var (
	_ suggestions.OfferStore    = (*Suggestions)(nil)
	_ suggestions.DecisionStore = (*Suggestions)(nil)
)

// Holders implements suggestions.OfferStore.
func (s *Suggestions) Holders(ctx context.Context, symbol string) ([]suggestions.Holder, error) {
	rows, err := s.db.Query(ctx, `
select p.id, p.user_id::text, p.base_currency, p.lot_method,
       t.transaction_id, t.seq, t.type, t.trade_date::text, coalesce(t.quantity::text, ''), coalesce(t.price::text, ''),
       coalesce(t.amount::text, ''), t.fee::text, t.tax::text, coalesce(t.ratio, ''), t.currency
  from transactions t join portfolios p on p.id = t.portfolio_id
 where t.symbol = $1 and not t.voided and not p.archived
 order by p.id, t.trade_date, t.seq`, symbol)
	if err != nil {
		return nil, fmt.Errorf("readmodel: holders of %s: %w", symbol, err)
	}
	defer rows.Close()
	var out []suggestions.Holder
	for rows.Next() {
		var pid, uid, currency, method, txID, typ, date, qty, price, amount, fee, tax, ratio, txCurrency string
		var seq int64
		if err := rows.Scan(&pid, &uid, &currency, &method, &txID, &seq, &typ, &date, &qty, &price, &amount, &fee, &tax, &ratio, &txCurrency); err != nil {
			return nil, fmt.Errorf("readmodel: holders of %s: %w", symbol, err)
		}
		if len(out) == 0 || out[len(out)-1].PortfolioID != pid {
			out = append(out, suggestions.Holder{PortfolioID: pid, UserID: uid, BaseCurrency: currency, LotMethod: portfolio.LotMethod(method)})
		}
		tx, err := storedTransaction(txID, seq, typ, symbol, date, qty, price, amount, fee, tax, ratio)
		if err != nil {
			return nil, fmt.Errorf("readmodel: transaction %s of %s: %w", txID, pid, err)
		}
		tx.Currency = txCurrency
		h := &out[len(out)-1]
		h.Transactions = append(h.Transactions, tx)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: holders of %s: %w", symbol, err)
	}
	for i := range out {
		portfolio.SortForReplay(out[i].Transactions) // the index's order is the replay order but for same-day splits
	}
	return out, nil
}

func storedTransaction(id string, seq int64, typ, symbol, date, qty, price, amount, fee, tax, ratio string) (portfolio.Transaction, error) {
	tx := portfolio.Transaction{ID: id, Seq: seq, Type: portfolio.TxType(typ), Symbol: symbol}
	var err error
	if tx.Date, err = calendar.Parse(date); err != nil {
		return tx, err
	}
	for _, f := range []struct {
		text string
		dst  *decimal.Decimal
	}{{qty, &tx.Quantity}, {price, &tx.Price}, {amount, &tx.Amount}, {fee, &tx.Fee}, {tax, &tx.Tax}} {
		if f.text == "" {
			continue
		}
		if *f.dst, err = decimal.NewFromString(f.text); err != nil {
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

// Propose implements suggestions.OfferStore: one statement, so concurrent
// offers of one action store it once between them.
func (s *Suggestions) Propose(ctx context.Context, list []suggestions.Suggestion) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	cols := make([][]string, 16)
	for _, sg := range list {
		tx := sg.Transaction
		payDate, perShare, amount, ratio := "", "", "", ""
		if sg.PayDate != nil {
			payDate = sg.PayDate.String()
		}
		if sg.Kind == market.ActionDividend {
			perShare, amount = sg.PerShare.String(), tx.Amount.String()
		}
		if !tx.Ratio.IsZero() {
			ratio = tx.Ratio.String()
		}
		for i, v := range []string{sg.ID, sg.PortfolioID, sg.UserID, sg.Symbol, string(sg.Kind), sg.Date.String(), payDate,
			sg.Held.String(), perShare, string(tx.Type), tx.Date.String(), amount, ratio, tx.Currency, tx.Note, sg.Source} {
			cols[i] = append(cols[i], v)
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = c
	}
	tag, err := s.db.Exec(ctx, `
insert into suggestions (id, portfolio_id, user_id, symbol, kind, date, pay_date, held, per_share,
                         tx_type, tx_date, tx_amount, tx_ratio, tx_currency, tx_note, source)
select id, pid, uid::uuid, symbol, kind, d::date, nullif(pay, '')::date, held::numeric, nullif(per, '')::numeric,
       typ, txd::date, nullif(amount, '')::numeric, nullif(ratio, ''), currency, note, src
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
              $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
       as u(id, pid, uid, symbol, kind, d, pay, held, per, typ, txd, amount, ratio, currency, note, src)
on conflict do nothing`, args...)
	if err != nil {
		return 0, fmt.Errorf("readmodel: propose %d suggestions: %w", len(list), err)
	}
	return int(tag.RowsAffected()), nil
}

// suggestionColumns is what every read returns, in scanSuggestion's order.
const suggestionColumns = `id, portfolio_id, user_id::text, symbol, kind, date::text, coalesce(pay_date::text, ''), held::text,
       coalesce(per_share::text, ''), tx_type, tx_date::text, coalesce(tx_amount::text, ''), coalesce(tx_ratio, ''),
       tx_currency, tx_note, source, status,
       to_char(created_at at time zone 'UTC', ` + tsText + `), coalesce(to_char(decided_at at time zone 'UTC', ` + tsText + `), ''),
       coalesce(transaction_id, ''), coalesce(tx_version, 0)`

func scanSuggestion(row pgx.Row) (suggestions.Suggestion, error) {
	var sg suggestions.Suggestion
	var kind, date, pay, held, per, typ, txDate, amount, ratio, status, created, decided string
	if err := row.Scan(&sg.ID, &sg.PortfolioID, &sg.UserID, &sg.Symbol, &kind, &date, &pay, &held, &per, &typ, &txDate,
		&amount, &ratio, &sg.Transaction.Currency, &sg.Transaction.Note, &sg.Source, &status, &created, &decided,
		&sg.TransactionID, &sg.Version); err != nil {
		return sg, err
	}
	sg.Kind, sg.Status = market.CorporateActionKind(kind), suggestions.Status(status)
	tx, err := storedTransaction("", 0, typ, sg.Symbol, txDate, "", "", amount, "", "", ratio)
	if err != nil {
		return sg, err
	}
	tx.Currency, tx.Note = sg.Transaction.Currency, sg.Transaction.Note
	sg.Transaction = tx
	if sg.Date, err = calendar.Parse(date); err != nil {
		return sg, err
	}
	if pay != "" {
		d, err := calendar.Parse(pay)
		if err != nil {
			return sg, err
		}
		sg.PayDate = &d
	}
	if sg.Held, err = decimal.NewFromString(held); err != nil {
		return sg, err
	}
	if per != "" {
		if sg.PerShare, err = decimal.NewFromString(per); err != nil {
			return sg, err
		}
	}
	if sg.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return sg, err
	}
	if decided != "" {
		if sg.DecidedAt, err = time.Parse(time.RFC3339Nano, decided); err != nil {
			return sg, err
		}
	}
	return sg, nil
}

// List implements suggestions.DecisionStore.
func (s *Suggestions) List(ctx context.Context, userID, portfolioID string, status suggestions.Status) ([]suggestions.Suggestion, error) {
	if !IsUserID(userID) {
		return nil, nil
	}
	rows, err := asCaller(s.db, userID).Query(ctx, `select `+suggestionColumns+`
  from suggestions where user_id = $1::uuid and portfolio_id = $2 and status = $3
 order by date desc, symbol, kind limit $4`, userID, portfolioID, string(status), suggestions.MaxList)
	if err != nil {
		return nil, fmt.Errorf("readmodel: list suggestions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (suggestions.Suggestion, error) { return scanSuggestion(r) })
	if err != nil {
		return nil, fmt.Errorf("readmodel: list suggestions: %w", err)
	}
	return out, nil
}

// decide runs one decision: update the row when its status allows, else
// return it as it stands (a status that refuses the decision, or one that
// makes it a repeat); no row is an unknown suggestion. One statement: the
// update and the read see one snapshot.
func (s *Suggestions) decide(ctx context.Context, what, set, allowed, userID, portfolioID, id string) (suggestions.Suggestion, error) {
	notFound := fmt.Errorf("%w: suggestion %s", portfolio.ErrNotFound, id)
	if !IsUserID(userID) {
		return suggestions.Suggestion{}, notFound
	}
	rows, err := asCaller(s.db, userID).Query(ctx, `
with decided as (
  update suggestions set `+set+`
   where id = $1 and user_id = $2::uuid and portfolio_id = $3 and status in (`+allowed+`)
  returning `+suggestionColumns+`
)
select * from decided
union all
select `+suggestionColumns+` from suggestions
 where id = $1 and user_id = $2::uuid and portfolio_id = $3 and not exists (select 1 from decided)`, id, userID, portfolioID)
	if err != nil {
		return suggestions.Suggestion{}, fmt.Errorf("readmodel: %s suggestion: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (suggestions.Suggestion, error) { return scanSuggestion(r) })
	switch {
	case err != nil:
		return suggestions.Suggestion{}, fmt.Errorf("readmodel: %s suggestion: %w", what, err)
	case len(list) == 0:
		return suggestions.Suggestion{}, notFound
	}
	return list[0], nil
}

// Claim implements suggestions.DecisionStore.
func (s *Suggestions) Claim(ctx context.Context, userID, portfolioID, id string) (suggestions.Suggestion, error) {
	sg, err := s.decide(ctx, "claim", `status = 'accepted', decided_at = coalesce(decided_at, now())`, `'pending', 'accepted'`, userID, portfolioID, id)
	// Not accepted: dismissed, or pending as the statement's snapshot saw it
	// while a concurrent dismiss won the row (the update, waiting for it, then
	// found it dismissed).
	if err == nil && sg.Status != suggestions.Accepted {
		return suggestions.Suggestion{}, fmt.Errorf("%w: %s", suggestions.ErrDismissed, id)
	}
	return sg, err
}

// Dismiss implements suggestions.DecisionStore.
func (s *Suggestions) Dismiss(ctx context.Context, userID, portfolioID, id string) (suggestions.Suggestion, error) {
	sg, err := s.decide(ctx, "dismiss", `status = 'dismissed', decided_at = now()`, `'pending'`, userID, portfolioID, id)
	// Not dismissed: accepted, or pending as the snapshot saw it while a
	// concurrent accept claimed the row.
	if err == nil && sg.Status != suggestions.Dismissed {
		return suggestions.Suggestion{}, fmt.Errorf("%w: %s", suggestions.ErrAccepted, id)
	}
	return sg, err
}

// Release implements suggestions.DecisionStore.
func (s *Suggestions) Release(ctx context.Context, userID, portfolioID, id string) error {
	if !IsUserID(userID) {
		return nil
	}
	if _, err := asCaller(s.db, userID).Exec(ctx, `
update suggestions set status = 'pending', decided_at = null
 where id = $1 and user_id = $2::uuid and portfolio_id = $3 and status = 'accepted' and transaction_id is null`,
		id, userID, portfolioID); err != nil {
		return fmt.Errorf("readmodel: release suggestion: %w", err)
	}
	return nil
}

// Complete implements suggestions.DecisionStore. The transaction is recorded,
// so the row says accepted whatever a concurrent release did meanwhile.
func (s *Suggestions) Complete(ctx context.Context, userID, portfolioID, id, transactionID string, version int64) error {
	if !IsUserID(userID) {
		return fmt.Errorf("%w: suggestion %s", portfolio.ErrNotFound, id)
	}
	tag, err := asCaller(s.db, userID).Exec(ctx, `
update suggestions set status = 'accepted', decided_at = coalesce(decided_at, now()), transaction_id = $4, tx_version = $5
 where id = $1 and user_id = $2::uuid and portfolio_id = $3`, id, userID, portfolioID, transactionID, version)
	if err != nil {
		return fmt.Errorf("readmodel: complete suggestion: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errors.New("readmodel: complete suggestion: " + id + " is gone")
	}
	return nil
}
