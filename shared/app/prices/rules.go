package prices

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// ruleCache keeps alert rules, compiled, and their state in one engine between
// batches, per alert key (pricing.SymbolKey or PortfolioKey). Loading and
// compiling 80,000 rules and their state costs seconds; with the cache a batch
// reads the marks that moved since the previous batch (pricing.StateMarker's
// feed, syncAlertMarks), drops the keys they cover, and loads only the keys it
// lacks. It is used only with a store that implements StateMarker.
type ruleCache struct {
	mu     sync.Mutex
	eng    *alerts.Engine
	rules  map[string][]string // key → the IDs of its rules in eng
	marks  map[string]string   // key → the mark eng's copy of the key reflects
	tokens *claimTokens
	// derived are the keys with a rule whose ticks the set derives from the
	// rules (ruleSet.derived), and wealth the wealth marks loaded with the
	// portfolio keys, by portfolio ID.
	derived map[string]bool
	wealth  map[string]alerts.WealthMark
}

func newRuleCache(tokens *claimTokens) *ruleCache {
	eng, _ := alerts.NewEngine()
	return &ruleCache{eng: eng, rules: map[string][]string{}, marks: map[string]string{}, tokens: tokens,
		derived: map[string]bool{}, wealth: map[string]alerts.WealthMark{}}
}

// claimTokens are the marks a Consumer claims keys with: a random prefix of its
// own, so that its feed reads can leave its own claims out, then a counter.
type claimTokens struct {
	prefix string
	seq    atomic.Uint64
}

func newClaimTokens() *claimTokens {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &claimTokens{prefix: hex.EncodeToString(b) + "-"}
}

func (t *claimTokens) next() string {
	return t.prefix + strconv.FormatUint(t.seq.Add(1), 10)
}

// count adds to st the keys whose rules rc holds (hits) and those it must load.
func (rc *ruleCache) count(st *Stats, keys []string) {
	hits := 0
	for _, k := range keys {
		if _, ok := rc.marks[k]; ok {
			hits++
		}
	}
	st.RuleCacheHits += hits
	st.RuleCacheMisses += len(keys) - hits
}

func (rc *ruleCache) invalidate(keys ...string) {
	for _, k := range keys {
		for _, id := range rc.rules[k] {
			rc.eng.Remove(id)
		}
		delete(rc.rules, k)
		delete(rc.marks, k)
		delete(rc.derived, k)
		delete(rc.wealth, k[2:])
	}
}

// ruleSet is one kind of alert evaluation: its keys, how to load the rules and
// state of some of them, and which key a rule or firing belongs to.
type ruleSet struct {
	name  string // for logs: "price" or "value"
	keys  []string
	load  func(ctx context.Context, keys []string) ([]alerts.Rule, alerts.State, error)
	keyOf func(r alerts.Rule) string
	// derived, when set, picks the rules whose ticks are computed from the
	// rules themselves (the risk rules a tick evaluates: which weights, whether
	// a drawdown), and derive computes those ticks from the picked rules of the
	// batch's keys and the wealth marks loaded with them. Keys without such
	// rules cost one map look-up.
	derived func(r alerts.Rule) bool
	derive  func(ctx context.Context, rules []alerts.Rule, wealth map[string]alerts.WealthMark) ([]alerts.Tick, error)
}

