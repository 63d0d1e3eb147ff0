// Package schedule is the local stack's EventBridge Scheduler: it fires each
// function's schedules (rate, cron and at expressions, evaluated in their time
// zone, daylight saving time included) and invokes the function with the
// schedule's input, as Scheduler's templated Lambda Invoke target does.
package schedule

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	// Time zones must resolve on machines without a zoneinfo database too.
	_ "time/tzdata"
)

// ErrNoNext: the expression never fires after the given time (an at() in the
// past, or a cron whose years are over).
var ErrNoNext = errors.New("schedule: no fire after that time")

// Next returns the first time after `after` that the expression fires,
// evaluated in the IANA time zone (UTC if empty), with EventBridge Scheduler's
// syntax and semantics:
//
//   - rate(1 minute), rate(N minutes), rate(1 hour), rate(N hours), rate(1 day),
//     rate(N days): after plus the period. A rate schedule fires first when it is
//     created (when the Scheduler starts), then a period after each fire; a day
//     is 24 hours, whatever daylight saving time does to the clock.
//   - cron(minutes hours day-of-month month day-of-week year): the fields take
//     values, names (JAN-DEC, SUN-SAT, day 1 = Sunday), * , lists, ranges and
//     /steps; one of day-of-month and day-of-week is ?, the other is not.
//     Day-of-month takes L (last day), NW (the weekday nearest day N, within the
//     month) and LW (the last weekday); day-of-week takes N#k (the k-th day N of
//     the month), NL (the last day N of the month) and L (Saturday, the week's
//     last day). A local time that does not exist (skipped by the spring change)
//     does not fire; one that occurs twice (the autumn change) fires once, at its
//     first occurrence.
//   - at(yyyy-mm-ddThh:mm:ss): that local time, if it is after `after`.
func Next(expression, timeZone string, after time.Time) (time.Time, error) {
	e, err := parse(expression, timeZone)
	if err != nil {
		return time.Time{}, err
	}
	return e.next(after)
}

// expr is a parsed expression.
type expr struct {
	loc  *time.Location
	rate time.Duration // rate()
	at   time.Time     // at()
	cron *cron         // cron()
}

func (e *expr) next(after time.Time) (time.Time, error) {
	switch {
	case e.rate > 0:
		return after.Add(e.rate), nil
	case e.cron != nil:
		return e.cron.next(after.In(e.loc))
	default:
		if e.at.After(after) {
			return e.at, nil
		}
		return time.Time{}, ErrNoNext
	}
}

var (
	rateRE = regexp.MustCompile(`^rate\(\s*(\d+)\s+([a-z]+)\s*\)$`)
	atRE   = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)
	cronRE = regexp.MustCompile(`^cron\((.*)\)$`)
)

func parse(expression, timeZone string) (*expr, error) {
	loc := time.UTC
	if timeZone != "" {
		l, err := time.LoadLocation(timeZone)
		if err != nil {
			return nil, fmt.Errorf("schedule: time zone %q: %w", timeZone, err)
		}
		loc = l
	}
	x := strings.TrimSpace(expression)
	if m := rateRE.FindStringSubmatch(x); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("schedule: %q: the rate must be a positive whole number", expression)
		}
		units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
		unit := m[2]
		if n != 1 {
			// rate(5 minutes), but rate(1 minute): the unit agrees with the value.
			if !strings.HasSuffix(unit, "s") {
				return nil, fmt.Errorf("schedule: %q: with a value other than 1 the unit is plural (minutes, hours, days)", expression)
			}
			unit = strings.TrimSuffix(unit, "s")
		}
		d, ok := units[unit]
		if !ok {
			return nil, fmt.Errorf("schedule: %q: the unit is minute(s), hour(s) or day(s) (a value of 1 takes the singular)", expression)
		}
		return &expr{loc: loc, rate: time.Duration(n) * d}, nil
	}
	if m := atRE.FindStringSubmatch(x); m != nil {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
		if err != nil {
			return nil, fmt.Errorf("schedule: %q: %w", expression, err)
		}
		return &expr{loc: loc, at: t}, nil
	}
	if m := cronRE.FindStringSubmatch(x); m != nil {
		c, err := parseCron(m[1])
		if err != nil {
			return nil, fmt.Errorf("schedule: %q: %w", expression, err)
		}
		return &expr{loc: loc, cron: c}, nil
	}
	return nil, fmt.Errorf("schedule: %q: not a rate(...), cron(...) or at(...) expression", expression)
}

