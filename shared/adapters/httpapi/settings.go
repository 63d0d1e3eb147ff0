package httpapi

import (
	"net/http"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// settingsRequest is the body of PUT /portfolios/{id}/settings. Every field is
// optional: an absent one keeps the portfolio's current value (the default, for a
// portfolio that never set it), so a client can change one setting without
// reading the others first. A body with no field at all is refused.
type settingsRequest struct {
	Benchmark     *string  `json:"benchmark"`
	WholeShares   *bool    `json:"wholeShares"`
	MinTradeValue *Decimal `json:"minTradeValue"`
}

// SettingsResponse is a portfolio's analytics settings as a command left them.
type SettingsResponse struct {
	Benchmark   string `json:"benchmark"`
	WholeShares bool   `json:"wholeShares"`
	// MinTradeValue is in the portfolio's base currency.
	MinTradeValue string `json:"minTradeValue"`
	Version       int64  `json:"version"`
}

func settingsResponse(s portfolio.AnalyticsSettings, version int64) SettingsResponse {
	return SettingsResponse{Benchmark: s.Benchmark, WholeShares: s.WholeShares, MinTradeValue: s.MinTradeValue.String(), Version: version}
}

// setSettings changes the portfolio's analytics settings (AnalyticsSettingsChanged):
// idempotent under Idempotency-Key and checked against If-Match, like every
// command. The analytics function recomputes the portfolio on the event.
func (s *Server) setSettings(w http.ResponseWriter, r *http.Request) error {
	var body settingsRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Benchmark == nil && body.WholeShares == nil && body.MinTradeValue == nil {
		return newError(http.StatusBadRequest, CodeValidation, "send benchmark, wholeShares, minTradeValue or several of them", nil)
	}
	req, err := commandRequest(r, r.PathValue("id"), canonical(body))
	if err != nil {
		return err
	}
	res, err := s.commands.Execute(r.Context(), req, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		set := p.AnalyticsSettings()
		if body.Benchmark != nil {
			set.Benchmark = *body.Benchmark
		}
		if body.WholeShares != nil {
			set.WholeShares = *body.WholeShares
		}
		if body.MinTradeValue != nil {
			set.MinTradeValue = body.MinTradeValue.Decimal
		}
		return p.ChangeAnalyticsSettings(set, meta)
	})
	if err != nil {
		return err
	}
	changed, ok := res.Events[0].Data.(*portfolio.AnalyticsSettingsChanged)
	if !ok {
		return newError(http.StatusConflict, CodeConflict, "this Idempotency-Key was used for a different command", nil)
	}
	setVersion(w, res.Version)
	writeJSON(w, http.StatusOK, CommandResponse{Version: res.Version, Replayed: res.Replayed, Data: settingsResponse(changed.AnalyticsSettings, res.Version)})
	return nil
}
