package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// ImportPreviewResponse is what an import of a file would do, row by row,
// with nothing written: every row's refusal, not only the first.
type ImportPreviewResponse struct {
	// Rows are the file's activities, in file order.
	Rows []ImportPreviewRow `json:"rows"`
	// Valid and Invalid count the rows of each status; the import records the
	// file only when Invalid is 0.
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
}

// Statuses of an ImportPreviewRow.
const (
	PreviewOK    = "ok"
	PreviewError = "error"
)

// ImportPreviewRow is one activity of the file.
type ImportPreviewRow struct {
	// Index is the activity's 0-based position in the file (its data row in a
	// CSV file), Line the 1-based line it starts on.
	Index  int    `json:"index"`
	Line   int    `json:"line,omitempty"`
	Status string `json:"status"`
	// Message says why the row would be refused (status error).
	Message string `json:"message,omitempty"`
	// Transaction is the row as it would be recorded (its fxRate looked up when
	// missing); absent for a row that could not be read, a VOID and a row a
	// VOID removes.
	Transaction *TransactionFields `json:"transaction,omitempty"`
	// Voids, on a VOID row, is the index of the row it removes; VoidedBy, on
	// that row, the index of the VOID.
	Voids    *int `json:"voids,omitempty"`
	VoidedBy *int `json:"voidedBy,omitempty"`
}

// maxPreviewActivities bounds the activities a preview reads: an import's
// transactions (portfolio.MaxImport) and as many VOIDs. A longer file is
// refused before any row is checked, so a preview's work is bounded as an
// import's is.
const maxPreviewActivities = 2 * portfolio.MaxImport

// previewImport answers what POST /portfolios/{id}/import would do with the
// same body (JSON, or CSV with Content-Type text/csv), row by row, writing
// nothing: the rows the file's rules refuse (activities.ParseAll), the rows
// without an exchange rate, and the rows the portfolio refuses, each against
// the portfolio as the accepted rows before it leave it. What refuses the
// whole file answers as the import does: 413 past portfolio.MaxImport
// transactions, 422 for an unreadable file, 404 for another's portfolio, 422
// portfolio_archived, 422 quota_exceeded.
func (s *Server) previewImport(w http.ResponseWriter, r *http.Request) error {
	mt, body, err := importFile(w, r)
	if err != nil {
		return err
	}
	var parsed *activities.Result
	if mt == "text/csv" {
		parsed, err = activities.ParseAllCSV(bytes.NewReader(body), "import", maxPreviewActivities)
	} else {
		parsed, err = activities.ParseAll(bytes.NewReader(body), "import", maxPreviewActivities)
	}
	if errors.Is(err, activities.ErrTooManyActivities) {
		return newError(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("more than %d activities: one import records at most %d (one event, one atomic write); split the file", maxPreviewActivities, portfolio.MaxImport), nil)
	}
	if err != nil {
		return importRejected("the file could not be read", err, nil)
	}
	if parsed.Activities == 0 {
		return newError(http.StatusUnprocessableEntity, CodeImportRejected, "the file holds no activities to import", nil)
	}
	if err := importSize(len(parsed.Transactions) + len(parsed.Refused)); err != nil {
		return err
	}
	decided, err := s.commands.PreviewImport(r.Context(), userFrom(r.Context()), r.PathValue("id"), parsed.Transactions)
	if err != nil {
		return err
	}
	out := previewRows(parsed)
	for i := range decided.Transactions {
		tx := &decided.Transactions[i]
		row := &out.Rows[tx.Seq] // Seq is the file index (activities.Result)
		row.Transaction = previewTransaction(tx)
		if refusal := decided.Refused[i]; refusal != nil {
			row.Status, row.Message = PreviewError, refusal.Error()
		}
	}
	for _, row := range out.Rows {
		if row.Status == PreviewOK {
			out.Valid++
		} else {
			out.Invalid++
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// previewRows lists the file's activities: those the file's rules refused with
// their message, the VOIDs and the rows they remove; every other row ok until
// the portfolio decides.
func previewRows(parsed *activities.Result) ImportPreviewResponse {
	out := ImportPreviewResponse{Rows: make([]ImportPreviewRow, parsed.Activities)}
	for i := range out.Rows {
		row := &out.Rows[i]
		row.Index, row.Line, row.Status = i, parsed.Line(int64(i)), PreviewOK
		if target, ok := parsed.Voids(i); ok {
			row.Voids = &target
		}
		if by, ok := parsed.VoidedBy(i); ok {
			row.VoidedBy = &by
		}
	}
	for _, refused := range parsed.Refused {
		row := &out.Rows[refused.Index]
		row.Status, row.Message = PreviewError, strings.TrimSpace(refused.Err.Error())
	}
	return out
}

func previewTransaction(tx *portfolio.Transaction) *TransactionFields {
	fields := transactionResponse(tx, 0).TransactionFields
	return &fields
}
