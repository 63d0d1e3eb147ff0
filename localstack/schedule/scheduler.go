package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Schedule is one EventBridge Scheduler schedule with a Lambda Invoke target.
type Schedule struct {
	Name       string
	Expression string // rate(...), cron(...) or at(...)
	TimeZone   string // IANA; "" = UTC
	Function   string
	// Input is the event the function receives, verbatim except for Scheduler's
	// context attributes (<aws.scheduler.scheduled-time> and the like), which
	// are replaced as on AWS; empty sends {}.
	Input []byte
}

// Fire is a schedule's next invocation, for the console.
type Fire struct {
	Name     string
	Function string
	At       time.Time
}

// Clock is the scheduler's time source: the real one by default, a fake one in
// tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Errors of FireNow.
var (
	ErrUnknownSchedule = errors.New("schedule: no such schedule")
	ErrStillRunning    = errors.New("schedule: the previous run is still going")
)

// Scheduler fires schedules. A run that is still going when its schedule fires
// again makes that fire be skipped (and logged): a slow function never has runs
// piling up, which is also why ingest's timeout is under its one-minute rate.
type Scheduler struct {
	inv     invoke.Invoker
	log     *slog.Logger
	clock   Clock
	entries []*entry

	mu sync.Mutex // guards entry.next and entry.running
}

type entry struct {
	s       Schedule
	e       *expr
	next    time.Time // zero: not planned (before Run, or never again)
	planned bool
	running bool
}

