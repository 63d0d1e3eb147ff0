package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

const (
	// Init failures back off from initBackoffMin, doubling up to initBackoffMax,
	// so a function that cannot start does not fork in a loop.
	initBackoffMin = 100 * time.Millisecond
	initBackoffMax = 5 * time.Second
)

// function is a registered function and its pool of instances.
type function struct {
	rt     *Runtime
	cfg    Function
	arn    string
	region string
	env    []string

	mu sync.Mutex
	// slots counts instances alive or being started; at most cfg.MaxConcurrency.
	slots int
	live  map[*instance]struct{}
	// idle holds instances blocked in /next with nothing to do; the most
	// recently used is at the end and goes first, as Lambda keeps hot
	// instances hot.
	idle []*instance
	// waiters queue invocations that found no idle instance and either every
	// slot taken or an instance about to free up, oldest first. Each gets
	// either an instance or, as nil, a slot to start one in.
	waiters []chan *instance
	// finishing counts instances that posted their result and have not yet
	// asked for the next event. Such an instance is microseconds from idle, so
	// waiting for it beats a cold start: sequential calls reuse one instance.
	finishing int
	seq       int

	initFailures int
	retryAt      time.Time
	lastInitErr  *invoke.FunctionError

	stats struct {
		invocations, errors, timeouts, coldStarts, initErrors, throttles atomic.Int64
	}
}

func newFunction(rt *Runtime, cfg Function) *function {
	env, region := baseEnv(cfg)
	return &function{
		rt:     rt,
		cfg:    cfg,
		env:    env,
		region: region,
		arn:    fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, localAccount, cfg.Name),
		live:   map[*instance]struct{}{},
	}
}

// acquire returns an instance ready for one invocation: an idle one, a new one
// (cold start) if the concurrency allows, or the first one freed.
func (f *function) acquire(ctx context.Context) (*instance, error) {
	f.mu.Lock()
	if n := len(f.idle); n > 0 {
		inst := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.mu.Unlock()
		return inst, nil
	}
	soon := len(f.waiters) < f.finishing
	if f.slots < f.cfg.MaxConcurrency && !soon {
		f.slots++
		f.mu.Unlock()
		return f.start(ctx)
	}
	if f.cfg.ThrottleWhenBusy && !soon {
		f.mu.Unlock()
		f.stats.throttles.Add(1)
		return nil, fmt.Errorf("invoke %s: %w (%d instances busy)", f.cfg.Name, invoke.ErrThrottled, f.cfg.MaxConcurrency)
	}
	w := make(chan *instance, 1)
	f.waiters = append(f.waiters, w)
	f.mu.Unlock()

	select {
	case inst := <-w:
		if inst == nil {
			return f.start(ctx)
		}
		return inst, nil
	case <-ctx.Done():
		f.abandonWait(w)
		return nil, fmt.Errorf("invoke %s: waiting for a free instance: %w", f.cfg.Name, ctx.Err())
	case <-f.rt.done:
		f.abandonWait(w)
		return nil, fmt.Errorf("invoke %s: %w", f.cfg.Name, ErrClosed)
	}
}

// abandonWait takes w out of the queue, or passes on what it was granted if the
// grant raced with the caller giving up.
func (f *function) abandonWait(w chan *instance) {
	f.mu.Lock()
	i := slices.Index(f.waiters, w)
	if i >= 0 {
		f.waiters = slices.Delete(f.waiters, i, i+1)
	}
	f.mu.Unlock()
	if i >= 0 {
		return
	}
	if inst := <-w; inst != nil {
		f.release(inst)
	} else {
		f.releaseSlot()
	}
}

// reserveSlot takes a slot for a new instance if the concurrency allows.
func (f *function) reserveSlot() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.slots >= f.cfg.MaxConcurrency {
		return false
	}
	f.slots++
	return true
}

// markFinishing records that inst posted its result and will soon be free.
func (f *function) markFinishing(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !inst.finishing && !inst.dead.Load() {
		inst.finishing = true
		f.finishing++
	}
}

func (f *function) unmarkFinishing(inst *instance) {
	if inst.finishing {
		inst.finishing = false
		f.finishing--
	}
}

// release makes a ready instance available: to the oldest waiter, else idle.
func (f *function) release(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unmarkFinishing(inst)
	// Checked under f.mu: an instance that dies after this is taken out of
	// idle by exited, which also takes f.mu.
	if inst.dead.Load() {
		return
	}
	if len(f.waiters) > 0 {
		w := f.waiters[0]
		f.waiters = f.waiters[1:]
		w <- inst
		return
	}
	f.idle = append(f.idle, inst)
}

