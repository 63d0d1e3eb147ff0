package readmodel

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Queries answers the API's reads. Every method takes the caller's user ID and
// filters by it. Over a CallerDB (the api and ws functions) each statement also
// runs as the caller, so Row Level Security keeps users apart even where a
// filter is missing; over the owner's pool (tests, tools) the filters alone do.
//
// Read models are eventually consistent: every view carries the aggregate version
// it reflects (AsOfVersion / Version), which the API reports.
//
// The views are plain results, without JSON tags: the HTTP API maps them into
// its own response types, which define the public JSON.
type Queries struct {
	db MetricsDB
}

// NewQueries returns the queries over db: a CallerDB, or a pool.
func NewQueries(db MetricsDB) *Queries { return &Queries{db: db} }

// IsUserID reports whether s can be a user's ID: the read models key users by
// UUID, and anything else is nobody (no rows, not an error).
func IsUserID(s string) bool { return isUUID(s) }

// ErrInvalidCursor is returned for a page cursor this package did not produce.
var ErrInvalidCursor = errors.New("invalid cursor")

// PortfolioView is one portfolio.
type PortfolioView struct {
	ID           string
	Name         string
	Description  string
	BaseCurrency string
	LotMethod    portfolio.LotMethod
	Archived     bool
	ArchivedAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time // the time of the last event applied
	Version      int64     // the aggregate version the view reflects
	// Settings are the portfolio's analytics settings (the defaults until it
	// sets its own).
	Settings PortfolioSettingsView
}

// PortfolioSettingsView is a portfolio's analytics settings: the benchmark of
// beta and alpha, whether rebalancing trades whole shares only, and the minimum
// trade value in the base currency.
type PortfolioSettingsView struct {
	Benchmark     string
	WholeShares   bool
	MinTradeValue decimal.Decimal
}

// PositionView is one symbol's position, money in the base currency at each
// transaction's own rate, valued at the latest price (in the symbol's trading
// currency) and today's rate to the base when both exist (ValuePositions).
// Closed positions have Quantity zero and no valuation.
type PositionView struct {
	Symbol       string
	Quantity     decimal.Decimal
	CostBasis    decimal.Decimal
	AveragePrice decimal.Decimal // cost basis per share; 0 when closed
	RealizedPnL  decimal.Decimal
	Fees         decimal.Decimal
	Taxes        decimal.Decimal
	Dividends    decimal.Decimal
	// Currency is the currency the symbol trades in, as its trades recorded it
	// (GBp for a London listing in pence); LocalCurrency the one its cash settles
	// in (GBP), in which LocalCostBasis, LocalRealizedPnL, LocalFees, LocalTaxes
	// and LocalDividends are kept (lots.Local). Both "" for a symbol never traded
	// (a dividend or a fee only). LocalExcluded counts the symbol's dividends,
	// fees and taxes settled in another currency: in the base figures only.
	Currency         string
	LocalCurrency    string
	LocalCostBasis   decimal.Decimal
	LocalRealizedPnL decimal.Decimal
	LocalFees        decimal.Decimal
	LocalTaxes       decimal.Decimal
	LocalDividends   decimal.Decimal
	LocalExcluded    int
	// Set when the position is open and a price and a rate exist.
	MarketPrice   *decimal.Decimal // in the trading currency
	MarketValue   *decimal.Decimal // quantity × price × rate, in the base
	UnrealizedPnL *decimal.Decimal // market value − cost basis = PriceEffect + CurrencyEffect
	PriceAsOf     *time.Time
	PriceSource   string
	// PriceEffect and CurrencyEffect split the unrealized P&L (lots.Position.ValueAt);
	// LocalMarketValue and LocalUnrealizedPnL are in LocalCurrency; FXRate is
	// the rate used, LocalCurrency → base (nil in the base).
	PriceEffect        *decimal.Decimal
	CurrencyEffect     *decimal.Decimal
	LocalMarketValue   *decimal.Decimal
	LocalUnrealizedPnL *decimal.Decimal
	FXRate             *decimal.Decimal
	Version            int64 // of the last event that changed this symbol's history
	// Warnings: what the user should know about the position (a symbol the
	// market-data provider does not know).
	Warnings []PositionWarning
}

// PositionWarning is something the user should know about a position.
type PositionWarning struct {
	Code    string // WarningUnknownSymbol
	Message string
}

