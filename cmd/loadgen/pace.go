package main

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// pacer spreads n actions evenly over [start, start+span): action j is due at
// start + offset + j·span/n. Actors that share a span get offsets spread over
// one interval (staggered), so that n actors × m actions arrive as one even
// stream rather than n bursts.
type pacer struct {
	start  time.Time
	span   time.Duration
	n      int
	offset time.Duration
}

// newPacer paces n actions over span for actor i of actors.
func newPacer(start time.Time, span time.Duration, n, actor, actors int) pacer {
	p := pacer{start: start, span: span, n: n}
	if n > 0 && actors > 0 {
		p.offset = p.interval() * time.Duration(actor) / time.Duration(actors)
	}
	return p
}

func (p pacer) interval() time.Duration {
	if p.n <= 0 {
		return p.span
	}
	return p.span / time.Duration(p.n)
}

// due is when action j is due.
func (p pacer) due(j int) time.Time {
	return p.start.Add(p.offset + time.Duration(j)*p.interval())
}

// wait sleeps until action j is due; false if ctx ends first. An action that
// is already late starts at once: the schedule is fixed, so a slow answer
// delays the next action but does not shift the ones after it.
func (p pacer) wait(ctx context.Context, j int) bool {
	return retry.Sleep(ctx, time.Until(p.due(j))) == nil
}

// ticksDue is how many of total ticks at rate per second are due at elapsed
// since the start: tick j is due at j/rate seconds.
func ticksDue(elapsed time.Duration, rate, total int) int {
	if elapsed < 0 || rate <= 0 {
		return 0
	}
	n := int(int64(elapsed)*int64(rate)/int64(time.Second)) + 1
	return min(n, total)
}
