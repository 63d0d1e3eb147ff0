package memstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Alerts is the in-memory readmodel.AlertRules: rules scoped by user, their
// engine state, the portfolios' recent values, the state marks and their change
// feed, and the firing history keyed by firing key.
type Alerts struct {
	dir    PortfolioDirectory
	wealth WealthSource

	mu      sync.Mutex
	rules   map[string]*storedRule // by scoped ID
	samples map[string][]byte      // portfolio ID → JSON []alerts.ValueSample
	marks   map[string]mark        // alert key → mark
	clock   uint64                 // the marks' change feed position: the last change
	history map[string]*firing     // by scoped firing key
}

type storedRule struct {
	def       []byte // JSON alerts.Rule, scoped ID and user
	state     []byte // JSON alerts.RuleState, nil when armed
	userID    string
	rule      alerts.Rule
	createdAt time.Time
}

type mark struct {
	token   string
	changed uint64
}

type firing struct {
	f       readmodel.AlertFiring // Key and RuleID scoped
	userID  string
	ackedAt time.Time
}

// WealthSource is the analytics figures as the alert store reads them for
// drawdown rules (readmodel.AlertRules reads portfolio_metrics): the wealth
// mark of a portfolio's newest computation. Metrics implements it.
type WealthSource interface {
	WealthMark(portfolioID string) (alerts.WealthMark, bool)
}

// ReadWealthFrom makes PortfolioRules serve the wealth marks of src (as the
// PostgreSQL store joins the metrics table); without it there are none.
func (a *Alerts) ReadWealthFrom(src WealthSource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.wealth = src
}

// NewAlerts returns an empty store whose portfolio rules join the portfolios of
// dir (nil: none).
func NewAlerts(dir PortfolioDirectory) *Alerts {
	if dir == nil {
		dir = NewDirectory()
	}
	return &Alerts{dir: dir, rules: map[string]*storedRule{}, samples: map[string][]byte{}, marks: map[string]mark{},
		history: map[string]*firing{}}
}