// releaseSlot frees a slot (an instance exited or failed to start), handing it
// to the oldest waiter if there is one.
func (f *function) releaseSlot() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) > 0 {
		w := f.waiters[0]
		f.waiters = f.waiters[1:]
		w <- nil
		return
	}
	f.slots--
}

// exited forgets an instance whose process is gone and frees its slot.
func (f *function) exited(inst *instance) {
	f.mu.Lock()
	f.unmarkFinishing(inst)
	delete(f.live, inst)
	if i := slices.Index(f.idle, inst); i >= 0 {
		f.idle = slices.Delete(f.idle, i, i+1)
	}
	f.mu.Unlock()
	f.releaseSlot()
}

// start launches an instance in a slot the caller holds and waits for its init.
// On failure the slot is given back (directly, or when the process exits).
func (f *function) start(ctx context.Context) (*instance, error) {
	if err := f.waitBackoff(ctx); err != nil {
		f.releaseSlot()
		return nil, err
	}
	inst, err := f.spawn()
	if err != nil {
		f.releaseSlot()
		return nil, err
	}
	f.stats.coldStarts.Add(1)
	timer := time.NewTimer(f.cfg.InitTimeout)
	defer timer.Stop()
	select {
	case <-inst.initDone:
		if fe, killed := inst.initError(); fe != nil {
			inst.kill()
			if killed {
				// Killed from outside during init (Kill, an operator): not a
				// crash loop, so no back-off.
				f.stats.initErrors.Add(1)
				return nil, fe
			}
			return nil, f.initFailed(fe)
		}
		f.mu.Lock()
		f.initFailures = 0
		f.mu.Unlock()
		return inst, nil
	case <-timer.C:
		inst.kill()
		return nil, f.initFailed(&invoke.FunctionError{
			Function:  f.cfg.Name,
			Type:      "Runtime.InitError",
			Message:   fmt.Sprintf("init phase did not finish within %s", f.cfg.InitTimeout),
			Unhandled: true,
		})
	case <-ctx.Done():
		// Let the instance finish its init and join the pool: the work is not lost.
		inst.abandon()
		return nil, fmt.Errorf("invoke %s: waiting for init: %w", f.cfg.Name, ctx.Err())
	case <-f.rt.done:
		return nil, fmt.Errorf("invoke %s: %w", f.cfg.Name, ErrClosed)
	}
}

func (f *function) initFailed(fe *invoke.FunctionError) error {
	f.stats.initErrors.Add(1)
	f.mu.Lock()
	f.initFailures++
	backoff := initBackoffMax
	if f.initFailures < 10 {
		backoff = min(initBackoffMin<<(f.initFailures-1), initBackoffMax)
	}
	f.retryAt = time.Now().Add(backoff)
	f.lastInitErr = fe
	failures := f.initFailures
	f.mu.Unlock()
	f.rt.logger.Warn("lambda init failed", "function", f.cfg.Name, "errorType", fe.Type,
		"errorMessage", fe.Message, "failures", failures, "retryIn", backoff)
	return fe
}

// waitBackoff delays a start after recent init failures. If the caller cannot
// wait that long it gets the last init error at once, which is what a new
// attempt would most likely produce.
func (f *function) waitBackoff(ctx context.Context) error {
	f.mu.Lock()
	failures, retryAt, last := f.initFailures, f.retryAt, f.lastInitErr
	f.mu.Unlock()
	if failures == 0 {
		return nil
	}
	wait := time.Until(retryAt)
	if wait <= 0 {
		return nil
	}
	cached := func() error {
		fe := *last
		f.stats.initErrors.Add(1)
		return &fe
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(retryAt) {
		return cached()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("invoke %s: backing off after init failures: %w", f.cfg.Name, ctx.Err())
	case <-f.rt.done:
		return fmt.Errorf("invoke %s: %w", f.cfg.Name, ErrClosed)
	}
}

func (f *function) liveInstances() []*instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*instance, 0, len(f.live))
	for inst := range f.live {
		out = append(out, inst)
	}
	return out
}

func (f *function) snapshot() Stats {
	f.mu.Lock()
	live, idle := len(f.live), len(f.idle)
	f.mu.Unlock()
	return Stats{
		Instances:   live,
		Idle:        idle,
		Invocations: f.stats.invocations.Load(),
		Errors:      f.stats.errors.Load(),
		Timeouts:    f.stats.timeouts.Load(),
		ColdStarts:  f.stats.coldStarts.Load(),
		InitErrors:  f.stats.initErrors.Load(),
		Throttles:   f.stats.throttles.Load(),
	}
}
