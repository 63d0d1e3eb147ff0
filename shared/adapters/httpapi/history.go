package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// EventPage is a page of the audit trail.
type EventPage struct {
	Items []portfolio.Event `json:"items"`
	// NextCursor, when present, is the `after` of the next page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// auditTrail pages through the portfolio's events, oldest first:
// GET /portfolios/{id}/events?after=<version>&limit=<1..500>.
func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	after, err := queryInt(r, "after", 0, 0, 1<<53)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	if err := s.checkOwner(r, id); err != nil {
		return err
	}
	// One more than asked tells whether another page follows.
	events, err := s.events.Events(r.Context(), id, after+1, after+limit+1)
	if err != nil {
		return err
	}
	page := EventPage{Items: events}
	if int64(len(events)) > limit {
		page.Items = events[:limit]
		page.NextCursor = strconv.FormatInt(page.Items[len(page.Items)-1].Version, 10)
	}
	if page.Items == nil {
		page.Items = []portfolio.Event{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// checkOwner reads the creation event: a portfolio is its creator's alone, and
// anyone else is told it does not exist.
func (s *Server) checkOwner(r *http.Request, id string) error {
	first, err := s.events.Events(r.Context(), id, 1, 1)
	if err != nil {
		return err
	}
	if len(first) == 0 || first[0].UserID != userFrom(r.Context()) {
		return fmt.Errorf("%w: portfolio %s", portfolio.ErrNotFound, id)
	}
	return nil
}

func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, newError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("query parameter %s must be an integer from %d to %d", name, lo, hi), map[string]string{"parameter": name})
	}
	return n, nil
}

// ImportRowError locates one refused row of an import.
type ImportRowError struct {
	Index   int    `json:"index"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// ImportResponse reports an import that was recorded.
type ImportResponse struct {
	Imported int                   `json:"imported"`
	Voided   int                   `json:"voided,omitempty"`
	Items    []TransactionResponse `json:"items"`
}

// importActivities records a Ghostfolio export (JSON, or CSV with Content-Type
// text/csv) in one command: every row is recorded, or none is, and the answer
// names the rows that were refused.
func (s *Server) importActivities(w http.ResponseWriter, r *http.Request) error {
	mt, body, err := importFile(w, r)
	if err != nil {
		return err
	}
	var parsed *activities.Result
	if mt == "text/csv" {
		parsed, err = activities.ParseCSV(bytes.NewReader(body), "import")
	} else {
		parsed, err = activities.Parse(bytes.NewReader(body), "import")
	}
	if err != nil {
		return importRejected("the file could not be read", err, nil)
	}
	if len(parsed.Transactions) == 0 {
		return newError(http.StatusUnprocessableEntity, CodeImportRejected, "the file holds no activities to import", nil)
	}
	if err := importSize(len(parsed.Transactions)); err != nil {
		return err
	}
	req, err := commandRequest(r, r.PathValue("id"), append([]byte(mt+"\n"), body...))
	if err != nil {
		return err
	}
	// Each row in another currency than the base without fxRate gets the rate
	// of its date from the daily closes; a row without one fails the import.
	res, err := s.commands.ImportTransactions(r.Context(), req, parsed.Transactions)
	if err != nil {
		// "transaction i: ..." from the domain names the i-th in replay order;
		// report it as the file's row.
		var idx int
		if _, scanErr := fmt.Sscanf(err.Error(), "transaction %d:", &idx); scanErr == nil && idx < len(parsed.Transactions) {
			return importRejected("a row was refused; nothing was imported", parsed.ErrorAt(parsed.Transactions[idx].Seq, errors.Unwrap(err)), err)
		}
		return err
	}
	imported, ok := res.Events[0].Data.(*portfolio.TransactionsImported)
	if !ok {
		return newError(http.StatusConflict, CodeConflict, "this Idempotency-Key was used for a different command", nil)
	}
	out := ImportResponse{Imported: len(imported.Transactions), Voided: parsed.Voided, Items: make([]TransactionResponse, 0, len(imported.Transactions))}
	for i := range imported.Transactions {
		out.Items = append(out.Items, transactionResponse(&imported.Transactions[i], res.Version))
	}
	setVersion(w, res.Version)
	writeJSON(w, statusFor(res, http.StatusCreated), CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: out})
	return nil
}

// importFile reads an import's body and its media type: application/json
// (also when no Content-Type is given) or text/csv.
func importFile(w http.ResponseWriter, r *http.Request) (mediaType string, body []byte, err error) {
	mt := "application/json"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return "", nil, newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json or text/csv", nil)
		}
	}
	if mt != "application/json" && mt != "text/csv" {
		return "", nil, newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json or text/csv", nil)
	}
	body, err = readBody(w, r)
	return mt, body, err
}

// importSize refuses an import of more than portfolio.MaxImport transactions.
func importSize(n int) error {
	if n > portfolio.MaxImport {
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("%d activities: one import records at most %d (one event, one atomic write); split the file", n, portfolio.MaxImport), nil)
	}
	return nil
}

// importRejected reports the refused row(s) of an import.
func importRejected(message string, located error, cause error) error {
	var pe *activities.Error
	rows := []ImportRowError{}
	if errors.As(located, &pe) {
		rows = append(rows, ImportRowError{Index: pe.Index, Line: pe.Line, Message: strings.TrimSpace(pe.Err.Error())})
	} else {
		rows = append(rows, ImportRowError{Index: -1, Message: located.Error()})
	}
	status := http.StatusUnprocessableEntity
	if cause != nil && errors.Is(cause, portfolio.ErrNotFound) {
		return cause
	}
	return newError(status, CodeImportRejected, message, map[string]any{"rows": rows})
}