// Create implements readmodel.AlertRules.Create.
func (a *Alerts) Create(_ context.Context, userID string, rule alerts.Rule) (readmodel.AlertRule, error) {
	if !uuid.Valid(userID) {
		return readmodel.AlertRule{}, fmt.Errorf("memstore: alert rule: user %q is not a UUID", userID)
	}
	if rule.ID == "" {
		rule.ID = uuid.New()
	}
	if err := rule.CheckNew(); err != nil {
		return readmodel.AlertRule{}, err
	}
	own := rule.ID
	rule.ID, rule.UserID = alerts.ScopedID(userID, own), userID
	if err := rule.Validate(); err != nil {
		var ve *alerts.ValidationError
		if errors.As(err, &ve) {
			ve.RuleID = own
		}
		return readmodel.AlertRule{}, err
	}
	def, err := json.Marshal(rule)
	if err != nil {
		return readmodel.AlertRule{}, fmt.Errorf("memstore: alert rule: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.rules {
		if r.userID == userID {
			n++
		}
	}
	if n >= quota.AlertRulesPerUser.Limit {
		return readmodel.AlertRule{}, quota.Exceeded(quota.AlertRulesPerUser, n+1)
	}
	if _, ok := a.rules[rule.ID]; ok {
		return readmodel.AlertRule{}, &alerts.ValidationError{RuleID: own, Field: "id", Err: alerts.ErrDuplicateRule}
	}
	r := &storedRule{def: def, state: a.firstEpoch(rule.ID), userID: userID, rule: rule, createdAt: now()}
	a.rules[rule.ID] = r
	a.moveMark(ruleKey(rule))
	rule.ID = own
	return readmodel.AlertRule{Rule: rule, CreatedAt: r.createdAt}, nil
}

// firstEpoch is the state a new rule of scoped ID id starts from (migration
// 0028): armed above the last epoch of the history of a deleted rule of that
// ID, so that its firing keys are new; nil (epoch 0) without history.
func (a *Alerts) firstEpoch(id string) []byte {
	var last uint64
	seen := false
	for key := range a.history {
		n, ok := strings.CutPrefix(key, id+"#")
		if !ok {
			continue
		}
		if e, err := strconv.ParseUint(n, 10, 64); err == nil && (!seen || e > last) {
			last, seen = e, true
		}
	}
	if !seen {
		return nil
	}
	b, _ := json.Marshal(alerts.RuleState{Epoch: last + 1})
	return b
}

// ruleKey is the alert key whose mark a change of r moves (the marks trigger's).
func ruleKey(r alerts.Rule) string {
	if r.PortfolioID != "" {
		return "p:" + r.PortfolioID
	}
	return "s:" + r.Primary().Symbol
}

// moveMark gives key a new random token, as a rule change does.
func (a *Alerts) moveMark(key string) {
	a.clock++
	a.marks[key] = mark{token: uuid.New(), changed: a.clock}
}

// List implements readmodel.AlertRules.List.
func (a *Alerts) List(_ context.Context, userID string) ([]readmodel.AlertRule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var own []*storedRule
	for _, r := range a.rules {
		if r.userID == userID {
			own = append(own, r)
		}
	}
	slices.SortFunc(own, func(x, y *storedRule) int {
		if c := x.createdAt.Compare(y.createdAt); c != 0 {
			return c
		}
		return strings.Compare(x.rule.ID, y.rule.ID)
	})
	out := []readmodel.AlertRule{}
	for _, r := range own {
		ar, err := r.decode()
		if err != nil {
			return nil, err
		}
		ar.Rule.ID = alerts.OwnID(userID, ar.Rule.ID)
		out = append(out, ar)
	}
	return out, nil
}

func (r *storedRule) decode() (readmodel.AlertRule, error) {
	out := readmodel.AlertRule{CreatedAt: r.createdAt}
	if err := json.Unmarshal(r.def, &out.Rule); err != nil {
		return out, fmt.Errorf("memstore: alert rule definition: %w", err)
	}
	if r.state != nil {
		if err := json.Unmarshal(r.state, &out.State); err != nil {
			return out, fmt.Errorf("memstore: alert rule state: %w", err)
		}
	}
	out.State = out.Rule.EffectiveState(out.State)
	return out, nil
}

// Delete implements readmodel.AlertRules.Delete.
func (a *Alerts) Delete(_ context.Context, userID, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	scoped := alerts.ScopedID(userID, id)
	r, ok := a.rules[scoped]
	if !ok || r.userID != userID {
		return alerts.ErrNotFound
	}
	delete(a.rules, scoped)
	a.moveMark(ruleKey(r.rule))
	return nil
}

// Update implements readmodel.AlertRules.Update.
func (a *Alerts) Update(_ context.Context, userID, id string, patch alerts.Patch) (readmodel.AlertRule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	scoped := alerts.ScopedID(userID, id)
	stored, ok := a.rules[scoped]
	if !ok || stored.userID != userID {
		return readmodel.AlertRule{}, alerts.ErrNotFound
	}
	cur, err := stored.decode()
	if err != nil {
		return readmodel.AlertRule{}, err
	}
	next, err := readmodel.PatchRule(cur, id, patch, now())
	if err != nil {
		return readmodel.AlertRule{}, err
	}
	def, err := json.Marshal(next.Rule)
	if err != nil {
		return readmodel.AlertRule{}, fmt.Errorf("memstore: alert rule: %w", err)
	}
	old := stored.rule
	stored.def, stored.rule = def, next.Rule
	a.moveMark(ruleKey(old))
	a.moveMark(ruleKey(next.Rule))
	next.Rule.ID = id
	return next, nil
}

// History implements readmodel.AlertRules.History.
func (a *Alerts) History(_ context.Context, userID string, limit int, cursor string) ([]readmodel.AlertFiring, string, error) {
	limit = max(1, min(limit, readmodel.MaxAlertHistoryPage))
	var afterAt time.Time
	afterKey, bounded := "", false
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", readmodel.ErrInvalidCursor
		}
		at, key, ok := strings.Cut(string(raw), "|")
		t, perr := time.Parse(time.RFC3339Nano, at)
		if !ok || perr != nil {
			return nil, "", readmodel.ErrInvalidCursor
		}
		afterAt, afterKey, bounded = t, key, true
	}
	a.mu.Lock()
	var rows []firing
	for _, f := range a.history {
		if f.userID != userID {
			continue
		}
		if bounded {
			if c := f.f.FiredAt.Compare(afterAt); c > 0 || (c == 0 && f.f.Key >= afterKey) {
				continue
			}
		}
		rows = append(rows, *f)
	}
	a.mu.Unlock()
	slices.SortFunc(rows, func(x, y firing) int { // newest first, then by key, descending
		if c := y.f.FiredAt.Compare(x.f.FiredAt); c != 0 {
			return c
		}
		return strings.Compare(y.f.Key, x.f.Key)
	})
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1].f
		next = base64.RawURLEncoding.EncodeToString([]byte(last.FiredAt.Format(time.RFC3339Nano) + "|" + last.Key))
	}
	out := make([]readmodel.AlertFiring, 0, len(rows))
	for _, r := range rows {
		f := r.f
		f.Key, f.RuleID, f.AcknowledgedAt = alerts.OwnID(userID, f.Key), alerts.OwnID(userID, f.RuleID), r.ackedAt
		out = append(out, f)
	}
	return out, next, nil
}

