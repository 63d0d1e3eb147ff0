package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/decimaltext"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
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
	Update(ctx context.Context, userID, id string, patch alerts.Patch) (readmodel.AlertRule, error)
	History(ctx context.Context, userID string, limit int, cursor string) ([]readmodel.AlertFiring, string, error)
	Acknowledge(ctx context.Context, userID, firingKey string) (time.Time, error)
}

var _ Alerts = (*readmodel.AlertRules)(nil)

// Alert history page sizes.
const (
	defaultAlertHistoryPage = 50
)

// alertRuleInput is the body of POST /alerts: an alerts.Rule with decimals and
// durations as strings ("0.05", "120h"). The ID is optional (generated). A rule
// of several conditions has conditions and match instead of its own kind,
// symbol, threshold, direction, targetWeight and window. active false creates
// it paused.
type alertRuleInput struct {
	ID           string           `json:"id"`
	Kind         string           `json:"kind"`
	Symbol       string           `json:"symbol"`
	PortfolioID  string           `json:"portfolioId"`
	Threshold    string           `json:"threshold"`
	Direction    string           `json:"direction"`
	TargetWeight string           `json:"targetWeight"`
	Window       string           `json:"window"`
	Conditions   []conditionInput `json:"conditions"`
	Match        string           `json:"match"`
	Hysteresis   string           `json:"hysteresis"`
	Cooldown     string           `json:"cooldown"`
	Channels     []notify.Channel `json:"channels"`
	Active       *bool            `json:"active"`
}

// conditionInput is one of the conditions of alertRuleInput.
type conditionInput struct {
	Kind         string `json:"kind"`
	Symbol       string `json:"symbol"`
	Threshold    string `json:"threshold"`
	Direction    string `json:"direction"`
	TargetWeight string `json:"targetWeight"`
	Window       string `json:"window"`
}

func (in alertRuleInput) rule() (alerts.Rule, error) {
	r := alerts.Rule{ID: in.ID, PortfolioID: in.PortfolioID, Match: alerts.Match(in.Match), Channels: in.Channels}
	if in.Active != nil && !*in.Active {
		r.PausedAt = time.Now().UTC()
	}
	if len(in.Conditions) == 0 {
		c, err := conditionInput{in.Kind, in.Symbol, in.Threshold, in.Direction, in.TargetWeight, in.Window}.condition("")
		if err != nil {
			return r, err
		}
		r.Kind, r.Symbol, r.Threshold, r.Direction, r.TargetWeight, r.Window = c.Kind, c.Symbol, c.Threshold, c.Direction, c.TargetWeight, c.Window
	} else {
		if in.Kind != "" || in.Symbol != "" || in.Threshold != "" || in.Direction != "" || in.TargetWeight != "" || in.Window != "" {
			return r, newError(http.StatusUnprocessableEntity, CodeValidation, "a rule with conditions has no kind, symbol, threshold, direction, targetWeight or window of its own", map[string]string{"field": "conditions"})
		}
		conds, err := conditionsOf(in.Conditions)
		if err != nil {
			return r, err
		}
		r.Conditions = conds
	}
	var err error
	if r.Hysteresis, err = optionalDecimal("hysteresis", in.Hysteresis); err != nil {
		return r, err
	}
	r.Cooldown, err = optionalDuration("cooldown", in.Cooldown)
	return r, err
}

