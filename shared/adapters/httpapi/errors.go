package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// Error codes: stable, machine-readable; the message is for humans.
const (
	CodeBadRequest        = "bad_request"
	CodeInvalidJSON       = "invalid_json"
	CodeValidation        = "validation_failed"
	CodeUnauthorized      = "unauthorized"
	CodeNotFound          = "not_found"
	CodeConflict          = "version_conflict"
	CodeAlreadyExists     = "already_exists"
	CodeArchived          = "portfolio_archived"
	CodeInsufficient      = "insufficient_holdings"
	CodeCurrencyMismatch  = "currency_mismatch"
	CodeFXRateRequired    = "fx_rate_required"
	CodeTooLarge          = "payload_too_large"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeInternal          = "internal_error"
	CodeTooManyRequests   = "too_many_requests"
	CodeImportRejected    = "import_rejected"
	CodePreconditionMatch = "precondition_failed"
	CodeUnavailable       = "unavailable"
	CodeNotComputed       = "not_computed"
	CodeKeyReused         = "idempotency_key_reused"
	// CodeQuotaExceeded answers every quota's refusal (package quota): 422 for
	// what is stored, 429 for what is in use; details name the quota and limit.
	CodeQuotaExceeded = "quota_exceeded"
)

// apiError is an error with its HTTP status and public code.
type apiError struct {
	status  int
	code    string
	message string
	details any
}

func (e *apiError) Error() string { return e.message }

func newError(status int, code, message string, details any) *apiError {
	return &apiError{status: status, code: code, message: message, details: details}
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// classify maps an error from any layer to a status and code. Domain refusals
// are the client's to fix (4xx); only what we cannot name is a 500, and its
// message never leaks internals.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var qe *quota.ExceededError
	if errors.As(err, &qe) {
		status := qe.Quota.Status
		if status == quota.StatusInBand { // a WebSocket cap reaching HTTP is still the data's
			status = quota.StatusStored
		}
		return newError(status, CodeQuotaExceeded, qe.Error(), qe.Details())
	}
	msg := err.Error()
	switch {
	case errors.Is(err, readmodel.ErrInvalidCursor):
		return newError(http.StatusBadRequest, CodeBadRequest, "the cursor is not one this API issued", map[string]string{"parameter": "cursor"})
	case errors.Is(err, users.ErrErased), errors.Is(err, command.ErrAccountErased):
		return newError(http.StatusGone, CodeAccountDeleted, "this account was deleted", nil)
	case errors.Is(err, portfolio.ErrNotFound), errors.Is(err, portfolio.ErrNotFound):
		return newError(http.StatusNotFound, CodeNotFound, "portfolio or transaction not found", nil)
	case errors.Is(err, portfolio.ErrConcurrencyConflict):
		return newError(http.StatusConflict, CodeConflict, msg, nil)
	case errors.Is(err, portfolio.ErrAlreadyExists):
		return newError(http.StatusConflict, CodeAlreadyExists, msg, nil)
	case errors.Is(err, portfolio.ErrAlreadyVoided):
		return newError(http.StatusConflict, CodeConflict, msg, nil)
	case errors.Is(err, portfolio.ErrArchived):
		return newError(http.StatusUnprocessableEntity, CodeArchived, msg, nil)
	case errors.Is(err, portfolio.ErrInsufficientHoldings):
		return newError(http.StatusUnprocessableEntity, CodeInsufficient, msg, nil)
	case errors.Is(err, portfolio.ErrCurrencyMismatch):
		return newError(http.StatusUnprocessableEntity, CodeCurrencyMismatch, msg, nil)
	case errors.Is(err, portfolio.ErrFXRateRequired):
		details := map[string]string{"field": "fxRate"}
		if missing, ok := errors.AsType[*command.RateMissingError](err); ok {
			details["from"], details["to"], details["date"] = missing.From, missing.To, missing.Day.String()
		}
		return newError(http.StatusUnprocessableEntity, CodeFXRateRequired, msg, details)
	case errors.Is(err, portfolio.ErrInvalidCommand), errors.Is(err, portfolio.ErrInvalidTransaction), errors.Is(err, portfolio.ErrInvalidTargets):
		return newError(http.StatusUnprocessableEntity, CodeValidation, msg, nil)
	case errors.Is(err, command.ErrCommandIDReused):
		return newError(http.StatusUnprocessableEntity, CodeKeyReused, "this Idempotency-Key was already used for a different request; use a new key for a new request", nil)
	case errors.Is(err, eventstore.ErrTooManyEvents):
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge, msg, nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable, CodeInternal, "the request took too long; it is safe to retry with the same Idempotency-Key", nil)
	}
	return newError(http.StatusInternalServerError, CodeInternal, "internal error", nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	log := s.logger(r)
	if ae.status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "status", ae.status, "error", err.Error())
	} else {
		log.InfoContext(r.Context(), "request refused", "status", ae.status, "code", ae.code, "error", err.Error())
	}
	writeJSON(w, ae.status, errorBody{Error: errorPayload{Code: ae.code, Message: ae.message, Details: ae.details}})
}

func (s *Server) logger(r *http.Request) *slog.Logger {
	l := s.log
	if id := requestIDFrom(r.Context()); id != "" {
		// The API Gateway's request ID: the log shape's requestId is the
		// invocation's (shared/platform/logging).
		l = l.With("apiRequestId", id)
	}
	if u := userFrom(r.Context()); u != "" {
		l = l.With("userId", u)
	}
	return l
}