// runAlerts evaluates ticks on the rules of set.keys, records the firings and
// saves the state. It returns the keys that must be retried (nothing could be
// recorded or saved: they keep their saved state, so the retry fires under the
// same keys) with the reason, and the firings recorded, for the caller to
// deliver once the batch's durable work is done; delivering them is never a
// reason to retry.
func (c *Consumer) runAlerts(ctx context.Context, st *Stats, rc *ruleCache, set ruleSet, ticks []alerts.Tick) (bad []string, firings []alerts.Firing, err error) {
	log := c.cfg.Logger
	marker, _ := c.cfg.Alerts.(pricing.StateMarker)
	if marker == nil {
		rc = nil
	}
	var eng *alerts.Engine
	var loaded []alerts.Rule
	var loadedWealth map[string]alerts.WealthMark
	if rc != nil {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.count(st, set.keys)
		if err := c.prepare(ctx, rc, marker, set); err != nil {
			log.ErrorContext(ctx, "prices: "+set.name+" alert rules", "error", err.Error())
			return set.keys, nil, err
		}
		eng = rc.eng
		eng.TakeChanged() // nothing pending from an aborted batch
	} else {
		st.RuleCacheMisses += len(set.keys) // no cache without a StateMarker
		rules, state, err := set.load(ctx, set.keys)
		if err == nil && len(rules) == 0 {
			return nil, nil, nil
		}
		if err == nil {
			if eng, err = alerts.NewEngine(rules...); err == nil {
				warnStateReset(ctx, log, set.name, eng.Restore(state))
			}
		}
		if err != nil {
			log.ErrorContext(ctx, "prices: "+set.name+" alert rules", "error", err.Error())
			return set.keys, nil, err
		}
		loaded, loadedWealth = rules, state.Wealth
	}
	if set.derive != nil {
		more, err := c.derivedTicks(ctx, rc, eng, set, loaded, loadedWealth)
		if err != nil {
			log.ErrorContext(ctx, "prices: "+set.name+" derived alert ticks", "error", err.Error())
			return set.keys, nil, err
		}
		ticks = append(ticks, more...)
	}
	st.AlertTicks += len(ticks)
	fs := eng.Evaluate(ticks)
	fail := func(msg string, err error) ([]string, []alerts.Firing, error) {
		log.ErrorContext(ctx, "prices: "+set.name+" "+msg, "error", err.Error())
		if rc != nil {
			rc.invalidate(set.keys...) // memory ran ahead of what is saved
		}
		return set.keys, nil, err // the retry fires them again, under the same keys
	}
	// Recorded before anything is pushed: alert_history keeps every firing,
	// whether or not its push reaches a browser.
	if rec, ok := c.cfg.Alerts.(pricing.FiringRecorder); ok && len(fs) > 0 {
		if _, err := write(st, func() (struct{}, error) { return struct{}{}, rec.RecordFirings(ctx, fs) }); err != nil {
			return fail("alert firings not recorded", err)
		}
	}

	var save []alerts.Rule
	var state alerts.State
	if rc == nil {
		save = loaded
		state = eng.State()
	} else {
		var ids []string
		seen := make(map[string]bool, len(set.keys))
		for _, id := range eng.TakeChanged() {
			if r, ok := eng.Rule(id); ok && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
				save = append(save, r)
			}
		}
		state = eng.StateOf(ids...)
	}
	if len(save) > 0 {
		if _, err := write(st, func() (struct{}, error) { return struct{}{}, c.cfg.Alerts.SaveState(ctx, save, state) }); err != nil {
			return fail("alert state not saved", err)
		}
	}
	if rc != nil {
		if err := c.claim(ctx, st, rc, marker, set, save); err != nil {
			log.WarnContext(ctx, "prices: "+set.name+" alert marks not claimed", "error", err.Error())
		}
	}
	return nil, fs, nil
}

// derivedTicks are the ticks set.derive computes for the rules set.derived
// picks among the rules of set.keys: from rc's engine, or from the rules loaded
// for this batch (loaded, with their wealth marks) without a cache.
func (c *Consumer) derivedTicks(ctx context.Context, rc *ruleCache, eng *alerts.Engine, set ruleSet, loaded []alerts.Rule, wealth map[string]alerts.WealthMark) ([]alerts.Tick, error) {
	var picked []alerts.Rule
	if rc != nil {
		for _, k := range set.keys {
			if !rc.derived[k] {
				continue
			}
			for _, id := range rc.rules[k] {
				if r, ok := eng.Rule(id); ok && set.derived(r) {
					picked = append(picked, r)
				}
			}
		}
		wealth = rc.wealth
	} else {
		for _, r := range loaded {
			if set.derived(r) {
				picked = append(picked, r)
			}
		}
	}
	if len(picked) == 0 {
		return nil, nil
	}
	return set.derive(ctx, picked, wealth)
}