func conditionsOf(in []conditionInput) ([]alerts.Condition, error) {
	out := make([]alerts.Condition, len(in))
	for i, c := range in {
		var err error
		if out[i], err = c.condition(fmt.Sprintf("conditions[%d].", i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// condition parses c; prefix names it in errors.
func (c conditionInput) condition(prefix string) (alerts.Condition, error) {
	out := alerts.Condition{Kind: alerts.Kind(c.Kind), Symbol: c.Symbol, Direction: alerts.Direction(c.Direction)}
	var err error
	if out.Threshold, err = decimalField(prefix+"threshold", c.Threshold); err != nil {
		return out, err
	}
	if out.TargetWeight, err = optionalDecimal(prefix+"targetWeight", c.TargetWeight); err != nil {
		return out, err
	}
	out.Window, err = optionalDuration(prefix+"window", c.Window)
	return out, err
}

func decimalField(name, text string) (decimal.Decimal, error) {
	d, err := decimaltext.Parse(text)
	if err != nil {
		return d, newError(http.StatusUnprocessableEntity, CodeValidation, name+" must be a decimal string such as \"0.05\": "+err.Error(), map[string]string{"field": name})
	}
	return d, nil
}

func optionalDecimal(name, text string) (decimal.Decimal, error) {
	if text == "" {
		return decimal.Decimal{}, nil
	}
	return decimalField(name, text)
}

func optionalDuration(name, text string) (alerts.Duration, error) {
	if text == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, newError(http.StatusUnprocessableEntity, CodeValidation, name+" must be a duration such as \"120h\" or \"15m\"", map[string]string{"field": name})
	}
	return alerts.Duration(d), nil
}

// alertPatchInput is the body of PATCH /alerts/{ruleId}, a JSON merge patch of
// the rule as alertRuleInput writes it: the fields present replace the rule's
// (channels null or [] return the rule to the owner's preferences). A field
// that names what the rule watches on (kind, symbol, portfolioId) or the id
// cannot change: create another rule.
type alertPatchInput struct {
	Threshold    *string           `json:"threshold"`
	Direction    *string           `json:"direction"`
	TargetWeight *string           `json:"targetWeight"`
	Window       *string           `json:"window"`
	Conditions   *[]conditionInput `json:"conditions"`
	Match        *string           `json:"match"`
	Hysteresis   *string           `json:"hysteresis"`
	Cooldown     *string           `json:"cooldown"`
	Channels     json.RawMessage   `json:"channels"`
	Active       *bool             `json:"active"`
}

func (in alertPatchInput) patch() (alerts.Patch, error) {
	p := alerts.Patch{Active: in.Active}
	for _, f := range []struct {
		name string
		text *string
		dst  **decimal.Decimal
	}{{"threshold", in.Threshold, &p.Threshold}, {"targetWeight", in.TargetWeight, &p.TargetWeight}, {"hysteresis", in.Hysteresis, &p.Hysteresis}} {
		if f.text == nil {
			continue
		}
		d, err := optionalDecimal(f.name, *f.text)
		if err != nil {
			return p, err
		}
		*f.dst = &d
	}
	for _, f := range []struct {
		name string
		text *string
		dst  **alerts.Duration
	}{{"window", in.Window, &p.Window}, {"cooldown", in.Cooldown, &p.Cooldown}} {
		if f.text == nil {
			continue
		}
		d, err := optionalDuration(f.name, *f.text)
		if err != nil {
			return p, err
		}
		*f.dst = &d
	}
	if in.Direction != nil {
		d := alerts.Direction(*in.Direction)
		p.Direction = &d
	}
	if in.Match != nil {
		m := alerts.Match(*in.Match)
		p.Match = &m
	}
	if in.Conditions != nil {
		conds, err := conditionsOf(*in.Conditions)
		if err != nil {
			return p, err
		}
		p.Conditions = &conds
	}
	if in.Channels != nil {
		var cs []notify.Channel
		if err := json.Unmarshal(in.Channels, &cs); err != nil {
			return p, newError(http.StatusUnprocessableEntity, CodeValidation, "channels must be a list of "+fmt.Sprint(notify.Channels)+" or null", map[string]string{"field": "channels"})
		}
		p.Channels = &cs
	}
	return p, nil
}

// alertRuleView is a rule as the API shows it: its definition (with its
// conditions and channels, and since when it is paused), whether it is active,
// when it was created and its state (fired or armed, the arming epoch, the last
// firing, which conditions hold).
type alertRuleView struct {
	alerts.Rule
	Active    bool             `json:"active"`
	CreatedAt time.Time        `json:"createdAt"`
	State     alerts.RuleState `json:"state"`
}

func ruleView(r readmodel.AlertRule) alertRuleView {
	r.Rule.UserID = "" // the caller
	return alertRuleView{Rule: r.Rule, Active: r.Rule.Active(), CreatedAt: r.CreatedAt, State: r.State}
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
	if rule.ID == "" {
		rule.ID = uuid.New() // as the store would, so that the rule is checked whole
	}
	if err := checkNewRule(userFrom(r.Context()), rule); err != nil {
		return alertError(err, "alert rule")
	}
	if err := s.reserveRuleSymbols(r.Context(), userFrom(r.Context()), rule); err != nil {
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

func (s *Server) updateAlert(w http.ResponseWriter, r *http.Request) error {
	var in alertPatchInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	patch, err := in.patch()
	if err != nil {
		return err
	}
	if patch.Conditions != nil { // the only field that changes what a rule watches
		store, err := s.alertsStore()
		if err != nil {
			return err
		}
		next, found, err := patchedRule(r.Context(), store, userFrom(r.Context()), r.PathValue("ruleId"), patch)
		if err != nil {
			return alertError(err, "alert rule")
		}
		if found {
			if err := s.reserveRuleSymbols(r.Context(), userFrom(r.Context()), next); err != nil {
				return err
			}
		}
	}
	return s.patchAlert(w, r, patch)
}

// checkNewRule checks rule as the store will before creating it as userID's.
func checkNewRule(userID string, rule alerts.Rule) error {
	if err := rule.CheckNew(); err != nil {
		return err
	}
	rule.UserID = userID
	return rule.Validate()
}

// patchedRule is userID's rule id with patch applied and checked, as the
// store's Update will write it (found false: there is no such rule; Update
// answers). Its symbols are what the patch makes the rule watch: conditions
// replace the rule's whole, on the rule's own portfolio, so a patch racing
// this one cannot change them.
func patchedRule(ctx context.Context, store Alerts, userID, id string, patch alerts.Patch) (alerts.Rule, bool, error) {
	rules, err := store.List(ctx, userID)
	if err != nil {
		return alerts.Rule{}, false, err
	}
	for _, cur := range rules {
		if cur.Rule.ID != id {
			continue
		}
		cur.Rule.UserID = userID
		next, err := readmodel.PatchRule(cur, id, patch, time.Now())
		return next.Rule, err == nil, err
	}
	return alerts.Rule{}, false, nil
}

func (s *Server) pauseAlert(w http.ResponseWriter, r *http.Request) error {
	off := false
	return s.patchAlert(w, r, alerts.Patch{Active: &off})
}

func (s *Server) resumeAlert(w http.ResponseWriter, r *http.Request) error {
	on := true
	return s.patchAlert(w, r, alerts.Patch{Active: &on})
}

// patchAlert applies patch to the caller's rule of the path and answers with
// the rule as stored.
func (s *Server) patchAlert(w http.ResponseWriter, r *http.Request, patch alerts.Patch) error {
	store, err := s.alertsStore()
	if err != nil {
		return err
	}
	updated, err := store.Update(r.Context(), userFrom(r.Context()), r.PathValue("ruleId"), patch)
	if err != nil {
		return alertError(err, "alert rule")
	}
	writeJSON(w, http.StatusOK, ruleView(updated))
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
