package calendar

import (
	"errors"
	"testing"
	"time"
)

func TestParseRoundTripsEveryDayOverFourCenturies(t *testing.T) {
	start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 146097; i += 7 { // one full Gregorian cycle, sampled weekly plus leap days below
		tm := start.AddDate(0, 0, i)
		d := FromTime(tm)
		if got := d.String(); got != tm.Format("2006-01-02") {
			t.Fatalf("String() = %s, want %s", got, tm.Format("2006-01-02"))
		}
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Fatalf("Parse(%s) = %v, %v; want %v", d, back, err, d)
		}
		if !d.Time().Equal(tm) {
			t.Fatalf("Time() = %v, want %v", d.Time(), tm)
		}
		if d.Weekday() != tm.Weekday() {
			t.Fatalf("Weekday(%s) = %v, want %v", d, d.Weekday(), tm.Weekday())
		}
	}
}

func TestKnownDays(t *testing.T) {
	if d := MustNew(1970, 1, 1); d != 0 {
		t.Fatalf("epoch = %d, want 0", d)
	}
	if d := MustNew(2000, 3, 1); d.String() != "2000-03-01" || d-MustNew(2000, 2, 28) != 2 {
		t.Fatalf("2000 is a leap year: %s", d)
	}
	if MustNew(1900, 3, 1)-MustNew(1900, 2, 28) != 1 {
		t.Fatal("1900 is not a leap year")
	}
	if got := MustNew(1969, 12, 31); got != -1 {
		t.Fatalf("1969-12-31 = %d, want -1", got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "20240101", "2024/01/01", "abcd-ef-gh", "2024-01-32"} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalidDate) {
			t.Errorf("Parse(%q) err = %v, want ErrInvalidDate", s, err)
		}
	}
}

func TestParseDateOrDateTimeKeepsTheWrittenDay(t *testing.T) {
	cases := map[string]string{
		"2024-05-06":                "2024-05-06",
		"2024-05-06T00:00:00.000Z":  "2024-05-06",
		"2024-05-06T23:30:00-05:00": "2024-05-06", // not shifted to UTC's 05-07
		"2024-05-06T01:00:00+09:00": "2024-05-06",
		"2024-05-06T10:00:00":       "2024-05-06",
	}
	for in, want := range cases {
		d, err := ParseDateOrDateTime(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDateOrDateTime(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	if _, err := ParseDateOrDateTime("yesterday"); !errors.Is(err, ErrInvalidDate) {
		t.Errorf("want ErrInvalidDate, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("2024-02-29")
	f.Add("0000-01-01")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, d.String())
		}
	})
}
