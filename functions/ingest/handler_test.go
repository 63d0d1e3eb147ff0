package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/portfoliotracker/tracker/shared/app/ingest"
)

// The schedule's inputs decode to the ingest's Input; what is not JSON of the
// event's shape is a bad input.
func TestInput(t *testing.T) {
	for raw, want := range map[string]ingest.Input{
		``:                           {},
		`null`:                       {},
		`{}`:                         {},
		`{"mode":"quotes"}`:          {Mode: ingest.ModeQuotes},
		`{"mode":"other","extra":1}`: {Mode: "other"},
		// The retired backfill's input decodes to its mode, which Run refuses.
		`{"mode":"backfill","symbol":"AAPL","from":"2024-01-01","to":"2024-03-01"}`: {Mode: "backfill"},
	} {
		if got, err := input(json.RawMessage(raw)); err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{`[]`, `"quotes"`, `{"mode":1}`, `{`} {
		if _, err := input(json.RawMessage(raw)); !errors.Is(err, ingest.ErrBadInput) {
			t.Errorf("%q: %v, want a bad input", raw, err)
		}
	}
}
