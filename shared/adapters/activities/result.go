package activities

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Result is a parsed activity file.
type Result struct {
	// Source names the file in error messages.
	Source string
	// Currencies are the currencies the transactions are in (a CONVERSION's
	// toCurrency too), sorted; GBp is listed as written. The file says nothing of
	// the base currency: the caller chooses it.
	Currencies []string
	// Transactions are the activities that were not voided, in replay order
	// (portfolio.SortForReplay). Seq is each one's 0-based index in the file.
	Transactions []portfolio.Transaction
	// Activities counts the file's activities, VOIDs and voided ones included.
	Activities int
	// Voided counts the activities removed by a VOID.
	Voided int
	// Refused are the activities refused, in file order, when the file was read
	// by ParseAll or ParseAllCSV (Parse and ParseCSV stop at the first): each
	// is left out of Transactions, as if absent, and claims no id (a VOID of
	// it is refused in turn).
	Refused []*Error

	lines    []int32         // line of each activity, by file index
	voidedBy map[int32]int32 // voided activity -> its VOID, by file index
	voids    map[int32]int32 // VOID -> the activity it voids, by file index
}

// VoidedBy returns the file index of the VOID that removed the activity with
// file index seq, if one did.
func (r *Result) VoidedBy(seq int) (int, bool) {
	by, ok := r.voidedBy[int32(seq)]
	return int(by), ok
}

// Voids returns the file index of the activity the VOID with file index seq
// removed; false when seq is no VOID kept.
func (r *Result) Voids(seq int) (int, bool) {
	target, ok := r.voids[int32(seq)]
	return int(target), ok
}

// Line returns the line on which the activity with file index seq starts (0 if none).
func (r *Result) Line(seq int64) int {
	if seq < 0 || seq >= int64(len(r.lines)) {
		return 0
	}
	return int(r.lines[seq])
}

// ErrorAt locates err — found later, e.g. when replaying the transaction with file
// index seq — in the file, in the parsers' one-line format.
func (r *Result) ErrorAt(seq int64, err error) *Error {
	if seq < 0 || seq >= int64(len(r.lines)) {
		return &Error{File: r.Source, Index: -1, Err: err}
	}
	return &Error{File: r.Source, Index: int(seq), Line: int(r.lines[seq]), Err: err}
}

// ParseFile opens path and parses it: as CSV if its name ends in ".csv" (any case),
// as JSON otherwise. Errors name the file as given.
func ParseFile(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Index: -1, Err: openError(err)}
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ParseCSV(f, path)
	}
	return Parse(f, path)
}

// openError shortens *PathError (whose text repeats the path) to its cause.
func openError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return tagged(err, "cannot open: %v", pe.Err)
	}
	return tagged(err, "cannot open: %v", err)
}

// String summarises the result for logs.
func (r *Result) String() string {
	return fmt.Sprintf("%s: %d activities (%d voided), %d transactions in %s",
		r.Source, r.Activities, r.Voided, len(r.Transactions), strings.Join(r.Currencies, ", "))
}
