package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/portfoliotracker/tracker/shared/app/history"
)

// The schedule's and an operator's inputs decode to the use case's Input; what
// is not JSON of the event's shape, or another mode, is a bad input.
func TestInput(t *testing.T) {
	for raw, want := range map[string]history.Input{
		``:                                      {},
		`null`:                                  {},
		`{}`:                                    {},
		`{"mode":"scheduled"}`:                  {},
		`{"symbol":"AAPL","from":"2024-01-01"}`: {Symbol: "AAPL", From: "2024-01-01"},
	} {
		if got, err := input(json.RawMessage(raw)); err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{`[]`, `"scheduled"`, `{"symbol":1}`, `{`, `{"mode":"backfill","symbol":"AAPL"}`} {
		if _, err := input(json.RawMessage(raw)); !errors.Is(err, history.ErrBadInput) {
			t.Errorf("%q: %v, want a bad input", raw, err)
		}
	}
}
