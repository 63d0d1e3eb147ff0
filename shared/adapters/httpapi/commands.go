package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/decimaltext"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------- DTOs

// Decimal is a decimal that must arrive as a JSON string ("12.50"): a JSON number
// would pass through a float64 in most clients and lose cents.
type Decimal struct {
	decimal.Decimal
	set bool
}

// UnmarshalJSON accepts only a string holding a plain decimal.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("decimals are JSON strings such as \"12.50\", got %s", b)
	}
	v, err := decimaltext.Parse(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	d.Decimal, d.set = v, true
	return nil
}

type createPortfolioRequest struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	BaseCurrency string `json:"baseCurrency"`
	LotMethod    string `json:"lotMethod"`
}

type updatePortfolioRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

type archiveRequest struct {
	Reason string `json:"reason"`
}

type transactionRequest struct {
	Type     string  `json:"type"`
	Date     string  `json:"date"`
	Symbol   string  `json:"symbol"`
	Quantity Decimal `json:"quantity"`
	Price    Decimal `json:"price"`
	Amount   Decimal `json:"amount"`
	Fee      Decimal `json:"fee"`
	Tax      Decimal `json:"tax"`
	Currency string  `json:"currency"`
	// FXRate is the rate of the trade date from the transaction's settlement
	// currency to the portfolio's base; optional (looked up from the daily
	// closes when absent).
	FXRate     Decimal `json:"fxRate"`
	ToAmount   Decimal `json:"toAmount"`
	ToCurrency string  `json:"toCurrency"`
	Ratio      string  `json:"ratio"`
	Note       string  `json:"note"`
}

type voidRequest struct {
	Reason string `json:"reason"`
}

type targetsRequest struct {
	Targets []struct {
		Symbol string  `json:"symbol"`
		Weight Decimal `json:"weight"`
	} `json:"targets"`
	DriftBand Decimal `json:"driftBand"`
}

// PortfolioResponse is a portfolio as a command left it.
type PortfolioResponse struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	BaseCurrency string `json:"baseCurrency"`
	LotMethod    string `json:"lotMethod"`
	Archived     bool   `json:"archived"`
	Version      int64  `json:"version"`
}

// TransactionFields are what a transaction records: decimals as strings,
// absent when zero. A recorded transaction (TransactionResponse) and an
// import preview's row (PreviewRow.Transaction) both carry them.
type TransactionFields struct {
	Type     string `json:"type"`
	Date     string `json:"date"`
	Symbol   string `json:"symbol,omitempty"`
	Quantity string `json:"quantity,omitempty"`
	Price    string `json:"price,omitempty"`
	Amount   string `json:"amount,omitempty"`
	Fee      string `json:"fee,omitempty"`
	Tax      string `json:"tax,omitempty"`
	Currency string `json:"currency"`
	// FXRate is the rate from Currency's settlement currency to the base used for
	// this transaction (absent when it is in the base).
	FXRate     string `json:"fxRate,omitempty"`
	ToAmount   string `json:"toAmount,omitempty"`
	ToCurrency string `json:"toCurrency,omitempty"`
	Ratio      string `json:"ratio,omitempty"`
	Note       string `json:"note,omitempty"`
}

// TransactionResponse is one recorded transaction.
type TransactionResponse struct {
	ID string `json:"transactionId"`
	TransactionFields
	Voided  bool  `json:"voided,omitempty"`
	Version int64 `json:"version"`
}

func transactionResponse(tx *portfolio.Transaction, version int64) TransactionResponse {
	str := func(d decimal.Decimal) string {
		if d.IsZero() {
			return ""
		}
		return d.String()
	}
	out := TransactionResponse{ID: tx.ID, Version: version, TransactionFields: TransactionFields{
		Type: string(tx.Type), Date: tx.Date.String(), Symbol: tx.Symbol,
		Quantity: str(tx.Quantity), Price: str(tx.Price), Amount: str(tx.Amount), Fee: str(tx.Fee), Tax: str(tx.Tax),
		Currency: tx.Currency, FXRate: str(tx.FXRate), ToAmount: str(tx.ToAmount), ToCurrency: tx.ToCurrency,
		Note: tx.Note,
	}}
	if !tx.Ratio.IsZero() {
		out.Ratio = tx.Ratio.String()
	}
	return out
}

