package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/app/history"
)

// event is the schedule's input, {"mode":"scheduled"} (or empty, null, {}), or
// an operator's request to fill a symbol from a day before the run:
// {"symbol":"AAPL","from":"2024-01-01"}.
type event struct {
	Mode   string `json:"mode,omitempty"`
	Symbol string `json:"symbol,omitempty"`
	From   string `json:"from,omitempty"`
}

// handle is the Lambda handler: it decodes the input and runs the backfill.
func handle(ctx context.Context, svc *history.Service, raw json.RawMessage) (history.Output, error) {
	in, err := input(raw)
	if err != nil {
		return history.Output{}, err
	}
	out, err := svc.Run(ctx, in)
	emitRun(runMetrics, out)
	return out, err
}

// input decodes raw into the use case's Input; what is not JSON of that shape,
// or names another mode, is history.ErrBadInput (the symbol and the day are
// checked by Run).
func input(raw json.RawMessage) (history.Input, error) {
	var ev event
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ev); err != nil {
			return history.Input{}, fmt.Errorf("%w: %v", history.ErrBadInput, err)
		}
	}
	if ev.Mode != "" && ev.Mode != "scheduled" {
		return history.Input{}, fmt.Errorf("%w: mode %q is not scheduled", history.ErrBadInput, ev.Mode)
	}
	return history.Input{Symbol: ev.Symbol, From: ev.From}, nil
}
