package schedule_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/localstack/schedule"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

var newYork = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func ny(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, newYork) }
func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

func TestNext(t *testing.T) {
	const nyc = "America/New_York"
	cases := []struct {
		name, expr, tz string
		after, want    time.Time
	}{
		{"rate minute", "rate(1 minute)", "", utc(2026, 3, 2, 10, 0), utc(2026, 3, 2, 10, 1)},
		{"rate minutes", "rate(5 minutes)", nyc, utc(2026, 3, 2, 10, 3), utc(2026, 3, 2, 10, 8)},
		{"rate hours", "rate(2 hours)", "", utc(2026, 3, 2, 23, 30), utc(2026, 3, 3, 1, 30)},
		// A day is 24 hours: across the spring change the clock reads 13:00.
		{"rate day across DST", "rate(1 day)", nyc, ny(2026, 3, 7, 12, 0), ny(2026, 3, 8, 13, 0)},
		{"cron UTC", "cron(0 10 * * ? *)", "", utc(2026, 3, 2, 10, 0), utc(2026, 3, 3, 10, 0)},
		{"cron steps", "cron(0/15 * * * ? *)", "", utc(2026, 3, 2, 10, 7), utc(2026, 3, 2, 10, 15)},
		{"cron list and names", "cron(0 8,17 ? JAN,MAR SAT,SUN *)", "", utc(2026, 3, 2, 9, 0), utc(2026, 3, 7, 8, 0)},
		// Market close in New York, weekdays: EST (UTC-5) before the March change,
		// EDT (UTC-4) after it, and back in November.
		{"close before March change", "cron(30 16 ? * MON-FRI *)", nyc, ny(2026, 3, 6, 16, 30), utc(2026, 3, 9, 20, 30)},
		{"close same day", "cron(30 16 ? * MON-FRI *)", nyc, utc(2026, 3, 9, 12, 0), utc(2026, 3, 9, 20, 30)},
		{"close before November change", "cron(30 16 ? * MON-FRI *)", nyc, ny(2026, 10, 30, 16, 30), utc(2026, 11, 2, 21, 30)},
		// 02:30 does not exist on 8 March 2026 in New York: that day is skipped.
		{"spring gap skipped", "cron(30 2 * * ? *)", nyc, ny(2026, 3, 7, 2, 30), utc(2026, 3, 9, 6, 30)},
		// 01:30 happens twice on 1 November 2026: it fires once, at the first.
		{"autumn first occurrence", "cron(30 1 * * ? *)", nyc, ny(2026, 10, 31, 1, 30), utc(2026, 11, 1, 5, 30)},
		{"autumn no repeat", "cron(30 1 * * ? *)", nyc, utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)},
		{"autumn half hours", "cron(0/30 * * * ? *)", nyc, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 0)},
		{"last day", "cron(0 5 L * ? *)", "", utc(2026, 2, 10, 0, 0), utc(2026, 2, 28, 5, 0)},
		{"last day leap year", "cron(0 5 L * ? *)", "", utc(2028, 2, 10, 0, 0), utc(2028, 2, 29, 5, 0)},
		{"nearest weekday of a Saturday", "cron(0 9 15W * ? *)", "", utc(2026, 8, 1, 0, 0), utc(2026, 8, 14, 9, 0)},
		{"nearest weekday stays in month", "cron(0 9 1W * ? *)", "", utc(2026, 7, 31, 12, 0), utc(2026, 8, 3, 9, 0)},
		{"last weekday", "cron(0 9 LW * ? *)", "", utc(2026, 5, 20, 0, 0), utc(2026, 5, 29, 9, 0)},
		{"second Tuesday", "cron(0 12 ? * 3#2 *)", "", utc(2026, 11, 1, 0, 0), utc(2026, 11, 10, 12, 0)},
		{"last Friday", "cron(0 12 ? * 6L *)", "", utc(2026, 11, 1, 0, 0), utc(2026, 11, 27, 12, 0)},
		{"L is Saturday", "cron(0 12 ? * L *)", "", utc(2026, 11, 1, 0, 0), utc(2026, 11, 7, 12, 0)},
		{"year", "cron(0 0 1 1 ? 2027-2030)", "", utc(2026, 5, 1, 0, 0), utc(2027, 1, 1, 0, 0)},
		{"never a 30 February, next year's 30 March", "cron(0 0 30 2,3 ? *)", "", utc(2026, 4, 1, 0, 0), utc(2027, 3, 30, 0, 0)},
		{"at", "at(2026-12-01T09:00:00)", nyc, utc(2026, 1, 1, 0, 0), utc(2026, 12, 1, 14, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := schedule.Next(c.expr, c.tz, c.after)
			if err != nil {
				t.Fatalf("Next(%q, %q, %v): %v", c.expr, c.tz, c.after, err)
			}
			if !got.Equal(c.want) {
				t.Errorf("Next(%q, %q, %v) = %v, want %v", c.expr, c.tz, c.after.UTC(), got.UTC(), c.want.UTC())
			}
		})
	}
}