// cron is a parsed cron expression: a set of allowed values per field, and the
// day-of-month / day-of-week specials.
type cron struct {
	minutes, hours, months, years []bool
	// Exactly one of dom and dow is in use (the other field is ?).
	useDOM               bool
	dom                  []bool   // plain days
	lastDay, lastWeekday bool     // L, LW
	nearestWeekday       []int    // NW
	dow                  []bool   // plain weekdays, 1 = Sunday
	nth                  [][2]int // N#k
	lastOf               []int    // NL
}

const (
	minYear = 1970
	maxYear = 2199
)

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(s string) (*cron, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("a cron expression has six fields (minutes hours day-of-month month day-of-week year), not %d", len(f))
	}
	c := &cron{}
	var err error
	if c.minutes, err = parseField("minutes", f[0], 0, 59, nil); err != nil {
		return nil, err
	}
	if c.hours, err = parseField("hours", f[1], 0, 23, nil); err != nil {
		return nil, err
	}
	if c.months, err = parseField("month", f[3], 1, 12, monthNames); err != nil {
		return nil, err
	}
	if c.years, err = parseField("year", f[5], minYear, maxYear, nil); err != nil {
		return nil, err
	}
	domAny, dowAny := f[2] == "?", f[4] == "?"
	if domAny == dowAny {
		return nil, errors.New("exactly one of day-of-month and day-of-week must be ? (a value or * in one needs ? in the other)")
	}
	c.useDOM = !domAny
	if c.useDOM {
		return c, c.parseDOM(f[2])
	}
	return c, c.parseDOW(f[4])
}

var (
	weekdayRE = regexp.MustCompile(`^(\d{1,2})W$`)
	nthRE     = regexp.MustCompile(`^([1-7A-Z]{1,3})#([1-5])$`)
	lastOfRE  = regexp.MustCompile(`^([1-7A-Z]{1,3})L$`)
)

func (c *cron) parseDOM(field string) error {
	var plain []string
	for _, item := range strings.Split(field, ",") {
		switch {
		case item == "L":
			c.lastDay = true
		case item == "LW":
			c.lastWeekday = true
		case weekdayRE.MatchString(item):
			n, _ := strconv.Atoi(weekdayRE.FindStringSubmatch(item)[1])
			if n < 1 || n > 31 {
				return fmt.Errorf("day-of-month %q: the day is 1 to 31", item)
			}
			c.nearestWeekday = append(c.nearestWeekday, n)
		case strings.ContainsAny(item, "LW#?"):
			return fmt.Errorf("day-of-month %q is not supported (L, LW, NW, values, ranges, steps and * are)", item)
		default:
			plain = append(plain, item)
		}
	}
	if len(plain) > 0 {
		var err error
		if c.dom, err = parseField("day-of-month", strings.Join(plain, ","), 1, 31, nil); err != nil {
			return err
		}
	}
	return nil
}

func (c *cron) parseDOW(field string) error {
	var plain []string
	for _, item := range strings.Split(field, ",") {
		switch {
		case nthRE.MatchString(item):
			m := nthRE.FindStringSubmatch(item)
			d, err := value(m[1], 1, 7, dayNames)
			if err != nil {
				return fmt.Errorf("day-of-week %q: %w", item, err)
			}
			k, _ := strconv.Atoi(m[2])
			if strings.Contains(field, ",") {
				return fmt.Errorf("day-of-week %q: with # the field holds one expression only", field)
			}
			c.nth = append(c.nth, [2]int{d, k})
		case item == "L":
			plain = append(plain, "7") // the week's last day, Saturday
		case lastOfRE.MatchString(item):
			d, err := value(lastOfRE.FindStringSubmatch(item)[1], 1, 7, dayNames)
			if err != nil {
				return fmt.Errorf("day-of-week %q: %w", item, err)
			}
			c.lastOf = append(c.lastOf, d)
		case strings.ContainsAny(item, "LW#?"):
			return fmt.Errorf("day-of-week %q is not supported (N#k, NL, L, values, names, ranges, steps and * are)", item)
		default:
			plain = append(plain, item)
		}
	}
	if len(plain) > 0 {
		var err error
		if c.dow, err = parseField("day-of-week", strings.Join(plain, ","), 1, 7, dayNames); err != nil {
			return err
		}
	}
	return nil
}