// CommandResponse wraps what every command answers: the aggregate version after
// it, and whether this was a replay of an earlier identical request.
type CommandResponse struct {
	Version  int64 `json:"version"`
	Replayed bool  `json:"replayed"`
	Data     any   `json:"data"`
}

// toTransaction validates a request body into a domain transaction.
func (t transactionRequest) toTransaction(baseCurrency string) (portfolio.Transaction, error) {
	typ, err := portfolio.ParseTxType(t.Type)
	if err != nil {
		return portfolio.Transaction{}, err
	}
	date, err := calendar.Parse(t.Date)
	if err != nil {
		return portfolio.Transaction{}, fmt.Errorf("%w: date: %v", portfolio.ErrInvalidTransaction, err)
	}
	currency := t.Currency
	if currency == "" {
		currency = baseCurrency
	}
	tx := portfolio.Transaction{
		Type: typ, Date: date, Symbol: strings.TrimSpace(t.Symbol),
		Quantity: t.Quantity.Decimal, Price: t.Price.Decimal, Amount: t.Amount.Decimal,
		Fee: t.Fee.Decimal, Tax: t.Tax.Decimal, Currency: currency, Note: strings.TrimSpace(t.Note),
		FXRate: t.FXRate.Decimal, ToAmount: t.ToAmount.Decimal, ToCurrency: strings.TrimSpace(t.ToCurrency),
	}
	if t.Ratio != "" {
		if tx.Ratio, err = portfolio.ParseRatio(t.Ratio); err != nil {
			return portfolio.Transaction{}, err
		}
	}
	if len(tx.Note) > 500 {
		return portfolio.Transaction{}, fmt.Errorf("%w: note is longer than 500 characters", portfolio.ErrInvalidTransaction)
	}
	return tx, tx.Validate()
}

// ---------------------------------------------------------------- handlers

func (s *Server) createPortfolio(w http.ResponseWriter, r *http.Request) error {
	var body createPortfolioRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	req, err := commandRequest(r, "", canonical(body))
	if err != nil {
		return err
	}
	method := portfolio.FIFO
	if body.LotMethod != "" {
		if method, err = portfolio.ParseLotMethod(body.LotMethod); err != nil {
			return err
		}
	}
	res, err := s.commands.Create(r.Context(), req, portfolio.CreatePortfolio{Name: body.Name, Description: body.Description, BaseCurrency: body.BaseCurrency, LotMethod: method})
	if err != nil {
		return err
	}
	created := res.Events[0].Data.(*portfolio.PortfolioCreated)
	w.Header().Set("Location", "/portfolios/"+res.AggregateID)
	setVersion(w, res.Version)
	writeJSON(w, statusFor(res, http.StatusCreated), CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: PortfolioResponse{
		ID: res.AggregateID, Name: created.Name, Description: created.Description, BaseCurrency: created.BaseCurrency,
		LotMethod: string(created.LotMethod), Version: res.Version,
	}})
	return nil
}

// statusFor answers a replayed create with 200: the resource already existed.
func statusFor(res command.Result, fresh int) int {
	if res.Replayed {
		return http.StatusOK
	}
	return fresh
}

// portfolioAfter executes a command on the portfolio and answers with the
// portfolio as the command left it.
func (s *Server) portfolioAfter(w http.ResponseWriter, r *http.Request, body any, decide command.Decide) error {
	req, err := commandRequest(r, r.PathValue("id"), canonical(body))
	if err != nil {
		return err
	}
	var p *portfolio.Portfolio
	res, err := s.commands.Execute(r.Context(), req, func(agg *portfolio.Portfolio, meta portfolio.Meta) error {
		p = agg
		return decide(agg, meta)
	})
	if err != nil {
		return err
	}
	setVersion(w, res.Version)
	out := PortfolioResponse{ID: req.AggregateID, Version: res.Version}
	if p != nil {
		out.Name, out.Description, out.BaseCurrency, out.LotMethod, out.Archived = p.Name(), p.Description(), p.BaseCurrency(), string(p.LotMethod()), p.Archived()
	}
	writeJSON(w, http.StatusOK, CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: out})
	return nil
}

func (s *Server) updatePortfolio(w http.ResponseWriter, r *http.Request) error {
	var body updatePortfolioRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Name == nil && body.Description == nil {
		return newError(http.StatusBadRequest, CodeValidation, "send name, description or both", nil)
	}
	return s.portfolioAfter(w, r, body, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		name, desc := p.Name(), p.Description()
		if body.Name != nil {
			name = *body.Name
		}
		if body.Description != nil {
			desc = *body.Description
		}
		return p.ChangeDetails(name, desc, meta)
	})
}