// WarningUnknownSymbol: a market-data provider does not know the position's
// symbol (symbol_flags); with a real quote source nothing prices it.
const WarningUnknownSymbol = "unknown_symbol"

// UnknownSymbolWarning is the warning of a position in symbol, which source does
// not know (reason: the provider's words).
func UnknownSymbolWarning(symbol, source, reason string) PositionWarning {
	return PositionWarning{Code: WarningUnknownSymbol,
		Message: fmt.Sprintf("%s does not know the symbol %s (%s): it is kept as recorded, priced only if a quote arrives", source, symbol, reason)}
}

// TotalsView is the portfolio-level figures in the base currency (see package
// lots for the conventions). Cash is the identity's cash, each movement at its
// own rate; Balances are the cash per currency, valued at today's rates
// (CashValue is their sum, nil when a rate is missing, with a warning).
// MarketValue and UnrealizedPnL cover the open positions that have a price and
// a rate; Unpriced lists the open ones that have not.
type TotalsView struct {
	Cash          decimal.Decimal
	RealizedPnL   decimal.Decimal
	Fees          decimal.Decimal
	Taxes         decimal.Decimal
	Dividends     decimal.Decimal
	Interest      decimal.Decimal
	CostBasis     decimal.Decimal
	Charges       decimal.Decimal
	Deposits      decimal.Decimal
	Withdrawals   decimal.Decimal
	MarketValue   decimal.Decimal
	UnrealizedPnL decimal.Decimal
	Unpriced      []string
	Balances      []CashBalanceView // by currency
	CashValue     *decimal.Decimal
	Warnings      []PositionWarning
	Version       int64 // of the last event that changed the transactions
}

// PositionsView is a portfolio's positions (sorted by symbol) and totals.
type PositionsView struct {
	PortfolioID  string
	BaseCurrency string
	Positions    []PositionView
	Totals       TotalsView
	AsOfVersion  int64
}

// TransactionFilter narrows Transactions. Zero values do not filter; From and To
// are inclusive trade dates.
type TransactionFilter struct {
	Symbol        string
	Type          portfolio.TxType
	From, To      *calendar.Date
	IncludeVoided bool
}

// TransactionView is one recorded transaction. Quantity, Price and Amount are zero
// where the type has none (the domain's convention).
type TransactionView struct {
	ID          string
	PortfolioID string
	Seq         int64
	Type        portfolio.TxType
	Date        calendar.Date
	Symbol      string
	Quantity    decimal.Decimal
	Price       decimal.Decimal
	Amount      decimal.Decimal
	Fee         decimal.Decimal
	Tax         decimal.Decimal
	Currency    string
	// FXRate is the rate of Currency's settlement currency to the base on the
	// trade date (zero in the base); ToAmount and ToCurrency a CONVERSION's
	// incoming side.
	FXRate     decimal.Decimal
	ToAmount   decimal.Decimal
	ToCurrency string
	Ratio      string
	Note       string
	Voided     bool
	VoidReason string
	VoidedAt   *time.Time
	RecordedAt time.Time
	Version    int64
}

// TransactionPage is one page, newest first (by trade date, then recording order).
// NextCursor is empty on the last page.
type TransactionPage struct {
	Items       []TransactionView
	NextCursor  string
	AsOfVersion int64
}

// TargetView is one symbol's target weight.
type TargetView struct {
	Symbol string
	Weight decimal.Decimal
}

// TargetsView is a portfolio's target allocation; Targets is empty (and Version
// 0) when none has been set.
type TargetsView struct {
	PortfolioID string
	Targets     []TargetView
	DriftBand   decimal.Decimal
	Version     int64 // of the TargetAllocationSet event
	AsOfVersion int64
}

// Transaction page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

const portfolioColumns = `id, name, description, base_currency, lot_method, archived, archived_at, created_at, updated_at, version,
       benchmark, whole_shares, min_trade_value::text`

func scanPortfolio(row pgx.Row) (PortfolioView, error) {
	var v PortfolioView
	var method, minTrade string
	err := row.Scan(&v.ID, &v.Name, &v.Description, &v.BaseCurrency, &method, &v.Archived, &v.ArchivedAt, &v.CreatedAt, &v.UpdatedAt, &v.Version,
		&v.Settings.Benchmark, &v.Settings.WholeShares, &minTrade)
	if err != nil {
		return v, err
	}
	if v.Settings.MinTradeValue, err = decimal.NewFromString(minTrade); err != nil {
		return v, fmt.Errorf("min_trade_value %q: %w", minTrade, err)
	}
	v.LotMethod = portfolio.LotMethod(method)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	if v.ArchivedAt != nil {
		t := v.ArchivedAt.UTC()
		v.ArchivedAt = &t
	}
	return v, err
}

