package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// loadRates reads an exchange-rate CSV, "date,from,to,rate" per line (a header
// line starting with "date" is optional; blank lines are skipped): on date one
// from cost rate to. Its errors are one line, "<file>:<line>: ...". A pair given
// twice on one date with different rates is an error, the same rate twice is not.
func loadRates(path string) (*currency.Rates, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRates(f, path)
}

func readRates(r io.Reader, source string) (*currency.Rates, error) {
	type pair struct{ from, to string }
	type entry struct {
		pair pair
		day  calendar.Date
		rate decimal.Decimal
		line int
	}
	rates := currency.NewRates()
	// A file is usually in date order: a pair given twice on one day is then its
	// previous entry. Out of order, the entries are sorted and checked at the end.
	last := map[pair]int{} // index in entries
	var entries []entry
	unordered := false
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
			if strings.HasPrefix(strings.ToLower(text), "date") {
				continue
			}
		}
		if text == "" {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", source, line, fmt.Sprintf(format, args...))
		}
		f := strings.Split(text, ",")
		if len(f) != 4 {
			return nil, fail("want 4 fields date,from,to,rate, got %d", len(f))
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		day, err := calendar.Parse(f[0])
		if err != nil {
			return nil, fail("%v", err)
		}
		rate, err := decimal.NewFromString(f[3])
		if err != nil {
			return nil, fail("rate %q is not a decimal number", f[3])
		}
		// NumDigits + Exponent > 7 is a rate of 10^7 or more (MaxFXRate), < −6 one
		// below 10^−7 (MinFXRate), without the rescaling a decimal comparison costs
		// (1e-20000000 took seconds to invert); more than 30 places is no rate.
		if mag := rate.NumDigits() + int(rate.Exponent()); !rate.IsPositive() || mag > 7 || mag < -6 || rate.Exponent() < -30 {
			return nil, fail("rate %s of %s→%s is not between %s and %s with at most 30 decimal places", f[3], f[1], f[2], portfolio.MinFXRate, portfolio.MaxFXRate)
		}
		k := pair{f[1], f[2]}
		if i, ok := last[k]; ok {
			switch prev := entries[i]; {
			case day == prev.day && !prev.rate.Equal(rate):
				return nil, fail("%s→%s on %s is given twice: %s (line %d) and %s", f[1], f[2], day, prev.rate, prev.line, rate)
			case day == prev.day:
				continue
			case day < prev.day:
				unordered = true
			}
		}
		last[k] = len(entries)
		entries = append(entries, entry{k, day, rate, line})
		if err := rates.Add(day, f[1], f[2], rate); err != nil {
			return nil, fail("%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading: %w", source, err)
	}
	if unordered {
		slices.SortStableFunc(entries, func(a, b entry) int {
			return cmp.Or(strings.Compare(a.pair.from, b.pair.from), strings.Compare(a.pair.to, b.pair.to), cmp.Compare(a.day, b.day))
		})
		for i := 1; i < len(entries); i++ {
			a, b := entries[i-1], entries[i]
			if a.pair == b.pair && a.day == b.day && !a.rate.Equal(b.rate) {
				return nil, fmt.Errorf("%s:%d: %s→%s on %s is given twice: %s (line %d) and %s", source, b.line, b.pair.from, b.pair.to, b.day, a.rate, a.line, b.rate)
			}
		}
	}
	return rates, nil
}
