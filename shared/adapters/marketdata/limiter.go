package marketdata

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Limiter decides whether one more call to a provider may be made now. It is
// consulted before every HTTP attempt (retries included), because every attempt
// counts against the provider's quota. ok=false comes with how long until a call
// may be allowed again. err is reserved for a limiter that cannot answer (its store
// is down); the clients then fail closed rather than risk the provider's ban.
type Limiter interface {
	Allow(ctx context.Context, provider string, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// Limit is at most Max calls per fixed Window. Windows are aligned to the Unix epoch:
// a minute window is a wall-clock minute, a day window a UTC day.
type Limit struct {
	Max    int
	Window time.Duration
}

// DefaultLimits are the providers' free tiers: Finnhub 60 calls a minute, Alpha
// Vantage 25 requests a day, Polygon/Massive 5 calls a minute.
func DefaultLimits() map[string][]Limit {
	return map[string][]Limit{
		SourceFinnhub:      {{Max: 60, Window: time.Minute}},
		SourceAlphaVantage: {{Max: 25, Window: 24 * time.Hour}},
		SourcePolygon:      {{Max: 5, Window: time.Minute}},
	}
}

// RateLimitKey is the counter key for provider's window containing now:
//
//	rate_limit:<provider>:<unix-minute>          one-minute windows (now.Unix()/60)
//	rate_limit:<provider>:day:<unix-day>         one-day windows (now.Unix()/86400, UTC days)
//	rate_limit:<provider>:<seconds>s:<index>     any other window
//
// It also returns the window's end, which is when the counter stops mattering.
func RateLimitKey(provider string, window time.Duration, now time.Time) (key string, windowEnd time.Time) {
	secs := int64(window / time.Second)
	if secs <= 0 {
		secs = 1
	}
	idx := floorDiv(now.Unix(), secs)
	end := time.Unix((idx+1)*secs, 0).UTC()
	switch secs {
	case 60:
		return "rate_limit:" + provider + ":" + strconv.FormatInt(idx, 10), end
	case 86400:
		return "rate_limit:" + provider + ":day:" + strconv.FormatInt(idx, 10), end
	}
	return "rate_limit:" + provider + ":" + strconv.FormatInt(secs, 10) + "s:" + strconv.FormatInt(idx, 10), end
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Counter is the storage port behind WindowLimiter: one atomic, conditional
// increment per call.
//
// Increment adds one to the counter stored under key if, and only if, its current
// value is below limit (an absent counter counts as zero and is created), and reports
// whether it did. The counter must carry expiresAt so the store can forget it; a
// counter past expiresAt that the store has not deleted yet is harmless, because a
// key names one window and is never reused.
//
// The DynamoDB adapter (table topology.RateLimitsTable, partition key "key", TTL
// attribute "expiresAt") is a single UpdateItem:
//
//	Key:                 {"key": S(key)}
//	UpdateExpression:    ADD #count :one SET #exp = if_not_exists(#exp, :exp)
//	ConditionExpression: attribute_not_exists(#count) OR #count < :limit
//	names: #count=count, #exp=expiresAt; values: :one=N(1), :limit=N(limit), :exp=N(expiresAt.Unix())
//
// and maps ConditionalCheckFailedException to (false, nil), any other error to
// (false, err).
type Counter interface {
	Increment(ctx context.Context, key string, limit int, expiresAt time.Time) (bool, error)
}

// WindowLimiter implements Limiter with fixed windows counted in a Counter. A
// provider with several limits (say 5 a minute and 25 a day) must pass all of them; a
// call refused by a longer window's limit has already used a slot of the shorter
// ones (they are checked first), which errs on the side of calling less. A provider with no limits is always allowed.
type WindowLimiter struct {
	counter Counter
	limits  map[string][]Limit
}

// NewWindowLimiter counts in c against limits (nil means DefaultLimits).
func NewWindowLimiter(c Counter, limits map[string][]Limit) *WindowLimiter {
	if limits == nil {
		limits = DefaultLimits()
	}
	cp := make(map[string][]Limit, len(limits))
	for p, ls := range limits {
		ls = append([]Limit(nil), ls...)
		// Shortest window first: a call refused by the minute limit then spends no
		// slot of the (scarcer) daily one; a daily refusal wastes only a minute slot.
		sort.SliceStable(ls, func(i, j int) bool { return ls[i].Window < ls[j].Window })
		cp[p] = ls
	}
	return &WindowLimiter{counter: c, limits: cp}
}

// NewMemoryLimiter is a WindowLimiter over a fresh MemoryCounter: limits hold within
// one process only (tests, the local stack, the CLI).
func NewMemoryLimiter(limits map[string][]Limit) *WindowLimiter {
	return NewWindowLimiter(NewMemoryCounter(), limits)
}

// Allow implements Limiter.
func (l *WindowLimiter) Allow(ctx context.Context, provider string, now time.Time) (bool, time.Duration, error) {
	for _, lim := range l.limits[provider] {
		if lim.Max <= 0 {
			_, end := RateLimitKey(provider, lim.Window, now)
			return false, end.Sub(now), nil
		}
		key, end := RateLimitKey(provider, lim.Window, now)
		ok, err := l.counter.Increment(ctx, key, lim.Max, end)
		if err != nil {
			return false, 0, fmt.Errorf("rate limiter %s: %w", key, err)
		}
		if !ok {
			return false, end.Sub(now), nil
		}
	}
	return true, 0, nil
}

// MemoryCounter is the in-process Counter. Expired counters are swept as new ones
// are created, so memory stays bounded by the live windows.
type MemoryCounter struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*memoryEntry
	creates int
}

type memoryEntry struct {
	count     int
	expiresAt time.Time
}

// NewMemoryCounter returns an empty counter.
func NewMemoryCounter() *MemoryCounter {
	return &MemoryCounter{now: time.Now, entries: map[string]*memoryEntry{}}
}

// Increment implements Counter.
func (m *MemoryCounter) Increment(_ context.Context, key string, limit int, expiresAt time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		m.creates++
		if m.creates%64 == 0 {
			m.sweep()
		}
		e = &memoryEntry{expiresAt: expiresAt}
		m.entries[key] = e
	}
	if e.count >= limit {
		return false, nil
	}
	e.count++
	return true, nil
}

// Count returns the current value under key (for tests and diagnostics).
func (m *MemoryCounter) Count(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok {
		return e.count
	}
	return 0
}

func (m *MemoryCounter) sweep() {
	now := m.now()
	for k, e := range m.entries {
		if now.After(e.expiresAt) {
			delete(m.entries, k)
		}
	}
}

// SearchLimits are the symbol search's share of each provider's limit: the
// search is served by the API to any signed-in user, so a burst of searches
// (or a hostile user's distinct queries) may spend these calls and no more,
// leaving the rest of the quota to the quote poll and the history backfill.
func SearchLimits() map[string][]Limit {
	return map[string][]Limit{
		SourceFinnhub:      {{Max: 10, Window: time.Minute}},
		SourceAlphaVantage: {{Max: 5, Window: 24 * time.Hour}},
		SourcePolygon:      {{Max: 1, Window: time.Minute}},
	}
}

// Share is a Limiter for one use of the providers (Use, such as "search"): a
// call must pass the use's own limits (counted under "<use>-<provider>") and
// then the provider's shared ones, so that the use never takes more than its
// share of a quota others rely on.
type Share struct {
	Use    string
	Own    Limiter // counts the use's calls
	Shared Limiter // counts every call to the provider
}

// Allow implements Limiter.
func (s Share) Allow(ctx context.Context, provider string, now time.Time) (bool, time.Duration, error) {
	if ok, wait, err := s.Own.Allow(ctx, s.Use+"-"+provider, now); !ok || err != nil {
		return ok, wait, err
	}
	return s.Shared.Allow(ctx, provider, now)
}

// WithUse renames limits' providers to "<use>-<provider>", the keys Share
// counts a use's calls under.
func WithUse(use string, limits map[string][]Limit) map[string][]Limit {
	out := make(map[string][]Limit, len(limits))
	for p, ls := range limits {
		out[use+"-"+p] = ls
	}
	return out
}
