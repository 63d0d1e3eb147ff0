package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
)

// Suggestions is the store of the caller's suggested transactions (corporate
// actions offered by the backfill): *readmodel.Suggestions over the caller's
// database. The server decides on them through suggestions.Decisions, which
// records an accepted one through the command service.
type Suggestions = suggestions.DecisionStore

var _ Suggestions = (*readmodel.Suggestions)(nil)

// Error codes of the suggestion routes: a decision already taken the other way.
const (
	CodeSuggestionDismissed = "suggestion_dismissed"
	CodeSuggestionAccepted  = "suggestion_accepted"
)

// SuggestionResponse is one suggested transaction: the corporate action (kind,
// symbol, date, payDate; held is the quantity held at the close before date,
// perShare a dividend's cash per share), the transaction accepting it records,
// and where it stands (transactionId once accepted).
type SuggestionResponse struct {
	ID            string              `json:"id"`
	PortfolioID   string              `json:"portfolioId"`
	Kind          string              `json:"kind"`
	Symbol        string              `json:"symbol"`
	Date          string              `json:"date"`
	PayDate       string              `json:"payDate,omitempty"`
	Held          string              `json:"held"`
	PerShare      string              `json:"perShare,omitempty"`
	Transaction   TransactionResponse `json:"transaction"`
	Source        string              `json:"source"`
	Status        string              `json:"status"`
	CreatedAt     time.Time           `json:"createdAt"`
	DecidedAt     *time.Time          `json:"decidedAt,omitempty"`
	TransactionID string              `json:"transactionId,omitempty"`
}

func suggestionResponse(sg suggestions.Suggestion) SuggestionResponse {
	out := SuggestionResponse{
		ID: sg.ID, PortfolioID: sg.PortfolioID, Kind: string(sg.Kind), Symbol: sg.Symbol, Date: sg.Date.String(),
		Held: sg.Held.String(), Transaction: transactionResponse(&sg.Transaction, sg.Version), Source: sg.Source,
		Status: string(sg.Status), CreatedAt: sg.CreatedAt, TransactionID: sg.TransactionID,
	}
	out.Transaction.ID = sg.TransactionID
	if sg.PayDate != nil {
		out.PayDate = sg.PayDate.String()
	}
	if !sg.PerShare.IsZero() {
		out.PerShare = sg.PerShare.String()
	}
	if !sg.DecidedAt.IsZero() {
		at := sg.DecidedAt
		out.DecidedAt = &at
	}
	return out
}

// decisions is the use case over the configured store, after the caller's
// ownership of the portfolio: a stranger gets the 404 of an unknown portfolio
// on every suggestion route, whatever else is wrong with the request.
func (s *Server) decisions(r *http.Request) (*suggestions.Decisions, error) {
	owned, err := s.owns(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	switch {
	case err != nil:
		return nil, err
	case !owned:
		return nil, errPortfolioNotFound
	case s.suggestions == nil || s.commands == nil:
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "suggestions are not available", nil)
	}
	return suggestions.NewDecisions(s.suggestions, s.commands), nil
}

// suggestionError names a decision already taken the other way.
func suggestionError(err error) error {
	switch {
	case errors.Is(err, suggestions.ErrDismissed):
		return newError(http.StatusConflict, CodeSuggestionDismissed, "the suggestion was dismissed; record the transaction yourself if it applies after all", nil)
	case errors.Is(err, suggestions.ErrAccepted):
		return newError(http.StatusConflict, CodeSuggestionAccepted, "the suggestion was accepted; void its transaction to undo it", nil)
	}
	return err
}

// listSuggestions serves GET /portfolios/{id}/suggestions?status=: the
// portfolio's suggestions of one status (pending by default), newest first.
func (s *Server) listSuggestions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisions(r)
	if err != nil {
		return err
	}
	status, err := suggestions.ParseStatus(r.URL.Query().Get("status"))
	if err != nil {
		return newError(http.StatusBadRequest, CodeBadRequest, "query parameter status must be pending, accepted or dismissed", map[string]string{"parameter": "status"})
	}
	list, err := d.List(r.Context(), userFrom(r.Context()), r.PathValue("id"), status)
	if err != nil {
		return err
	}
	items := make([]SuggestionResponse, len(list))
	for i, sg := range list {
		items[i] = suggestionResponse(sg)
	}
	writeJSON(w, http.StatusOK, map[string]any{"portfolioId": r.PathValue("id"), "status": status, "items": items})
	return nil
}

// acceptSuggestion serves POST /portfolios/{id}/suggestions/{suggestionId}/accept:
// the suggested transaction is recorded as POST /portfolios/{id}/transactions
// records one, under an idempotency key derived from the suggestion (a client's
// Idempotency-Key is not needed: a retried accept records nothing twice). It
// answers as that route does: the transaction and the portfolio's version.
func (s *Server) acceptSuggestion(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisions(r)
	if err != nil {
		return err
	}
	acc, err := d.Accept(r.Context(), suggestions.AcceptRequest{UserID: userFrom(r.Context()), PortfolioID: r.PathValue("id"),
		SuggestionID: r.PathValue("suggestionId"), CorrelationID: requestIDFrom(r.Context())})
	if err != nil {
		return suggestionError(err)
	}
	setVersion(w, acc.Version)
	w.Header().Set("Location", fmt.Sprintf("/portfolios/%s/transactions/%s", r.PathValue("id"), acc.Transaction.ID))
	status := http.StatusCreated
	if acc.Replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, CommandResponse{Version: acc.Version, Replayed: acc.Replayed, Data: transactionResponse(&acc.Transaction, acc.Version)})
	return nil
}

// dismissSuggestion serves POST /portfolios/{id}/suggestions/{suggestionId}/dismiss:
// the suggestion is never offered again. Dismissing again answers the same.
func (s *Server) dismissSuggestion(w http.ResponseWriter, r *http.Request) error {
	d, err := s.decisions(r)
	if err != nil {
		return err
	}
	sg, err := d.Dismiss(r.Context(), userFrom(r.Context()), r.PathValue("id"), r.PathValue("suggestionId"))
	if err != nil {
		return suggestionError(err)
	}
	writeJSON(w, http.StatusOK, suggestionResponse(sg))
	return nil
}
