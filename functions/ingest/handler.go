package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/app/ingest"
)

// event is the schedule's input: empty, null, {} or {"mode":"quotes"}. Any
// other mode is refused by Run ({"mode":"backfill"} with a word on where daily
// closes are filled now: the backfill function).
type event struct {
	Mode string `json:"mode,omitempty"`
}

// handle is the Lambda handler: it decodes the schedule's input and runs it.
func handle(ctx context.Context, h *ingest.Handler, raw json.RawMessage) (ingest.Output, error) {
	in, err := input(raw)
	if err != nil {
		return ingest.Output{}, err
	}
	out, err := h.Run(ctx, in)
	emitRun(runMetrics, out)
	return out, err
}

// input decodes raw into the ingest's Input; what is not JSON of that shape is
// ingest.ErrBadInput (the mode itself is checked by Run).
func input(raw json.RawMessage) (ingest.Input, error) {
	var ev event
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ev); err != nil {
			return ingest.Input{}, fmt.Errorf("%w: %v", ingest.ErrBadInput, err)
		}
	}
	return ingest.Input{Mode: ingest.Mode(ev.Mode)}, nil
}
