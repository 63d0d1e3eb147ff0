// Package retry paces a stream consumer's retries of transient failures inside
// one invocation (docs/architecture.md, "Self-healing consumers"): an event source
// mapping retries a failed batch at once, so an outage of seconds would otherwise
// spend its retries in a moment. Waiting here, with capped exponential backoff and
// jitter, keeps a short outage inside an invocation or two.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds the retries of one invocation. Zero values take the defaults.
type Policy struct {
	// First is the first pause (default 200 ms); each next one doubles, up to Max
	// (default 5 s), with up to half of it random so that consumers on several
	// shards do not retry in step.
	First, Max time.Duration
	// For is the most time spent retrying (default 2 min): the shard waits for
	// this invocation meanwhile.
	For time.Duration
	// Reserve is the time kept before the context's deadline, to report and
	// return (default 2 s).
	Reserve time.Duration
	// Times, when positive, bounds the number of retries as well (a fixed
	// count whatever the time the attempts take: what a test needs to be
	// independent of the machine's load).
	Times int
}

// Attempts is one operation's run of attempts under a Policy.
type Attempts struct {
	ctx   context.Context
	next  time.Duration
	max   time.Duration
	until time.Time
	times int // 0: no bound but the time
	n     int
}

// Start begins a run of attempts at now.
func (p Policy) Start(ctx context.Context) *Attempts {
	if p.First <= 0 {
		p.First = 200 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 5 * time.Second
	}
	if p.For <= 0 {
		p.For = 2 * time.Minute
	}
	if p.Reserve <= 0 {
		p.Reserve = 2 * time.Second
	}
	until := time.Now().Add(p.For)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-p.Reserve).Before(until) {
		until = dl.Add(-p.Reserve)
	}
	return &Attempts{ctx: ctx, next: p.First, max: max(p.Max, p.First), until: until, times: max(p.Times, 0)}
}

// Wait pauses before the next attempt and reports whether to make it: false once
// the pause would end past the budget, Policy.Times retries were made, or the
// context ends.
func (a *Attempts) Wait() bool {
	if a.times > 0 && a.n >= a.times {
		return false
	}
	d := a.next/2 + rand.N(a.next/2+1)
	a.next = min(a.next*2, a.max)
	if time.Now().Add(d).After(a.until) || a.ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.ctx.Done():
		return false
	case <-t.C:
		a.n++
		return true
	}
}

// Retries is the number of retries Wait allowed.
func (a *Attempts) Retries() int { return a.n }

// Sleep pauses for d, or until ctx ends (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
