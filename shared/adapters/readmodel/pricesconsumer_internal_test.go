package readmodel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// What PostgreSQL refuses for the data itself matches pricing.ErrRefused, still
// reads as the PostgreSQL error it is, and keeps its message; anything else
// (a lost connection, a timeout) does not match.
func TestMarkRefused(t *testing.T) {
	for code, refused := range map[string]bool{"22P05": true, "23505": true, "54000": true, "08P01": true, "08006": false, "57P01": false, "40001": false} {
		cause := fmt.Errorf("readmodel: latest prices: %w", &pgconn.PgError{Code: code, Message: "m"})
		err := markRefused(cause)
		var pg *pgconn.PgError
		if errors.Is(err, pricing.ErrRefused) != refused || !errors.As(err, &pg) || pg.Code != code || err.Error() != cause.Error() {
			t.Errorf("%s: %v (refused %v, want %v)", code, err, errors.Is(err, pricing.ErrRefused), refused)
		}
	}
	for _, err := range []error{context.DeadlineExceeded, errors.New("connection reset")} {
		if got := markRefused(err); got != err {
			t.Errorf("%v became %v", err, got)
		}
	}
	if markRefused(nil) != nil {
		t.Error("nil is no error")
	}
}
