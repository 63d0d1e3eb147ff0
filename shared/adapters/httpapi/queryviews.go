package httpapi

import (
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// The response types of the read routes: they define the public JSON (see
// openapi.json), and the read stores' results are mapped into them here, so a
// change of storage cannot change the API. Decimals marshal as JSON strings.

// PortfolioListResponse is GET /portfolios: the caller's portfolios, archived
// ones included, oldest first.
type PortfolioListResponse struct {
	Items []PortfolioDetailResponse `json:"items"`
}

// PortfolioDetailResponse is GET /portfolios/{id}: one portfolio as the read
// models last saw it.
type PortfolioDetailResponse struct {
	ID           string              `json:"id"`
	Name         string              `json:"name"`
	Description  string              `json:"description"`
	BaseCurrency string              `json:"baseCurrency"`
	LotMethod    portfolio.LotMethod `json:"lotMethod"`
	Archived     bool                `json:"archived"`
	ArchivedAt   *time.Time          `json:"archivedAt,omitempty"`
	CreatedAt    time.Time           `json:"createdAt"`
	UpdatedAt    time.Time           `json:"updatedAt"` // the time of the last event applied
	Version      int64               `json:"version"`   // the aggregate version the view reflects
	// Settings are the portfolio's analytics settings (the defaults until it
	// sets its own).
	Settings AnalyticsSettingsResponse `json:"settings"`
}

// AnalyticsSettingsResponse is a portfolio's analytics settings: the benchmark
// of beta and alpha, whether rebalancing trades whole shares only, and the
// minimum trade value in the base currency.
type AnalyticsSettingsResponse struct {
	Benchmark     string          `json:"benchmark"`
	WholeShares   bool            `json:"wholeShares"`
	MinTradeValue decimal.Decimal `json:"minTradeValue"`
}

func portfolioDetail(v *readmodel.PortfolioView) PortfolioDetailResponse {
	return PortfolioDetailResponse{
		ID: v.ID, Name: v.Name, Description: v.Description, BaseCurrency: v.BaseCurrency, LotMethod: v.LotMethod,
		Archived: v.Archived, ArchivedAt: v.ArchivedAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Version: v.Version,
		Settings: AnalyticsSettingsResponse{Benchmark: v.Settings.Benchmark, WholeShares: v.Settings.WholeShares, MinTradeValue: v.Settings.MinTradeValue},
	}
}

// PositionsResponse is GET /portfolios/{id}/positions: the positions, sorted by
// symbol, and the totals.
type PositionsResponse struct {
	PortfolioID  string             `json:"portfolioId"`
	BaseCurrency string             `json:"baseCurrency"`
	Positions    []PositionResponse `json:"positions"`
	Totals       TotalsResponse     `json:"totals"`
	AsOfVersion  int64              `json:"asOfVersion"`
	// Stale: the read model is behind the minVersion asked (or has not seen the
	// portfolio yet).
	Stale bool `json:"stale,omitempty"`
}

// PositionResponse is one symbol's position. Money is in the portfolio's base
// currency, each transaction at its own rate; Local holds the figures in the
// currency the symbol's trades settle in. It is valued at the latest price (in
// the symbol's trading currency) times today's rate when both exist. Closed
// positions have quantity zero and no valuation.
type PositionResponse struct {
	Symbol       string          `json:"symbol"`
	Quantity     decimal.Decimal `json:"quantity"`
	CostBasis    decimal.Decimal `json:"costBasis"`
	AveragePrice decimal.Decimal `json:"averagePrice"` // cost basis per share; 0 when closed
	RealizedPnL  decimal.Decimal `json:"realizedPnL"`
	Fees         decimal.Decimal `json:"fees"`
	Taxes        decimal.Decimal `json:"taxes"`
	Dividends    decimal.Decimal `json:"dividends"`
	// Set when the position is open and a price and a rate exist.
	MarketPrice   *decimal.Decimal `json:"marketPrice,omitempty"`   // in the trading currency
	MarketValue   *decimal.Decimal `json:"marketValue,omitempty"`   // quantity × price × fxRate
	UnrealizedPnL *decimal.Decimal `json:"unrealizedPnL,omitempty"` // market value − cost basis
	PriceAsOf     *time.Time       `json:"priceAsOf,omitempty"`
	PriceSource   string           `json:"priceSource,omitempty"`
	Version       int64            `json:"version"` // of the last event that changed this symbol's history
	// Warnings: what the user should know about the position (code
	// "unknown_symbol": the market-data provider does not know the symbol;
	// "fx_rate_missing": no rate to the base, so it is unpriced;
	// "price_currency_mismatch": the latest price is in another currency).
	Warnings []WarningResponse `json:"warnings,omitempty"`
	// Currency is the currency the symbol trades in, as recorded (GBp for a
	// London listing in pence); absent for a symbol never traded.
	Currency string         `json:"currency,omitempty"`
	Local    *LocalResponse `json:"local,omitempty"`
	// PriceEffect and CurrencyEffect split the unrealized P&L in the base:
	// priceEffect = (local market value − local cost basis) × fxRate,
	// currencyEffect = local cost basis × fxRate − cost basis.
	PriceEffect    *decimal.Decimal `json:"priceEffect,omitempty"`
	CurrencyEffect *decimal.Decimal `json:"currencyEffect,omitempty"`
	// FXRate is the rate used, local currency → base (absent in the base).
	FXRate *decimal.Decimal `json:"fxRate,omitempty"`
	// Weight is the position's share of the priced positions' market value
	// (Totals.MarketValue), a fraction ("0.25"); set with MarketValue.
	Weight *decimal.Decimal `json:"weight,omitempty"`
	// PreviousClose (in the trading currency) is the symbol's last close before
	// the day of its price (New York), dated PreviousCloseDate; DayChange is the
	// move since then in the base (market value now less the same quantity at
	// that close, at today's rate), DayChangeRatio the price's move as a
	// fraction. Set when the position is priced and such a close exists.
	PreviousClose     *decimal.Decimal `json:"previousClose,omitempty"`
	PreviousCloseDate *calendar.Date   `json:"previousCloseDate,omitempty"`
	DayChange         *decimal.Decimal `json:"dayChange,omitempty"`
	DayChangeRatio    *decimal.Decimal `json:"dayChangeRatio,omitempty"`
}

// LocalResponse is a position in the currency its trades settle in (GBP for a
// GBp listing), before any exchange.
type LocalResponse struct {
	Currency    string          `json:"currency"`
	CostBasis   decimal.Decimal `json:"costBasis"`
	RealizedPnL decimal.Decimal `json:"realizedPnL"`
	Fees        decimal.Decimal `json:"fees"`
	Taxes       decimal.Decimal `json:"taxes"`
	Dividends   decimal.Decimal `json:"dividends"`
	// Excluded counts the symbol's dividends, fees and taxes settled in another
	// currency than Currency: in the position's base figures only.
	Excluded int `json:"excluded,omitempty"`
	// Set with the valuation.
	MarketValue   *decimal.Decimal `json:"marketValue,omitempty"`
	UnrealizedPnL *decimal.Decimal `json:"unrealizedPnL,omitempty"`
}

// WarningResponse is a warning on a position: a code to act on and a message to
// show.
type WarningResponse struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TotalsResponse is the portfolio-level figures. MarketValue and UnrealizedPnL
// cover the open positions that have a price; Unpriced lists the open ones
// that have none.
type TotalsResponse struct {
	Cash          decimal.Decimal `json:"cash"`
	RealizedPnL   decimal.Decimal `json:"realizedPnL"`
	Fees          decimal.Decimal `json:"fees"`
	Taxes         decimal.Decimal `json:"taxes"`
	Dividends     decimal.Decimal `json:"dividends"`
	Interest      decimal.Decimal `json:"interest"`
	CostBasis     decimal.Decimal `json:"costBasis"`
	Charges       decimal.Decimal `json:"charges"`
	Deposits      decimal.Decimal `json:"deposits"`
	Withdrawals   decimal.Decimal `json:"withdrawals"`
	MarketValue   decimal.Decimal `json:"marketValue"`
	UnrealizedPnL decimal.Decimal `json:"unrealizedPnL"`
	Unpriced      []string        `json:"unpriced,omitempty"`
	Version       int64           `json:"version"` // of the last event that changed the transactions
	// CashBalances are the cash held per currency, each valued at today's rate;
	// CashValue is their sum in the base (absent when a rate is missing, with a
	// warning). Cash above is the same money with each movement at its own rate.
	CashBalances []CashBalanceResponse `json:"cashBalances"`
	CashValue    *decimal.Decimal      `json:"cashValue,omitempty"`
	Warnings     []WarningResponse     `json:"warnings,omitempty"`
	// DayChange sums the positions' DayChange; DayChangeRatio is it over their
	// value at the previous close. Absent when no position has one.
	DayChange      *decimal.Decimal `json:"dayChange,omitempty"`
	DayChangeRatio *decimal.Decimal `json:"dayChangeRatio,omitempty"`
}

// CashBalanceResponse is the cash held in one currency.
type CashBalanceResponse struct {
	Currency string           `json:"currency"`
	Amount   decimal.Decimal  `json:"amount"`
	FXRate   *decimal.Decimal `json:"fxRate,omitempty"` // currency → base today
	Value    *decimal.Decimal `json:"value,omitempty"`  // amount × fxRate, in the base
}

func positionsResponse(v *readmodel.PositionsView) PositionsResponse {
	t := &v.Totals
	out := PositionsResponse{PortfolioID: v.PortfolioID, BaseCurrency: v.BaseCurrency, AsOfVersion: v.AsOfVersion,
		Positions: make([]PositionResponse, len(v.Positions)),
		Totals: TotalsResponse{Cash: t.Cash, RealizedPnL: t.RealizedPnL, Fees: t.Fees, Taxes: t.Taxes, Dividends: t.Dividends,
			Interest: t.Interest, CostBasis: t.CostBasis, Charges: t.Charges, Deposits: t.Deposits, Withdrawals: t.Withdrawals,
			MarketValue: t.MarketValue, UnrealizedPnL: t.UnrealizedPnL, Unpriced: t.Unpriced, Version: t.Version,
			CashBalances: make([]CashBalanceResponse, len(t.Balances)), CashValue: t.CashValue, Warnings: warnings(t.Warnings)}}
	for i, b := range t.Balances {
		out.Totals.CashBalances[i] = CashBalanceResponse{Currency: b.Currency, Amount: b.Amount, FXRate: b.FXRate, Value: b.Value}
	}
	for i := range v.Positions {
		p := &v.Positions[i]
		out.Positions[i] = PositionResponse{Symbol: p.Symbol, Quantity: p.Quantity, CostBasis: p.CostBasis, AveragePrice: p.AveragePrice,
			RealizedPnL: p.RealizedPnL, Fees: p.Fees, Taxes: p.Taxes, Dividends: p.Dividends, MarketPrice: p.MarketPrice,
			MarketValue: p.MarketValue, UnrealizedPnL: p.UnrealizedPnL, PriceAsOf: p.PriceAsOf, PriceSource: p.PriceSource, Version: p.Version,
			Warnings: warnings(p.Warnings), Currency: p.Currency, PriceEffect: p.PriceEffect, CurrencyEffect: p.CurrencyEffect, FXRate: p.FXRate}
		if p.LocalCurrency != "" {
			out.Positions[i].Local = &LocalResponse{Currency: p.LocalCurrency, CostBasis: p.LocalCostBasis, RealizedPnL: p.LocalRealizedPnL,
				Fees: p.LocalFees, Taxes: p.LocalTaxes, Dividends: p.LocalDividends, Excluded: p.LocalExcluded,
				MarketValue: p.LocalMarketValue, UnrealizedPnL: p.LocalUnrealizedPnL}
		}
	}
	return out
}

func warnings(ws []readmodel.PositionWarning) []WarningResponse {
	var out []WarningResponse
	for _, w := range ws {
		out = append(out, WarningResponse{Code: w.Code, Message: w.Message})
	}
	return out
}

// TransactionPageResponse is GET /portfolios/{id}/transactions: one page, newest
// first (by trade date, then recording order). NextCursor is empty on the last
// page.
type TransactionPageResponse struct {
	Items       []RecordedTransactionResponse `json:"items"`
	NextCursor  string                        `json:"nextCursor,omitempty"`
	AsOfVersion int64                         `json:"asOfVersion"`
	Stale       bool                          `json:"stale,omitempty"` // as PositionsResponse's
}

// RecordedTransactionResponse is one recorded transaction. Quantity, price and
// amount are left out where the type has none (the domain's zero).
type RecordedTransactionResponse struct {
	ID          string           `json:"transactionId"`
	PortfolioID string           `json:"portfolioId"`
	Seq         int64            `json:"seq"`
	Type        portfolio.TxType `json:"type"`
	Date        calendar.Date    `json:"date"`
	Symbol      string           `json:"symbol,omitempty"`
	Quantity    decimal.Decimal  `json:"quantity,omitzero"`
	Price       decimal.Decimal  `json:"price,omitzero"`
	Amount      decimal.Decimal  `json:"amount,omitzero"`
	Fee         decimal.Decimal  `json:"fee"`
	Tax         decimal.Decimal  `json:"tax"`
	Currency    string           `json:"currency"`
	// FXRate is the rate from the settlement currency of Currency to the base
	// on the trade date, recorded with the transaction (absent in the base).
	FXRate     decimal.Decimal `json:"fxRate,omitzero"`
	ToAmount   decimal.Decimal `json:"toAmount,omitzero"`
	ToCurrency string          `json:"toCurrency,omitempty"`
	Ratio      string          `json:"ratio,omitempty"`
	Note       string          `json:"note,omitempty"`
	Voided     bool            `json:"voided"`
	VoidReason string          `json:"voidReason,omitempty"`
	VoidedAt   *time.Time      `json:"voidedAt,omitempty"`
	RecordedAt time.Time       `json:"recordedAt"`
	Version    int64           `json:"version"`
}

func transactionPageResponse(p *readmodel.TransactionPage) TransactionPageResponse {
	out := TransactionPageResponse{Items: make([]RecordedTransactionResponse, len(p.Items)), NextCursor: p.NextCursor, AsOfVersion: p.AsOfVersion}
	for i := range p.Items {
		t := &p.Items[i]
		out.Items[i] = RecordedTransactionResponse{ID: t.ID, PortfolioID: t.PortfolioID, Seq: t.Seq, Type: t.Type, Date: t.Date,
			Symbol: t.Symbol, Quantity: t.Quantity, Price: t.Price, Amount: t.Amount, Fee: t.Fee, Tax: t.Tax, Currency: t.Currency,
			Ratio: t.Ratio, Note: t.Note, Voided: t.Voided, VoidReason: t.VoidReason, VoidedAt: t.VoidedAt, RecordedAt: t.RecordedAt,
			Version: t.Version, FXRate: t.FXRate, ToAmount: t.ToAmount, ToCurrency: t.ToCurrency}
	}
	return out
}

// TargetAllocationResponse is GET /portfolios/{id}/targets: the target weights,
// sorted by symbol; empty (and version 0) when none has been set.
type TargetAllocationResponse struct {
	PortfolioID string           `json:"portfolioId"`
	Targets     []TargetResponse `json:"targets"`
	DriftBand   decimal.Decimal  `json:"driftBand"`
	Version     int64            `json:"version"` // of the TargetAllocationSet event
	AsOfVersion int64            `json:"asOfVersion"`
	Stale       bool             `json:"stale,omitempty"` // as PositionsResponse's
}

func targetAllocationResponse(v *readmodel.TargetsView) TargetAllocationResponse {
	out := TargetAllocationResponse{PortfolioID: v.PortfolioID, Targets: make([]TargetResponse, len(v.Targets)), DriftBand: v.DriftBand,
		Version: v.Version, AsOfVersion: v.AsOfVersion}
	for i, t := range v.Targets {
		out.Targets[i] = TargetResponse{Symbol: t.Symbol, Weight: t.Weight.String()}
	}
	return out
}
