// Package streamingtest holds what the stream's tests share: a clock the test
// ticks by hand (streaming.Clock), so that no test waits on real intervals.
package streamingtest

import (
	"sync"
	"testing"
	"time"
)

// Clock is a streaming.Clock that shows the time the test sets and delivers
// the ticks the test hands it. Its ticker is unbuffered, so Tick returns once
// the loop has taken the tick, and the loop handles ticks one after another.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	ticks chan time.Time
}

// NewClock returns a Clock showing now.
func NewClock(now time.Time) *Clock { return &Clock{now: now, ticks: make(chan time.Time)} }

// Now implements streaming.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to at without a tick.
func (c *Clock) Set(at time.Time) {
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
}

// Ticker implements streaming.Clock: every ticker gets the test's ticks.
func (c *Clock) Ticker(time.Duration) (<-chan time.Time, func()) { return c.ticks, func() {} }

// Tick moves the clock to at and hands the loop that tick, failing the test
// when no loop takes it.
func (c *Clock) Tick(t testing.TB, at time.Time) {
	t.Helper()
	c.Set(at)
	select {
	case c.ticks <- at:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop took no tick")
	}
}
