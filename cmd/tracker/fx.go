package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
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
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot open: %w", path, err)
	}
	defer f.Close()
	return readRates(f, path)
}

func readRates(r io.Reader, source string) (*currency.Rates, error) {
	type key struct {
		day      calendar.Date
		from, to string
	}
	rates := currency.NewRates()
	seen := map[key]decimal.Decimal{}
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
		if !rate.IsPositive() || rate.GreaterThanOrEqual(portfolio.MaxFXRate) {
			return nil, fail("rate %s of %s→%s is not between 0 and %s", f[3], f[1], f[2], portfolio.MaxFXRate)
		}
		k := key{day, f[1], f[2]}
		if was, ok := seen[k]; ok {
			if !was.Equal(rate) {
				return nil, fail("%s→%s on %s is given twice: %s and %s", f[1], f[2], day, was, rate)
			}
			continue
		}
		seen[k] = rate
		if err := rates.Add(day, f[1], f[2], rate); err != nil {
			return nil, fail("%v", err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading: %w", source, err)
	}
	return rates, nil
}