func (s *Server) archivePortfolio(w http.ResponseWriter, r *http.Request) error {
	var body archiveRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &body); err != nil {
			return err
		}
	}
	return s.portfolioAfter(w, r, body, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.Archive(body.Reason, meta)
	})
}

func (s *Server) recordTransaction(w http.ResponseWriter, r *http.Request) error {
	var body transactionRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	req, err := commandRequest(r, r.PathValue("id"), canonical(body))
	if err != nil {
		return err
	}
	// A foreign transaction without fxRate gets the rate of its date from the
	// daily closes (the command service looks it up and records it).
	res, err := s.commands.RecordTransaction(r.Context(), req, func(p *portfolio.Portfolio) (portfolio.Transaction, error) {
		if p.Version() == 0 {
			return portfolio.Transaction{}, fmt.Errorf("%w: portfolio %s", portfolio.ErrNotFound, req.AggregateID)
		}
		return body.toTransaction(p.BaseCurrency())
	})
	if err != nil {
		return err
	}
	rec, ok := res.Events[0].Data.(*portfolio.TransactionRecorded)
	if !ok {
		return newError(http.StatusConflict, CodeConflict, "this Idempotency-Key was used for a different command", nil)
	}
	setVersion(w, res.Version)
	w.Header().Set("Location", fmt.Sprintf("/portfolios/%s/transactions/%s", req.AggregateID, rec.ID))
	writeJSON(w, statusFor(res, http.StatusCreated), CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: transactionResponse(&rec.Transaction, res.Version)})
	return nil
}

func (s *Server) voidTransaction(w http.ResponseWriter, r *http.Request) error {
	var body voidRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	req, err := commandRequest(r, r.PathValue("id"), canonical(body))
	if err != nil {
		return err
	}
	txID := r.PathValue("txId")
	res, err := s.commands.Execute(r.Context(), req, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.VoidTransaction(txID, body.Reason, meta)
	})
	if err != nil {
		return err
	}
	voided, ok := res.Events[0].Data.(*portfolio.TransactionVoided)
	if !ok {
		return newError(http.StatusConflict, CodeConflict, "this Idempotency-Key was used for a different command", nil)
	}
	setVersion(w, res.Version)
	tx := transactionResponse(&voided.Voided, res.Version)
	tx.Voided = true
	writeJSON(w, http.StatusOK, CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: tx})
	return nil
}

func (s *Server) setTargets(w http.ResponseWriter, r *http.Request) error {
	var body targetsRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	alloc := portfolio.TargetAllocation{DriftBand: body.DriftBand.Decimal}
	for _, t := range body.Targets {
		alloc.Targets = append(alloc.Targets, portfolio.Target{Symbol: strings.TrimSpace(t.Symbol), Weight: t.Weight.Decimal})
	}
	req, err := commandRequest(r, r.PathValue("id"), canonical(body))
	if err != nil {
		return err
	}
	res, err := s.commands.Execute(r.Context(), req, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(alloc, meta)
	})
	if err != nil {
		return err
	}
	set, ok := res.Events[0].Data.(*portfolio.TargetAllocationSet)
	if !ok {
		return newError(http.StatusConflict, CodeConflict, "this Idempotency-Key was used for a different command", nil)
	}
	setVersion(w, res.Version)
	writeJSON(w, http.StatusOK, CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: targetsResponse(set.TargetAllocation, res.Version)})
	return nil
}

// TargetsResponse is a target allocation.
type TargetsResponse struct {
	Targets []TargetResponse `json:"targets"`
	// DriftBand is in weight units: 0.05 lets a holding drift ±5 percentage points.
	DriftBand string `json:"driftBand"`
	Version   int64  `json:"version"`
}

// TargetResponse is one symbol's target weight.
type TargetResponse struct {
	Symbol string `json:"symbol"`
	Weight string `json:"weight"`
}

func targetsResponse(a portfolio.TargetAllocation, version int64) TargetsResponse {
	out := TargetsResponse{Targets: []TargetResponse{}, DriftBand: a.DriftBand.String(), Version: version}
	for _, t := range a.Targets {
		out.Targets = append(out.Targets, TargetResponse{Symbol: t.Symbol, Weight: t.Weight.String()})
	}
	return out
}