// syncAlertMarks drops from both rule caches the keys whose marks others moved
// since the previous call (pricing.StateMarker's feed), once per batch, before
// either cache is prepared.
func (c *Consumer) syncAlertMarks(ctx context.Context, marker pricing.StateMarker) error {
	c.feedMu.Lock()
	defer c.feedMu.Unlock()
	changed, next, err := marker.StateMarkChanges(ctx, c.alertCursor, c.tokens.prefix)
	if err != nil {
		return err
	}
	for _, rc := range []*ruleCache{c.priceRules, c.valueRules} {
		rc.mu.Lock()
		for k, m := range changed {
			if held, ok := rc.marks[k]; ok && held != m {
				rc.invalidate(k)
			}
		}
		rc.mu.Unlock()
	}
	c.alertCursor = next
	return nil
}

// prepare makes rc hold the current rules and state of set.keys, loading the
// keys it lacks (syncAlertMarks has dropped those that moved).
func (c *Consumer) prepare(ctx context.Context, rc *ruleCache, marker pricing.StateMarker, set ruleSet) error {
	var stale []string
	for _, k := range set.keys {
		if _, ok := rc.marks[k]; !ok {
			stale = append(stale, k)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	// Marks before rules and state: a change after this read moves the mark
	// again, after the feed's cursor, so the next batch drops the key.
	marks, err := marker.StateMarks(ctx, stale)
	if err != nil {
		return err
	}
	rules, state, err := set.load(ctx, stale)
	if err != nil {
		return err
	}
	for _, r := range rules {
		k := set.keyOf(r)
		if err := rc.eng.Add(r); err != nil {
			// A stored rule the engine refuses (or a duplicate ID) must not stop
			// the others.
			c.cfg.Logger.WarnContext(ctx, "prices: alert rule skipped", "ruleId", r.ID, "error", err.Error())
			continue
		}
		rc.rules[k] = append(rc.rules[k], r.ID)
		if set.derived != nil && set.derived(r) {
			rc.derived[k] = true
		}
	}
	for pid, m := range state.Wealth {
		rc.wealth[pid] = m
	}
	warnStateReset(ctx, c.cfg.Logger, set.name, rc.eng.Merge(state))
	for _, k := range stale {
		rc.marks[k] = marks[k]
	}
	return nil
}

// claim moves the marks of the keys whose state was just saved to a token of
// rc's, so other containers reload them; a key whose mark moved meanwhile (a rule
// changed) is dropped from rc and reloaded next time.
func (c *Consumer) claim(ctx context.Context, st *Stats, rc *ruleCache, marker pricing.StateMarker, set ruleSet, saved []alerts.Rule) error {
	expected := make(map[string]string, len(saved))
	for _, r := range saved {
		k := set.keyOf(r)
		if m, ok := rc.marks[k]; ok {
			expected[k] = m
		}
	}
	if len(expected) == 0 {
		return nil
	}
	tok := rc.tokens.next()
	lost, err := write(st, func() ([]string, error) { return marker.ClaimStateMarks(ctx, expected, tok) })
	if err != nil {
		// Unknown outcome: reload these keys next time.
		for k := range expected {
			rc.invalidate(k)
		}
		return err
	}
	for k := range expected {
		rc.marks[k] = tok
	}
	rc.invalidate(lost...)
	if len(lost) > 0 {
		c.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "prices: alert keys changed meanwhile", slog.Int("count", len(lost)))
	}
	return nil
}

// warnStateReset logs what Restore or Merge reset (err: their
// alerts.ErrInvalidState report): a rule whose saved state is invalid
// restarts, and the others are evaluated all the same.
func warnStateReset(ctx context.Context, log *slog.Logger, set string, err error) {
	if err != nil {
		log.WarnContext(ctx, "prices: "+set+" alert state reset", "error", err.Error())
	}
}