// New validates every schedule (expression, time zone, a unique name, a
// function, JSON input) and returns the scheduler.
func New(inv invoke.Invoker, schedules []Schedule, log *slog.Logger) (*Scheduler, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Scheduler{inv: inv, log: log, clock: realClock{}}
	seen := map[string]bool{}
	var errs []error
	for _, sc := range schedules {
		switch {
		case sc.Name == "":
			errs = append(errs, fmt.Errorf("schedule for %q: no name", sc.Function))
			continue
		case seen[sc.Name]:
			errs = append(errs, fmt.Errorf("schedule %q: the name is used twice", sc.Name))
			continue
		case sc.Function == "":
			errs = append(errs, fmt.Errorf("schedule %q: no function", sc.Name))
			continue
		}
		seen[sc.Name] = true
		e, err := parse(sc.Expression, sc.TimeZone)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: %w", sc.Name, err))
			continue
		}
		if len(sc.Input) > 0 && !json.Valid(render(sc.Input, sc.Name, time.Unix(0, 0))) {
			errs = append(errs, fmt.Errorf("schedule %q: the input is not JSON", sc.Name))
			continue
		}
		s.entries = append(s.entries, &entry{s: sc, e: e})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// FromTopology lists the schedules the topology declares, named after their
// function (with the trigger's index when a function has several).
func FromTopology(functions []topology.Function) []Schedule {
	var out []Schedule
	for _, f := range functions {
		n := 0
		for _, t := range f.Triggers {
			if t.Kind != topology.Schedule {
				continue
			}
			n++
			out = append(out, Schedule{Name: scheduleName(f.Name, n, t.Input), Expression: t.Expression, TimeZone: t.TimeZone,
				Function: f.Name, Input: []byte(t.Input)})
		}
	}
	return out
}

// scheduleName names a schedule after its function and the mode its input
// selects ("ingest-quotes", "analytics-daily"), or its position among the
// function's schedules when the input has no mode.
func scheduleName(function string, n int, input string) string {
	var in struct {
		Mode string `json:"mode"`
	}
	if json.Unmarshal([]byte(input), &in) == nil && in.Mode != "" {
		return function + "-" + in.Mode
	}
	return fmt.Sprintf("%s-%d", function, n)
}

// WithClock replaces the clock (tests); call it before Run.
func (s *Scheduler) WithClock(c Clock) *Scheduler {
	s.clock = c
	return s
}

// Run fires the schedules until ctx is cancelled, then waits for the runs in
// flight and returns nil. Rate schedules fire at once, as EventBridge Scheduler
// fires a rate schedule created without a start date; cron and at schedules at
// their next time.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	now := s.clock.Now()
	s.mu.Lock()
	for _, e := range s.entries {
		e.planned = true
		if e.e.rate > 0 {
			e.next = now
		} else {
			e.next = s.following(e, now)
		}
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		var due time.Time
		for _, e := range s.entries {
			if !e.next.IsZero() && (due.IsZero() || e.next.Before(due)) {
				due = e.next
			}
		}
		s.mu.Unlock()
		var wake <-chan time.Time
		if !due.IsZero() {
			wake = s.clock.After(max(due.Sub(s.clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
		now := s.clock.Now()
		s.mu.Lock()
		for _, e := range s.entries {
			if e.next.IsZero() || e.next.After(now) {
				continue
			}
			scheduled := e.next
			// After a pause (a laptop asleep), missed fires are not made up:
			// one fire now, then the next one after now.
			if e.e.rate > 0 {
				e.next = now.Add(e.e.rate)
			} else {
				e.next = s.following(e, now)
			}
			if e.running {
				s.log.Warn("schedule: skipped, the previous run is still going", "schedule", e.s.Name, "function", e.s.Function, "scheduledTime", scheduled)
				continue
			}
			e.running = true
			wg.Go(func() {
				defer s.done(e)
				s.invoke(ctx, e, scheduled)
			})
		}
		s.mu.Unlock()
	}
}

func (s *Scheduler) following(e *entry, after time.Time) time.Time {
	t, err := e.e.next(after)
	if err != nil {
		if !errors.Is(err, ErrNoNext) {
			s.log.Error("schedule: next fire", "schedule", e.s.Name, "err", err)
		}
		return time.Time{}
	}
	return t
}

func (s *Scheduler) done(e *entry) {
	s.mu.Lock()
	e.running = false
	s.mu.Unlock()
}

func (s *Scheduler) invoke(ctx context.Context, e *entry, scheduled time.Time) ([]byte, error) {
	start := time.Now()
	out, err := s.inv.Invoke(ctx, e.s.Function, render(e.s.Input, e.s.Name, scheduled))
	log := s.log.With("schedule", e.s.Name, "function", e.s.Function, "scheduledTime", scheduled.UTC(), "duration", time.Since(start))
	if err != nil {
		// EventBridge Scheduler would retry a failed Lambda invoke; the local
		// stack only logs it, and the next fire is the retry.
		log.Error("schedule: invocation failed", "err", err)
		return out, fmt.Errorf("schedule %s: invoke %s: %w", e.s.Name, e.s.Function, err)
	}
	log.Info("schedule: fired")
	return out, nil
}

// FireNow invokes the schedule's function at once with its input and returns
// the function's result: the console's "fire now". It refuses while a run of the
// schedule is going, as a scheduled fire would be skipped.
func (s *Scheduler) FireNow(ctx context.Context, name string) ([]byte, error) {
	i := slices.IndexFunc(s.entries, func(e *entry) bool { return e.s.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchedule, name)
	}
	e := s.entries[i]
	s.mu.Lock()
	if e.running {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrStillRunning, name)
	}
	e.running = true
	s.mu.Unlock()
	defer s.done(e)
	return s.invoke(ctx, e, s.clock.Now())
}

// Upcoming returns each schedule's next fire after now, soonest first; a
// schedule that will not fire again is left out. Before Run, a rate schedule's
// next fire is now (Run fires it at once).
func (s *Scheduler) Upcoming(now time.Time) []Fire {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Fire
	for _, e := range s.entries {
		var at time.Time
		switch {
		case e.planned && e.e.rate > 0:
			at = e.next
		case e.e.rate > 0:
			at = now
		default:
			// Computed afresh: the console may ask about any time.
			t, err := e.e.next(now)
			if err != nil {
				continue
			}
			at = t
		}
		if at.IsZero() {
			continue
		}
		out = append(out, Fire{Name: e.s.Name, Function: e.s.Function, At: at})
	}
	slices.SortStableFunc(out, func(a, b Fire) int { return a.At.Compare(b.At) })
	return out
}

// render fills in EventBridge Scheduler's context attributes.
func render(input []byte, name string, scheduled time.Time) []byte {
	if len(input) == 0 {
		return []byte("{}")
	}
	if !strings.Contains(string(input), "<aws.scheduler.") {
		return input
	}
	r := strings.NewReplacer(
		"<aws.scheduler.schedule-arn>", "arn:aws:scheduler:us-east-1:000000000000:schedule/default/"+name,
		"<aws.scheduler.scheduled-time>", scheduled.UTC().Format(time.RFC3339),
		"<aws.scheduler.execution-id>", uuid.New(),
		"<aws.scheduler.attempt-number>", "1",
	)
	return []byte(r.Replace(string(input)))
}