// ListPortfolios returns the user's portfolios, archived ones included, oldest
// first.
func (q *Queries) ListPortfolios(ctx context.Context, userID string) ([]PortfolioView, error) {
	out := []PortfolioView{}
	if !isUUID(userID) {
		return out, nil
	}
	rows, err := asCaller(q.db, userID).Query(ctx, `select `+portfolioColumns+` from portfolios where user_id = $1::uuid order by created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("readmodel: list portfolios: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanPortfolio(rows)
		if err != nil {
			return nil, fmt.Errorf("readmodel: list portfolios: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: list portfolios: %w", err)
	}
	return out, nil
}

// GetPortfolio returns one of the user's portfolios, or portfolio.ErrNotFound.
func (q *Queries) GetPortfolio(ctx context.Context, userID, portfolioID string) (PortfolioView, error) {
	if !isUUID(userID) {
		return PortfolioView{}, portfolio.ErrNotFound
	}
	v, err := scanPortfolio(asCaller(q.db, userID).QueryRow(ctx, `select `+portfolioColumns+` from portfolios where id = $1 and user_id = $2::uuid`,
		portfolioID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return PortfolioView{}, portfolio.ErrNotFound
	}
	if err != nil {
		return PortfolioView{}, fmt.Errorf("readmodel: get portfolio: %w", err)
	}
	return v, nil
}

// Positions returns the portfolio's positions and its totals, read in one
// statement (so from one snapshot), valued at the latest prices and the live
// rates (LoadRates: the pairs' latest quotes, else their last daily close), or
// portfolio.ErrNotFound.
func (q *Queries) Positions(ctx context.Context, userID, portfolioID string) (PositionsView, error) {
	if !isUUID(userID) {
		return PositionsView{}, portfolio.ErrNotFound
	}
	db := asCaller(q.db, userID)
	v, prices, err := readPositions(ctx, db, userID, portfolioID)
	if err != nil {
		return PositionsView{}, err
	}
	today := calendar.FromTime(time.Now().UTC())
	rates, err := LoadRates(ctx, db, ValueNeeds(&v), today, today, true)
	if err != nil {
		return PositionsView{}, fmt.Errorf("readmodel: positions: %w", err)
	}
	ValuePositions(&v, prices, rates, today)
	return v, nil
}

// readPositions reads the positions, the totals, the cash balances and the
// latest prices of the symbols held, unvalued.
func readPositions(ctx context.Context, db MetricsDB, userID, portfolioID string) (PositionsView, map[string]LatestPrice, error) {
	rows, err := db.Query(ctx, `
select pf.version, pf.base_currency,
       coalesce(t.cash::text, '0'), coalesce(t.realized_pnl::text, '0'), coalesce(t.fees::text, '0'),
       coalesce(t.taxes::text, '0'), coalesce(t.dividends::text, '0'), coalesce(t.interest::text, '0'),
       coalesce(t.cost_basis::text, '0'), coalesce(t.charges::text, '0'), coalesce(t.deposits::text, '0'),
       coalesce(t.withdrawals::text, '0'), coalesce(t.version, 0),
       p.symbol, p.quantity::text, p.cost_basis::text, p.average_price::text, p.realized_pnl::text, p.fees::text,
       p.taxes::text, p.dividends::text, p.version,
       lp.price::text, to_char(lp.as_of at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), lp.source,
       sf.source, sf.reason,
       p.currency, p.local_currency, p.local_cost_basis::text, p.local_realized_pnl::text, lp.currency, cb.balances,
       p.local_fees::text, p.local_taxes::text, p.local_dividends::text, p.local_excluded
  from portfolios pf
  left join portfolio_totals t on t.portfolio_id = pf.id and t.user_id = pf.user_id
  cross join lateral (select string_agg(c.currency || ' ' || c.amount::text, ' ' order by c.currency) as balances
                        from cash_balances c where c.portfolio_id = pf.id and c.user_id = pf.user_id) cb
  left join positions p on p.portfolio_id = pf.id and p.user_id = pf.user_id
  left join latest_prices lp on lp.symbol = p.symbol and p.quantity <> 0
  left join symbol_flags sf on sf.symbol = p.symbol and sf.flag = 'unknown'
 where pf.id = $1 and pf.user_id = $2::uuid
 order by p.symbol`, portfolioID, userID)
	if err != nil {
		return PositionsView{}, nil, fmt.Errorf("readmodel: positions: %w", err)
	}
	defer rows.Close()
	v := PositionsView{PortfolioID: portfolioID, Positions: []PositionView{}}
	prices := make(map[string]LatestPrice, 64)
	codes := map[string]string{} // currency codes, interned: every row repeats a few
	found := false
	bad := func(what string, err error) (PositionsView, map[string]LatestPrice, error) {
		return PositionsView{}, nil, fmt.Errorf("readmodel: positions: %s: %w", what, err)
	}
	// The row values are parsed directly from their text: the totals repeat on
	// every row and are read once.
	for rows.Next() {
		c := rows.RawValues()
		if len(c) != 37 {
			return bad("columns", fmt.Errorf("%d columns", len(c)))
		}
		if !found {
			found = true
			if v.AsOfVersion, err = strconv.ParseInt(string(c[0]), 10, 64); err != nil {
				return bad("version", err)
			}
			v.BaseCurrency = string(c[1])
			t := &v.Totals
			for i, dst := range [...]*decimal.Decimal{&t.Cash, &t.RealizedPnL, &t.Fees, &t.Taxes, &t.Dividends, &t.Interest,
				&t.CostBasis, &t.Charges, &t.Deposits, &t.Withdrawals} {
				if *dst, err = parseDecimalBytes(c[2+i]); err != nil {
					return bad("totals", err)
				}
			}
			if t.Version, err = strconv.ParseInt(string(c[12]), 10, 64); err != nil {
				return bad("totals version", err)
			}
			if t.Balances, err = parseBalances(string(c[32])); err != nil {
				return bad("cash balances", err)
			}
		}
		if c[13] == nil {
			continue // a portfolio without positions
		}
		p := PositionView{Symbol: string(c[13]), Currency: intern(codes, c[27]), LocalCurrency: intern(codes, c[28])}
		for i, dst := range [...]*decimal.Decimal{&p.Quantity, &p.CostBasis, &p.AveragePrice, &p.RealizedPnL, &p.Fees, &p.Taxes, &p.Dividends} {
			if *dst, err = parseDecimalBytes(c[14+i]); err != nil {
				return bad(p.Symbol, err)
			}
		}
		for i, dst := range [...]*decimal.Decimal{&p.LocalCostBasis, &p.LocalRealizedPnL} {
			if *dst, err = parseDecimalBytes(c[29+i]); err != nil {
				return bad(p.Symbol, err)
			}
		}
		for i, dst := range [...]*decimal.Decimal{&p.LocalFees, &p.LocalTaxes, &p.LocalDividends} {
			if *dst, err = parseDecimalBytes(c[33+i]); err != nil {
				return bad(p.Symbol, err)
			}
		}
		if p.LocalExcluded, err = strconv.Atoi(string(c[36])); err != nil {
			return bad(p.Symbol, err)
		}
		if p.Version, err = strconv.ParseInt(string(c[21]), 10, 64); err != nil {
			return bad(p.Symbol, err)
		}
		if c[25] != nil {
			p.Warnings = []PositionWarning{UnknownSymbolWarning(p.Symbol, string(c[25]), string(c[26]))}
		}
		if c[22] != nil {
			px := LatestPrice{Symbol: p.Symbol, Currency: intern(codes, c[31]), Source: intern(codes, c[24])}
			if px.Price, err = parseDecimalBytes(c[22]); err != nil {
				return bad("price of "+p.Symbol, err)
			}
			if px.AsOf, err = time.Parse(time.RFC3339Nano, string(c[23])); err != nil {
				return bad("price time of "+p.Symbol, err)
			}
			prices[p.Symbol] = px
		}
		v.Positions = append(v.Positions, p)
	}
	if err := rows.Err(); err != nil {
		return PositionsView{}, nil, fmt.Errorf("readmodel: positions: %w", err)
	}
	if !found {
		return PositionsView{}, nil, portfolio.ErrNotFound
	}
	return v, prices, nil
}

// parseBalances reads "CUR amount CUR amount ...", the cash balances as the
// positions statement aggregates them.
func parseBalances(s string) ([]CashBalanceView, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("%q is not currency and amount pairs", s)
	}
	var out []CashBalanceView
	for i := 0; i < len(f); i += 2 {
		amount, err := decimal.NewFromString(f[i+1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f[i], err)
		}
		out = append(out, CashBalanceView{Currency: f[i], Amount: amount})
	}
	return out, nil
}

func parseDecimals(src []string, dst ...*decimal.Decimal) error {
	for i, s := range src {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return err
		}
		*dst[i] = d
	}
	return nil
}

// Transactions returns one page of the portfolio's transactions, newest first, or
// portfolio.ErrNotFound. cursor is "" for the first page, then a NextCursor; limit is
// clamped to [1, MaxPageSize] (0 means DefaultPageSize).
func (q *Queries) Transactions(ctx context.Context, userID, portfolioID string, f TransactionFilter, cursor string, limit int) (TransactionPage, error) {
	if !isUUID(userID) {
		return TransactionPage{}, portfolio.ErrNotFound
	}
	switch {
	case limit <= 0:
		limit = DefaultPageSize
	case limit > MaxPageSize:
		limit = MaxPageSize
	}
	args := []any{portfolioID, userID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where strings.Builder
	where.WriteString("t.portfolio_id = pf.id and t.user_id = pf.user_id")
	if f.Symbol != "" {
		where.WriteString(" and t.symbol = " + arg(f.Symbol))
	}
	if f.Type != "" {
		where.WriteString(" and t.type = " + arg(string(f.Type)))
	}
	if f.From != nil {
		where.WriteString(" and t.trade_date >= " + arg(f.From.String()) + "::date")
	}
	if f.To != nil {
		where.WriteString(" and t.trade_date <= " + arg(f.To.String()) + "::date")
	}
	if !f.IncludeVoided {
		where.WriteString(" and not t.voided")
	}
	if cursor != "" {
		date, seq, err := ParseTransactionCursor(cursor)
		if err != nil {
			return TransactionPage{}, err
		}
		where.WriteString(" and (t.trade_date, t.seq) < (" + arg(date.String()) + "::date, " + arg(seq) + "::bigint)")
	}
	sql := `
select pf.version, t.transaction_id, t.seq, t.type, t.trade_date::text, coalesce(t.symbol, ''), coalesce(t.quantity::text, ''),
       coalesce(t.price::text, ''), coalesce(t.amount::text, ''), t.fee::text, t.tax::text, t.currency, coalesce(t.ratio, ''),
       coalesce(t.note, ''), t.voided, coalesce(t.void_reason, ''), t.voided_at, t.recorded_at, t.version,
       coalesce(t.fx_rate::text, ''), coalesce(t.to_amount::text, ''), coalesce(t.to_currency, '')
  from portfolios pf
  left join lateral (
       select * from transactions t
        where ` + where.String() + `
        order by t.trade_date desc, t.seq desc
        limit ` + strconv.Itoa(limit+1) + `
  ) t on true
 where pf.id = $1 and pf.user_id = $2::uuid
 order by t.trade_date desc, t.seq desc`
	rows, err := asCaller(q.db, userID).Query(ctx, sql, args...)
	if err != nil {
		return TransactionPage{}, fmt.Errorf("readmodel: transactions: %w", err)
	}
	defer rows.Close()
	page := TransactionPage{Items: []TransactionView{}}
	found := false
	for rows.Next() {
		found = true
		var id, typ, date, symbol, qty, price, amount, fee, tax, currency, ratio, note, reason, fxRate, toAmount, toCurrency *string
		var seq, version *int64
		var voided *bool
		var voidedAt, recordedAt *time.Time
		if err := rows.Scan(&page.AsOfVersion, &id, &seq, &typ, &date, &symbol, &qty, &price, &amount, &fee, &tax, &currency, &ratio,
			&note, &voided, &reason, &voidedAt, &recordedAt, &version, &fxRate, &toAmount, &toCurrency); err != nil {
			return TransactionPage{}, fmt.Errorf("readmodel: transactions: %w", err)
		}
		if id == nil {
			continue // the portfolio has no matching transaction
		}
		tx, err := parseTransaction(*id, *seq, *typ, *date, *symbol, *qty, *price, *amount, *fee, *tax, *ratio)
		if err != nil {
			return TransactionPage{}, fmt.Errorf("readmodel: transactions: %s: %w", *id, err)
		}
		v := TransactionView{
			ID: tx.ID, PortfolioID: portfolioID, Seq: tx.Seq, Type: tx.Type, Date: tx.Date, Symbol: tx.Symbol,
			Quantity: tx.Quantity, Price: tx.Price, Amount: tx.Amount, Fee: tx.Fee, Tax: tx.Tax, Currency: *currency,
			Ratio: *ratio, Note: *note, Voided: *voided, VoidReason: *reason, RecordedAt: recordedAt.UTC(), Version: *version,
			ToCurrency: *toCurrency,
		}
		for _, f := range []struct {
			dst  *decimal.Decimal
			text string
		}{{&v.FXRate, *fxRate}, {&v.ToAmount, *toAmount}} {
			if f.text == "" {
				continue
			}
			if *f.dst, err = decimal.NewFromString(f.text); err != nil {
				return TransactionPage{}, fmt.Errorf("readmodel: transactions: %s: %w", *id, err)
			}
		}
		if voidedAt != nil {
			t := voidedAt.UTC()
			v.VoidedAt = &t
		}
		page.Items = append(page.Items, v)
	}
	if err := rows.Err(); err != nil {
		return TransactionPage{}, fmt.Errorf("readmodel: transactions: %w", err)
	}
	if !found {
		return TransactionPage{}, portfolio.ErrNotFound
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = TransactionCursor(last.Date, last.Seq)
	}
	return page, nil
}

// TransactionCursor is the page cursor after the transaction of trade date d
// and sequence seq (the last item of a page), opaque to clients: base64url of
// "1:<date>:<seq>". Every implementation of the transactions store pages with
// it, so a client cannot tell them apart.
func TransactionCursor(d calendar.Date, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1:" + d.String() + ":" + strconv.FormatInt(seq, 10)))
}

// ParseTransactionCursor reads a TransactionCursor: ErrInvalidCursor for any
// other string.
func ParseTransactionCursor(s string) (calendar.Date, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 64 {
		return 0, 0, ErrInvalidCursor
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "1" {
		return 0, 0, ErrInvalidCursor
	}
	d, err := calendar.Parse(parts[1])
	if err != nil {
		return 0, 0, ErrInvalidCursor
	}
	seq, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || seq < 0 {
		return 0, 0, ErrInvalidCursor
	}
	return d, seq, nil
}

// Targets returns the portfolio's target allocation, or portfolio.ErrNotFound.
func (q *Queries) Targets(ctx context.Context, userID, portfolioID string) (TargetsView, error) {
	if !isUUID(userID) {
		return TargetsView{}, portfolio.ErrNotFound
	}
	rows, err := asCaller(q.db, userID).Query(ctx, `
select pf.version, t.symbol, t.weight::text, t.drift_band::text, t.version
  from portfolios pf
  left join targets t on t.portfolio_id = pf.id and t.user_id = pf.user_id
 where pf.id = $1 and pf.user_id = $2::uuid
 order by t.symbol`, portfolioID, userID)
	if err != nil {
		return TargetsView{}, fmt.Errorf("readmodel: targets: %w", err)
	}
	defer rows.Close()
	v := TargetsView{PortfolioID: portfolioID, Targets: []TargetView{}}
	found := false
	for rows.Next() {
		found = true
		var sym, weight, band *string
		var version *int64
		if err := rows.Scan(&v.AsOfVersion, &sym, &weight, &band, &version); err != nil {
			return TargetsView{}, fmt.Errorf("readmodel: targets: %w", err)
		}
		if sym == nil {
			continue
		}
		t := TargetView{Symbol: *sym}
		if err := parseDecimals([]string{*weight, *band}, &t.Weight, &v.DriftBand); err != nil {
			return TargetsView{}, fmt.Errorf("readmodel: targets: %w", err)
		}
		v.Version = *version
		v.Targets = append(v.Targets, t)
	}
	if err := rows.Err(); err != nil {
		return TargetsView{}, fmt.Errorf("readmodel: targets: %w", err)
	}
	if !found {
		return TargetsView{}, portfolio.ErrNotFound
	}
	return v, nil
}
