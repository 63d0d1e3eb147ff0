package lambdaauth

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// Measured is Handle writing one AuthorizerDecisions line per answer to w:
// Kind allow, deny (a refused token, or none) or error (an outage: API
// Gateway answers 500).
func (h *Handler) Measured(w *emf.Writer) func(context.Context, json.RawMessage) (any, error) {
	kinds := map[string]*emf.Writer{}
	for _, k := range []string{"allow", "deny", "error"} {
		kinds[k] = w.WithDimensions(map[string]string{metrics.Kind: k})
	}
	return func(ctx context.Context, event json.RawMessage) (any, error) {
		out, err := h.Handle(ctx, event)
		kinds[decision(out, err)].Emit(emf.Metric{Name: "AuthorizerDecisions", Value: 1})
		return out, err
	}
}

// decision names what Handle answered.
func decision(out any, err error) string {
	switch r := out.(type) {
	case events.APIGatewayV2CustomAuthorizerSimpleResponse:
		if r.IsAuthorized {
			return "allow"
		}
		return "deny"
	case events.APIGatewayCustomAuthorizerResponse:
		for _, s := range r.PolicyDocument.Statement {
			if s.Effect == "Allow" {
				return "allow"
			}
		}
		return "deny"
	}
	if err != nil {
		return "error"
	}
	return "deny"
}