// Acknowledge implements readmodel.AlertRules.Acknowledge.
func (a *Alerts) Acknowledge(_ context.Context, userID, key string) (time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.history[alerts.ScopedID(userID, key)]
	if !ok || f.userID != userID {
		return time.Time{}, alerts.ErrNotFound
	}
	if f.ackedAt.IsZero() {
		f.ackedAt = now()
	}
	return f.ackedAt, nil
}

// PriceRules implements readmodel.AlertRules.PriceRules.
func (a *Alerts) PriceRules(_ context.Context, symbols []string) ([]alerts.Rule, alerts.State, error) {
	st := alerts.State{Rules: map[string]alerts.RuleState{}}
	if len(symbols) == 0 {
		return nil, st, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.collect(st, func(r alerts.Rule) bool {
		p := r.Primary()
		return r.PortfolioID == "" && r.Active() && p.Kind.Metric() == alerts.MetricPrice && slices.Contains(symbols, p.Symbol)
	})
}

// collect returns the rules that keep accepts, by ID, and their state added to st.
func (a *Alerts) collect(st alerts.State, keep func(alerts.Rule) bool) ([]alerts.Rule, alerts.State, error) {
	var ids []string
	for id, r := range a.rules {
		if keep(r.rule) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []alerts.Rule
	for _, id := range ids {
		r, err := a.rules[id].decode()
		if err != nil {
			return nil, st, err
		}
		out = append(out, r.Rule)
		if r.State != (alerts.RuleState{}) {
			st.Rules[id] = r.State
		}
	}
	return out, st, nil
}

// PortfolioRules implements readmodel.AlertRules.PortfolioRules: a rule is
// served on a portfolio of its own user only (the directory's owner).
func (a *Alerts) PortfolioRules(_ context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error) {
	st := alerts.State{Rules: map[string]alerts.RuleState{}, Values: map[string][]alerts.ValueSample{}}
	if len(metrics) == 0 {
		metrics = []alerts.Metric{alerts.MetricValue, alerts.MetricWeight, alerts.MetricDrawdown, alerts.MetricVaR, alerts.MetricConcentration}
	}
	if len(portfolioIDs) == 0 {
		return nil, st, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rules, st, err := a.collect(st, func(r alerts.Rule) bool {
		m := r.Primary().Kind.Metric()
		return r.PortfolioID != "" && r.Active() && m != alerts.MetricPrice && slices.Contains(metrics, m) &&
			slices.Contains(portfolioIDs, r.PortfolioID) && a.dir.PortfolioOwner(r.PortfolioID) == r.UserID
	})
	if err != nil {
		return nil, st, err
	}
	for _, r := range rules {
		if r.HasKind(alerts.KindDrawdown) && a.wealth != nil {
			if m, ok := a.wealth.WealthMark(r.PortfolioID); ok {
				if st.Wealth == nil {
					st.Wealth = map[string]alerts.WealthMark{}
				}
				st.Wealth[r.PortfolioID] = m
			}
		}
		if !r.HasKind(alerts.KindValueDrop) {
			continue
		}
		if js, ok := a.samples[r.PortfolioID]; ok {
			var vs []alerts.ValueSample
			if err := json.Unmarshal(js, &vs); err != nil {
				return nil, st, fmt.Errorf("memstore: portfolio %s value samples: %w", r.PortfolioID, err)
			}
			st.Values[r.PortfolioID] = vs
		}
	}
	return rules, st, nil
}

// SaveState implements readmodel.AlertRules.SaveState: a rule's state is
// written only over an older one (its LastAt), and only while the rule has not
// been restarted since it was loaded.
func (a *Alerts) SaveState(_ context.Context, rules []alerts.Rule, s alerts.State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.saveState(rules, s)
}

// saveState is SaveState under the store's lock.
func (a *Alerts) saveState(rules []alerts.Rule, s alerts.State) error {
	var pfs []string
	var samples [][]alerts.ValueSample
	for _, r := range rules {
		var js []byte
		rs, ok := s.Rules[r.ID]
		if ok && rs != (alerts.RuleState{}) {
			b, err := json.Marshal(rs)
			if err != nil {
				return fmt.Errorf("memstore: alert state: %w", err)
			}
			js = b
		}
		if stored, ok := a.rules[r.ID]; ok && stored.rule.RestartedAt.Equal(r.RestartedAt) {
			var old alerts.RuleState
			if stored.state != nil {
				if err := json.Unmarshal(stored.state, &old); err != nil {
					return fmt.Errorf("memstore: alert state: %w", err)
				}
			}
			if !old.LastAt.After(rs.LastAt) {
				stored.state = js
			}
		}
		if r.HasKind(alerts.KindValueDrop) && !slices.Contains(pfs, r.PortfolioID) {
			pfs, samples = append(pfs, r.PortfolioID), append(samples, s.Values[r.PortfolioID])
		}
	}
	return a.saveSamples(pfs, samples)
}

// SaveStateAndMarks implements readmodel.AlertRules.SaveStateAndMarks.
func (a *Alerts) SaveStateAndMarks(_ context.Context, rules []alerts.Rule, s alerts.State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.saveState(rules, s); err != nil {
		return err
	}
	var moved []string
	for _, r := range rules {
		stored, ok := a.rules[r.ID]
		if !ok {
			continue
		}
		k := ruleKey(stored.rule)
		if !slices.Contains(moved, k) {
			moved = append(moved, k)
			a.moveMark(k)
		}
	}
	return nil
}

// SaveValueSamples implements readmodel.AlertRules.SaveValueSamples.
func (a *Alerts) SaveValueSamples(_ context.Context, portfolioIDs []string, samples [][]alerts.ValueSample) error {
	if len(portfolioIDs) != len(samples) {
		return fmt.Errorf("memstore: alert value samples: %d portfolios, %d histories", len(portfolioIDs), len(samples))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.saveSamples(portfolioIDs, samples)
}

func (a *Alerts) saveSamples(pfs []string, samples [][]alerts.ValueSample) error {
	for i, p := range pfs {
		if len(samples[i]) == 0 {
			delete(a.samples, p)
			continue
		}
		b, err := json.Marshal(samples[i])
		if err != nil {
			return fmt.Errorf("memstore: alert value samples: %w", err)
		}
		a.samples[p] = b
	}
	return nil
}

// StateMarks implements readmodel.AlertRules.StateMarks.
func (a *Alerts) StateMarks(_ context.Context, keys []string) (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = a.marks[k].token
	}
	return out, nil
}

// StateMarkChanges implements readmodel.AlertRules.StateMarkChanges. The cursor
// is the position after the last change read, so a change made later comes in
// the next read.
func (a *Alerts) StateMarkChanges(_ context.Context, since uint64, ownPrefix string) (map[string]string, uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]string{}
	if since > 0 {
		for k, m := range a.marks {
			if m.changed >= since && (ownPrefix == "" || !strings.HasPrefix(m.token, ownPrefix)) {
				out[k] = m.token
			}
		}
	}
	return out, a.clock + 1, nil
}

// ClaimStateMarks implements readmodel.AlertRules.ClaimStateMarks.
func (a *Alerts) ClaimStateMarks(_ context.Context, expected map[string]string, token string) ([]string, error) {
	if len(expected) == 0 {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var lost []string
	for k, old := range expected {
		if cur, ok := a.marks[k]; (old == "" && ok) || (old != "" && (!ok || cur.token != old)) {
			lost = append(lost, k)
			continue
		}
		a.clock++
		a.marks[k] = mark{token: token, changed: a.clock}
	}
	return lost, nil
}

// RecordFirings implements readmodel.AlertRules.RecordFirings.
func (a *Alerts) RecordFirings(_ context.Context, firings []alerts.Firing) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range firings {
		if !uuid.Valid(f.UserID) {
			continue
		}
		if _, ok := a.history[f.Key]; ok {
			continue
		}
		a.history[f.Key] = &firing{userID: f.UserID, f: readmodel.AlertFiring{
			Key: f.Key, RuleID: f.RuleID, Kind: f.Kind, Symbol: f.Symbol, PortfolioID: f.PortfolioID,
			Observed: numeric(f.Observed), Threshold: numeric(f.Threshold), FiredAt: stamp(f.At),
		}}
	}
	return nil
}

// numeric is d as a numeric column gives it back.
func numeric(d decimal.Decimal) decimal.Decimal { return decimal.RequireFromString(d.String()) }

// Symbols implements readmodel.AlertRules.Symbols: active rules' symbols.
func (a *Alerts) Symbols(_ context.Context) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := []string{}
	for _, r := range a.rules {
		if !r.rule.Active() {
			continue
		}
		for _, sym := range r.rule.Symbols() {
			if !slices.Contains(out, sym) {
				out = append(out, sym)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