func TestNextNoMoreFires(t *testing.T) {
	for _, c := range []struct{ expr string }{{"at(2026-12-01T09:00:00)"}, {"cron(0 0 1 1 ? 2027)"}} {
		if _, err := schedule.Next(c.expr, "", utc(2027, 6, 1, 0, 0)); !errors.Is(err, schedule.ErrNoNext) {
			t.Errorf("%s after its last fire: %v, want ErrNoNext", c.expr, err)
		}
	}
}

func TestNextRefusesInvalidExpressions(t *testing.T) {
	for _, c := range []struct{ expr, tz, says string }{
		{"rate(0 minutes)", "", "positive"},
		{"rate(1 minutes)", "", "unit"},
		{"rate(5 minute)", "", "plural"},
		{"rate(5 weeks)", "", "unit"},
		{"rate(-5 minutes)", "", "not a rate"},
		{"cron(0 10 * * * *)", "", "exactly one"},
		{"cron(0 10 ? * ? *)", "", "exactly one"},
		{"cron(60 * * * ? *)", "", "outside"},
		{"cron(0 24 * * ? *)", "", "outside"},
		{"cron(0 10 * * ?)", "", "six fields"},
		{"cron(0 10 ? * FRI-MON *)", "", "wraps"},
		{"cron(0 10 ? * 3#1,6#3 *)", "", "one expression"},
		{"cron(0 10 L-2 * ? *)", "", "not supported"},
		{"cron(0 10 ? * 8 *)", "", "outside"},
		{"cron(0 10 * * ? 1969)", "", "outside"},
		{"cron(0/0 10 * * ? *)", "", "step"},
		{"cron(0 10 32W * ? *)", "", "1 to 31"},
		{"at(2026-13-01T09:00:00)", "", "month"},
		{"every day at ten", "", "not a rate"},
		{"rate(1 minute)", "Mars/Olympus_Mons", "time zone"},
	} {
		_, err := schedule.Next(c.expr, c.tz, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Next(%q, %q): %v, want an error saying %q", c.expr, c.tz, err, c.says)
		}
	}
}

func TestNewValidates(t *testing.T) {
	inv := invoke.Func(func(context.Context, string, []byte) ([]byte, error) { return nil, nil })
	_, err := schedule.New(inv, []schedule.Schedule{
		{Name: "a", Expression: "rate(1 minute)", Function: "f"},
		{Name: "a", Expression: "rate(1 minute)", Function: "f"},
		{Name: "b", Expression: "cron(bad)", Function: "f"},
		{Name: "c", Expression: "rate(1 minute)"},
		{Name: "d", Expression: "rate(1 minute)", Function: "f", Input: []byte("{not json")},
	}, nil)
	for _, want := range []string{`"a": the name is used twice`, `"b"`, `"c": no function`, `"d": the input is not JSON`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want it to say %s", err, want)
		}
	}
}

// The topology's schedules are all valid, and ingest's is there with its input.
func TestFromTopology(t *testing.T) {
	scheds := schedule.FromTopology(topology.Functions())
	var found bool
	for _, s := range scheds {
		if s.Function == "ingest" && s.Expression == "rate(1 minute)" && string(s.Input) == `{"mode":"quotes"}` && s.TimeZone == "America/New_York" {
			found = true
		}
	}
	if !found {
		t.Errorf("schedules %+v: no ingest schedule", scheds)
	}
	if _, err := schedule.New(invoke.Func(nil), scheds, nil); err != nil {
		t.Errorf("the topology's schedules: %v", err)
	}
}

// fakeClock moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	calls   int
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) afterCalls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

type call struct {
	function string
	payload  string
}

type recorder struct {
	mu    sync.Mutex
	calls []call
	block map[string]chan struct{} // functions that wait for their channel
}

func (r *recorder) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, call{fn, string(payload)})
	ch := r.block[fn]
	r.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return []byte(`{"ok":"` + fn + `"}`), nil
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, s *schedule.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return")
		}
	})
}

// advance moves the fake clock once Run waits on it, and waits until Run has
// handled the wake-up (it asks the clock again).
func advance(t *testing.T, c *fakeClock, d time.Duration) {
	t.Helper()
	before := c.afterCalls()
	c.Advance(d)
	eventually(t, "the scheduler to wait again", func() bool { return c.afterCalls() > before })
}

