package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/decimaltext"
)

// Alerts is the store of the caller's alert rules and alert history;
// *readmodel.AlertRules implements it. Rules are kept in Postgres rather than in
// the event log: they are user settings, read by symbol on every price batch,
// not portfolio decisions that need an audit trail. Every method filters by the
// caller.
type Alerts interface {
	Create(ctx context.Context, userID string, rule alerts.Rule) (readmodel.AlertRule, error)
	List(ctx context.Context, userID string) ([]readmodel.AlertRule, error)
	Delete(ctx context.Context, userID, id string) error
	History(ctx context.Context, userID string, limit int, cursor string) ([]readmodel.AlertFiring, string, error)
	Acknowledge(ctx context.Context, userID, firingKey string) (time.Time, error)
}

var _ Alerts = (*readmodel.AlertRules)(nil)

// Alert history page sizes.
const (
	defaultAlertHistoryPage = 50
)

// alertRuleInput is the body of POST /alerts: an alerts.Rule with decimals and
// durations as strings ("0.05", "120h"). The ID is optional (generated).
type alertRuleInput struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Symbol       string `json:"symbol"`
	PortfolioID  string `json:"portfolioId"`
	Threshold    string `json:"threshold"`
	Direction    string `json:"direction"`
	TargetWeight string `json:"targetWeight"`
	Window       string `json:"window"`
	Hysteresis   string `json:"hysteresis"`
	Cooldown     string `json:"cooldown"`
}

func (in alertRuleInput) rule() (alerts.Rule, error) {
	r := alerts.Rule{ID: in.ID, Kind: alerts.Kind(in.Kind), Symbol: in.Symbol, PortfolioID: in.PortfolioID, Direction: alerts.Direction(in.Direction)}
	for _, f := range []struct {
		name     string
		text     string
		dst      *decimal.Decimal
		required bool
	}{
		{"threshold", in.Threshold, &r.Threshold, true},
		{"targetWeight", in.TargetWeight, &r.TargetWeight, false},
		{"hysteresis", in.Hysteresis, &r.Hysteresis, false},
	} {
		if f.text == "" && !f.required {
			continue
		}
		d, err := decimaltext.Parse(f.text)
		if err != nil {
			return r, newError(http.StatusUnprocessableEntity, CodeValidation, f.name+" must be a decimal string such as \"0.05\": "+err.Error(), map[string]string{"field": f.name})
		}
		*f.dst = d
	}
	for _, f := range []struct {
		name string
		text string
		dst  *alerts.Duration
	}{{"window", in.Window, &r.Window}, {"cooldown", in.Cooldown, &r.Cooldown}} {
		if f.text == "" {
			continue
		}
		d, err := time.ParseDuration(f.text)
		if err != nil {
			return r, newError(http.StatusUnprocessableEntity, CodeValidation, f.name+" must be a duration such as \"120h\" or \"15m\"", map[string]string{"field": f.name})
		}
		*f.dst = alerts.Duration(d)
	}
	return r, nil
}

// alertRuleView is a rule as the API shows it: its definition, when it was
// created and its state (fired or armed, the arming epoch, the last firing).
type alertRuleView struct {
	alerts.Rule
	CreatedAt time.Time        `json:"createdAt"`
	State     alerts.RuleState `json:"state"`
}

func ruleView(r readmodel.AlertRule) alertRuleView {
	r.Rule.UserID = "" // the caller
	return alertRuleView{Rule: r.Rule, CreatedAt: r.CreatedAt, State: r.State}
}

type alertFiringView struct {
	Key            string          `json:"key"`
	RuleID         string          `json:"ruleId"`
	Kind           alerts.Kind     `json:"kind"`
	Symbol         string          `json:"symbol,omitempty"`
	PortfolioID    string          `json:"portfolioId,omitempty"`
	Observed       decimal.Decimal `json:"observed"`
	Threshold      decimal.Decimal `json:"threshold"`
	FiredAt        time.Time       `json:"firedAt"`
	AcknowledgedAt *time.Time      `json:"acknowledgedAt"`
}

func firingView(f readmodel.AlertFiring) alertFiringView {
	v := alertFiringView{Key: f.Key, RuleID: f.RuleID, Kind: f.Kind, Symbol: f.Symbol, PortfolioID: f.PortfolioID,
		Observed: f.Observed, Threshold: f.Threshold, FiredAt: f.FiredAt}
	if !f.AcknowledgedAt.IsZero() {
		at := f.AcknowledgedAt
		v.AcknowledgedAt = &at
	}
	return v
}

// alertsStore returns the store, or the 503 every alert route answers without one.
func (s *Server) alertsStore() (Alerts, error) {
	if s.alerts == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "alerts are not available", nil)
	}
	return s.alerts, nil
}

// alertError maps the alert store's refusals; the rest goes to classify.
func alertError(err error, what string) error {
	var ve *alerts.ValidationError
	switch {
	case errors.Is(err, alerts.ErrDuplicateRule):
		return newError(http.StatusConflict, CodeAlreadyExists, err.Error(), map[string]string{"field": "id"})
	case errors.As(err, &ve):
		return newError(http.StatusUnprocessableEntity, CodeValidation, err.Error(), map[string]string{"field": ve.Field})
	case errors.Is(err, alerts.ErrNotFound):
		return newError(http.StatusNotFound, CodeNotFound, what+" not found", nil)
	}
	return err
}

func (s *Server) createAlert(w http.ResponseWriter, r *http.Request) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	var in alertRuleInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	// A rule may name only the caller's own portfolio, and that is decided
	// before anything else about the rule, as on every portfolio route.
	if in.PortfolioID != "" {
		owned, err := s.owns(r.Context(), userFrom(r.Context()), in.PortfolioID)
		if err != nil {
			return err
		}
		if !owned {
			return newError(http.StatusNotFound, CodeNotFound, "portfolio not found", map[string]string{"field": "portfolioId"})
		}
	}
	rule, err := in.rule()
	if err != nil {
		return err
	}
	if err := s.reserveRuleSymbol(r.Context(), userFrom(r.Context()), rule); err != nil {
		return err
	}
	created, err := store.Create(r.Context(), userFrom(r.Context()), rule)
	if err != nil {
		return alertError(err, "alert rule")
	}
	w.Header().Set("Location", "/alerts/"+created.Rule.ID)
	writeJSON(w, http.StatusCreated, ruleView(created))
	return nil
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	rules, err := store.List(r.Context(), userFrom(r.Context()))
	if err != nil {
		return err
	}
	items := make([]alertRuleView, 0, len(rules))
	for _, rule := range rules {
		items = append(items, ruleView(rule))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) deleteAlert(w http.ResponseWriter, r *http.Request) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	if err := store.Delete(r.Context(), userFrom(r.Context()), r.PathValue("ruleId")); err != nil {
		return alertError(err, "alert rule")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) alertHistory(w http.ResponseWriter, r *http.Request) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", defaultAlertHistoryPage, 1, readmodel.MaxAlertHistoryPage)
	if err != nil {
		return err
	}
	page, next, err := store.History(r.Context(), userFrom(r.Context()), int(limit), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	items := make([]alertFiringView, 0, len(page))
	for _, f := range page {
		items = append(items, firingView(f))
	}
	body := map[string]any{"items": items}
	if next != "" {
		body["nextCursor"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) acknowledgeAlert(w http.ResponseWriter, r *http.Request) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	key := r.PathValue("firingKey")
	at, err := store.Acknowledge(r.Context(), userFrom(r.Context()), key)
	if err != nil {
		return alertError(err, "alert firing")
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "acknowledgedAt": at})
	return nil
}