// parseField parses a comma list of *, N, A-B, with an optional /step, into the
// set of allowed values (indexed by value).
func parseField(name, field string, lo, hi int, names map[string]int) ([]bool, error) {
	set := make([]bool, hi+1)
	for _, item := range strings.Split(field, ",") {
		if item == "" {
			return nil, fmt.Errorf("%s %q: empty list item", name, field)
		}
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%s %q: the step must be a positive whole number", name, item)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = value(a, lo, hi, names); err != nil {
				return nil, fmt.Errorf("%s %q: %w", name, item, err)
			}
			if to, err = value(b, lo, hi, names); err != nil {
				return nil, fmt.Errorf("%s %q: %w", name, item, err)
			}
			if from > to {
				return nil, fmt.Errorf("%s %q: a range that wraps around is not supported", name, item)
			}
		default:
			v, err := value(rng, lo, hi, names)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", name, item, err)
			}
			from = v
			if !hasStep {
				to = v // N alone; N/step runs to the field's end
			}
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return set, nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a value", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

// next walks the local calendar from after's day, day by day, and within a
// matching day the allowed hours and minutes, and returns the first instant
// after `after`. Walking wall-clock times (not instants) is what gives the
// daylight saving semantics: each local time fires at most once.
func (c *cron) next(after time.Time) (time.Time, error) {
	loc := after.Location()
	y, m, d := after.Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // calendar arithmetic only
	for ; day.Year() <= maxYear; day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		if y < minYear || !c.years[y] {
			if y < minYear {
				day = time.Date(minYear, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			} else {
				day = time.Date(y, 12, 31, 12, 0, 0, 0, time.UTC) // the next loop step starts the next year
			}
			continue
		}
		if !c.months[m] || !c.dayMatches(day) {
			continue
		}
		for h := 0; h < 24; h++ {
			if !c.hours[h] {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				if !c.minutes[mi] {
					continue
				}
				t, ok := localTime(y, m, d, h, mi, loc)
				if ok && t.After(after) {
					return t, nil
				}
			}
		}
	}
	return time.Time{}, ErrNoNext
}

// localTime returns the instant of a wall-clock time: false if the time does
// not exist that day (skipped by a daylight saving change), and the earlier of
// the two instants if it occurs twice.
func localTime(y int, m time.Month, d, h, mi int, loc *time.Location) (time.Time, bool) {
	t := time.Date(y, m, d, h, mi, 0, 0, loc)
	if t.Hour() != h || t.Minute() != mi || t.Day() != d {
		return time.Time{}, false
	}
	for _, back := range []time.Duration{time.Hour, 30 * time.Minute} {
		e := t.Add(-back)
		if ey, em, ed := e.Date(); ey == y && em == m && ed == d && e.Hour() == h && e.Minute() == mi {
			return e, true
		}
	}
	return t, true
}

func (c *cron) dayMatches(day time.Time) bool {
	y, m, d := day.Date()
	last := time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
	wd := int(day.Weekday()) + 1 // 1 = Sunday
	if c.useDOM {
		if c.dom != nil && c.dom[d] {
			return true
		}
		if c.lastDay && d == last {
			return true
		}
		if c.lastWeekday && d == nearestWeekday(y, m, last, last) {
			return true
		}
		for _, n := range c.nearestWeekday {
			if n <= last && d == nearestWeekday(y, m, n, last) {
				return true
			}
		}
		return false
	}
	if c.dow != nil && c.dow[wd] {
		return true
	}
	for _, nk := range c.nth {
		if wd == nk[0] && (d-1)/7+1 == nk[1] {
			return true
		}
	}
	for _, n := range c.lastOf {
		if wd == n && d+7 > last {
			return true
		}
	}
	return false
}

// nearestWeekday is the Monday-to-Friday day nearest day n, without leaving the
// month: a Saturday moves to the Friday before (or the Monday after, on the 1st),
// a Sunday to the Monday after (or the Friday before, on the last day).
func nearestWeekday(y int, m time.Month, n, last int) int {
	switch time.Date(y, m, n, 12, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}