func TestRunFiresRateAndCronWithInput(t *testing.T) {
	clock := &fakeClock{now: ny(2026, 3, 2, 15, 58)} // a Monday
	rec := &recorder{}
	s, err := schedule.New(rec, []schedule.Schedule{
		{Name: "quotes", Expression: "rate(1 minute)", TimeZone: "America/New_York", Function: "ingest",
			Input: []byte(`{"mode":"quotes","at":"<aws.scheduler.scheduled-time>"}`)},
		{Name: "close", Expression: "cron(0 16 ? * MON-FRI *)", TimeZone: "America/New_York", Function: "analytics"},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.WithClock(clock)
	start(t, s)
	// A rate schedule fires as soon as it exists.
	eventually(t, "the first fire", func() bool { return len(rec.snapshot()) == 1 && clock.afterCalls() > 0 })
	for range 2 {
		advance(t, clock, time.Minute)
	}
	eventually(t, "three fires", func() bool { return len(rec.snapshot()) == 4 })
	got := rec.snapshot()
	want := []call{
		{"ingest", `{"mode":"quotes","at":"2026-03-02T20:58:00Z"}`},
		{"ingest", `{"mode":"quotes","at":"2026-03-02T20:59:00Z"}`},
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("call %d: %+v, want %+v", i, got[i], w)
		}
	}
	// At 16:00 both fire, in either order; the cron one without input gets {}.
	last := map[call]bool{got[2]: true, got[3]: true}
	if !last[call{"analytics", `{}`}] || !last[call{"ingest", `{"mode":"quotes","at":"2026-03-02T21:00:00Z"}`}] {
		t.Errorf("fires at 16:00: %+v", got[2:])
	}
	up := s.Upcoming(clock.Now())
	if len(up) != 2 || up[0].Name != "quotes" || !up[0].At.Equal(ny(2026, 3, 2, 16, 1)) ||
		up[1].Name != "close" || !up[1].At.Equal(ny(2026, 3, 3, 16, 0)) {
		t.Errorf("Upcoming: %+v", up)
	}
}

// A slow run makes the fires that come while it goes be skipped, not queued.
func TestRunSkipsWhileStillRunning(t *testing.T) {
	clock := &fakeClock{now: utc(2026, 3, 2, 12, 0)}
	release := make(chan struct{})
	rec := &recorder{block: map[string]chan struct{}{"slow": release}}
	s, err := schedule.New(rec, []schedule.Schedule{{Name: "slow", Expression: "rate(1 minute)", Function: "slow"}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.WithClock(clock)
	start(t, s)
	eventually(t, "the first fire", func() bool { return len(rec.snapshot()) == 1 && clock.afterCalls() > 0 })
	advance(t, clock, time.Minute)
	advance(t, clock, time.Minute)
	if _, err := s.FireNow(t.Context(), "slow"); !errors.Is(err, schedule.ErrStillRunning) {
		t.Errorf("FireNow while running: %v", err)
	}
	if n := len(rec.snapshot()); n != 1 {
		t.Fatalf("%d invocations while the first was running, want 1", n)
	}
	close(release)
	// The run has ended: the next fire goes through.
	eventually(t, "the run to end", func() bool {
		out, err := s.FireNow(t.Context(), "slow")
		return err == nil && string(out) == `{"ok":"slow"}`
	})
	advance(t, clock, time.Minute)
	eventually(t, "the next fire", func() bool { return len(rec.snapshot()) == 3 })
}

func TestFireNow(t *testing.T) {
	rec := &recorder{}
	s, err := schedule.New(rec, []schedule.Schedule{
		{Name: "close", Expression: "cron(0 16 ? * MON-FRI *)", TimeZone: "America/New_York", Function: "analytics", Input: []byte(`{"job":"close"}`)},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.FireNow(t.Context(), "close")
	if err != nil || string(out) != `{"ok":"analytics"}` {
		t.Fatalf("FireNow: %s %v", out, err)
	}
	if got := rec.snapshot(); len(got) != 1 || got[0] != (call{"analytics", `{"job":"close"}`}) {
		t.Errorf("calls %+v", got)
	}
	if _, err := s.FireNow(t.Context(), "nope"); !errors.Is(err, schedule.ErrUnknownSchedule) {
		t.Errorf("unknown schedule: %v", err)
	}
	failing := invoke.Func(func(ctx context.Context, fn string, p []byte) ([]byte, error) {
		return nil, &invoke.FunctionError{Function: fn, Type: "errorString", Message: "boom"}
	})
	s2, _ := schedule.New(failing, []schedule.Schedule{{Name: "x", Expression: "rate(1 day)", Function: "f"}}, slog.New(slog.DiscardHandler))
	var fe *invoke.FunctionError
	if _, err := s2.FireNow(t.Context(), "x"); !errors.As(err, &fe) {
		t.Errorf("a function error comes back as one: %v", err)
	}
	// Before Run a rate schedule is due at once; the cron one at the next close.
	now := ny(2026, 3, 6, 17, 0)
	up := s.Upcoming(now)
	if len(up) != 1 || !up[0].At.Equal(ny(2026, 3, 9, 16, 0)) {
		t.Errorf("Upcoming %+v", up)
	}
	if up := s2.Upcoming(now); len(up) != 1 || !up[0].At.Equal(now) {
		t.Errorf("Upcoming of a rate before Run: %+v", up)
	}
}

// A very short real run: the real clock drives a rate schedule's first fire.
func TestRunRealClock(t *testing.T) {
	rec := &recorder{}
	s, err := schedule.New(rec, []schedule.Schedule{{Name: "r", Expression: "rate(1 minute)", Function: "f", Input: json.RawMessage(`{"a":1}`)}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	eventually(t, "the first fire", func() bool { return len(rec.snapshot()) == 1 })
	if got := rec.snapshot()[0]; got.payload != `{"a":1}` {
		t.Errorf("payload %s", got.payload)
	}
}
