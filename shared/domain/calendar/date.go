// Package calendar provides Date, a calendar day with no time of day and no zone.
//
// Trade dates, dividend dates and daily closes are calendar days: a trade made on
// 2024-03-01 in New York and one made on 2024-03-01 in Sydney are both "2024-03-01".
// Representing them as time.Time invites off-by-one-day bugs at zone boundaries, so
// the domain uses Date, which is a day count and compares, sorts and hashes as an int.
package calendar

import (
	"errors"
	"fmt"
	"time"
)

// Date is a calendar day, stored as the number of days since 1970-01-01.
// The zero value is 1970-01-01, a real day: where "no date" must be told apart, callers
// carry a separate flag or pointer.
type Date int32

const secondsPerDay = 24 * 60 * 60

// ErrInvalidDate is wrapped by every parse error of this package.
var ErrInvalidDate = errors.New("invalid date")

// New returns the Date for year, month and day. It does not normalise: an
// impossible day (Feb 30) is an error rather than silently becoming Mar 2.
func New(year int, month time.Month, day int) (Date, error) {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if t.Year() != year || t.Month() != month || t.Day() != day {
		return 0, fmt.Errorf("%w: %04d-%02d-%02d does not exist", ErrInvalidDate, year, int(month), day)
	}
	return FromTime(t), nil
}

// MustNew is New for constants in tests and fixtures; it panics on an impossible day.
func MustNew(year int, month time.Month, day int) Date {
	d, err := New(year, month, day)
	if err != nil {
		panic(err)
	}
	return d
}

// FromTime returns the calendar day of t in t's own location.
func FromTime(t time.Time) Date {
	y, m, d := t.Date()
	u := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	return Date(floorDiv(u, secondsPerDay))
}

// Time returns midnight UTC of the day.
func (d Date) Time() time.Time {
	return time.Unix(int64(d)*secondsPerDay, 0).UTC()
}

// Parse reads an ISO 8601 calendar date "YYYY-MM-DD". It is hand-rolled because
// price files carry millions of dates and time.Parse costs several times more.
func Parse(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrInvalidDate, s)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrInvalidDate, s)
	}
	if m < 1 || m > 12 || dd < 1 || dd > daysIn(y, time.Month(m)) {
		return 0, fmt.Errorf("%w: %q does not exist", ErrInvalidDate, s)
	}
	return Date(daysFromCivil(y, m, dd)), nil
}

// ParseDateOrDateTime accepts "YYYY-MM-DD" or an RFC 3339 date-time and returns the
// calendar day as written (the date part in the timestamp's own offset), which is
// what a broker statement means by a trade date.
func ParseDateOrDateTime(s string) (Date, error) {
	if len(s) == 10 {
		return Parse(s)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return FromTime(t), nil
		}
	}
	return 0, fmt.Errorf("%w: %q is neither YYYY-MM-DD nor an RFC 3339 date-time", ErrInvalidDate, s)
}

// String formats the day as YYYY-MM-DD.
func (d Date) String() string {
	y, m, dd := civilFromDays(int64(d))
	var b [10]byte
	put4(b[0:4], y)
	b[4] = '-'
	put2(b[5:7], m)
	b[7] = '-'
	put2(b[8:10], dd)
	return string(b[:])
}

// AddDays returns the day n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// DaysSince returns d − other in days.
func (d Date) DaysSince(other Date) int { return int(d - other) }

// Before and After read better than integer comparisons at call sites.
func (d Date) Before(o Date) bool { return d < o }
func (d Date) After(o Date) bool  { return d > o }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday((int64(d)%7 + 7 + 4) % 7)
}

// Year returns the civil year.
func (d Date) Year() int {
	y, _, _ := civilFromDays(int64(d))
	return y
}

// MarshalText implements encoding.TextMarshaler (JSON strings "YYYY-MM-DD").
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	default:
		return 31
	}
}

// daysFromCivil and civilFromDays are Howard Hinnant's proleptic Gregorian algorithms.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func put4(b []byte, v int) {
	b[0] = byte('0' + v/1000%10)
	b[1] = byte('0' + v/100%10)
	b[2] = byte('0' + v/10%10)
	b[3] = byte('0' + v%10)
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10%10)
	b[1] = byte('0' + v%10)
}
