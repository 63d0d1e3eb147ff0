package activities

import (
	"errors"
	"fmt"
)

// ErrInvalidFile is matched (errors.Is) by every error the parsers return: the file
// is not a valid activity file. The *Error's cause may also match a domain
// sentinel such as portfolio.ErrInvalidTransaction or portfolio.ErrCurrencyMismatch.
var ErrInvalidFile = errors.New("invalid activity file")

// ErrTooManyActivities is matched by the error of ParseAll and ParseAllCSV on
// a file of more activities than they were asked to read.
var ErrTooManyActivities = errors.New("too many activities")

// Error is a parse failure, located in the file. Its message is one line:
//
//	<file>: activity <index> (line <n>): <what is wrong>   about one activity
//	<file>: line <n>: <what is wrong>                      about the file's structure
//	<file>: <what is wrong>                                with no useful position
//
// Index is the activity's 0-based position in the "activities" array (as in
// JSONPath activities[3]); for CSV files, its 0-based data row. Line is the 1-based
// line on which the activity (its opening brace, or its CSV row) starts.
type Error struct {
	File  string
	Index int // -1 when the error is not about one activity
	Line  int // 0 when unknown
	Err   error
}

func (e *Error) Error() string {
	switch {
	case e.Index >= 0:
		return fmt.Sprintf("%s: activity %d (line %d): %v", e.File, e.Index, e.Line, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
	default:
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes every *Error match ErrInvalidFile.
func (e *Error) Is(target error) bool { return target == ErrInvalidFile }
