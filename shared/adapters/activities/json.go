package activities

import (
	"errors"
	"fmt"
	"io"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// Parse reads a JSON activity file (Ghostfolio's export or our own, see the package
// doc) from r. source names the file in error messages. The input is streamed: its
// size does not matter, only the number of activities kept.
func Parse(r io.Reader, source string) (*Result, error) {
	return parseJSON(r, source, func(*builder) {})
}

// ParseAll reads a JSON activity file as Parse does, but past an activity's
// error: the activity is refused (Result.Refused) and the next one read, so
// one pass reports every activity's error (an import's preview). What leaves
// the file unreadable still ends it: the structure, invalid JSON (after which
// no activity's boundaries are known), more than maxActivities activities
// (ErrTooManyActivities; 0: no bound).
func ParseAll(r io.Reader, source string, maxActivities int) (*Result, error) {
	return parseJSON(r, source, func(b *builder) { b.keepGoing, b.maxActivities = true, maxActivities })
}

func parseJSON(r io.Reader, source string, mode func(*builder)) (*Result, error) {
	size := sizeHint(r)
	p := &jsonParser{s: newScanner(r, size), b: newBuilder(source, size/bytesPerActivity)}
	mode(p.b)
	if err := p.file(); err != nil {
		return nil, err
	}
	return p.b.result(), nil
}

type jsonParser struct {
	s *scanner
	b *builder
}

const (
	whereTop      = "before the top-level object is closed"
	whereArray    = `before the "activities" array is closed`
	whereActivity = "inside this activity"
)

const wantShape = `want an object {"activities":[...]}`

// fileErr is an error about the file's structure at a line.
func (p *jsonParser) fileErr(line int, format string, args ...any) *Error {
	return &Error{File: p.b.source, Index: -1, Line: line, Err: fmt.Errorf(format, args...)}
}

// structErr locates a scanner error outside any activity.
func (p *jsonParser) structErr(err error) *Error {
	var se *syntaxError
	if !errors.As(err, &se) {
		return &Error{File: p.b.source, Index: -1, Err: err}
	}
	if se.truncated || se.read {
		return &Error{File: p.b.source, Index: -1, Line: se.line, Err: se}
	}
	return p.fileErr(se.line, "invalid JSON: %s", se.msg)
}

// recordErr locates a scanner or field error inside the index-th activity.
func (p *jsonParser) recordErr(index, line int, err error) *Error {
	var se *syntaxError
	if errors.As(err, &se) && !se.truncated && !se.read {
		err = fmt.Errorf("invalid JSON at line %d: %s", se.line, se.msg)
	}
	return p.b.fail(index, line, err)
}

func (p *jsonParser) file() error {
	s := p.s
	s.skipBOM()
	c, ok := s.peek()
	if !ok {
		if s.readErr != nil {
			return p.structErr(s.endErr(""))
		}
		return p.fileErr(0, "empty file: %s", wantShape)
	}
	if c != '{' {
		switch c {
		case '[', '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 't', 'f', 'n':
			return p.fileErr(s.line, "the top level is %s: %s", describe(c), wantShape)
		}
		return p.fileErr(s.line, "not JSON: %s, found %s", wantShape, describe(c))
	}
	s.pos++
	seen := false
	for first := true; ; first = false {
		done, err := s.objectKey(first, whereTop)
		if err != nil {
			return p.structErr(err)
		}
		if done {
			break
		}
		if string(s.tok) == "activities" {
			if seen {
				return p.fileErr(s.line, `"activities" appears twice`)
			}
			seen = true
			if err := p.activities(); err != nil {
				return err
			}
			continue
		}
		k, err := s.value(false, whereTop)
		if err == nil {
			err = s.skip(k, 1, whereTop)
		}
		if err != nil {
			return p.structErr(err)
		}
	}
	if c, ok := s.peek(); ok {
		return p.fileErr(s.line, "unexpected %s after the top-level object", describe(c))
	}
	if s.readErr != nil {
		return p.structErr(s.endErr(""))
	}
	if !seen {
		return p.fileErr(s.line, `no "activities" in the top-level object (%s)`, wantShape)
	}
	return nil
}

func (p *jsonParser) activities() error {
	s := p.s
	line := s.line
	k, err := s.value(false, whereTop)
	if err != nil {
		return p.structErr(err)
	}
	if k != kArray {
		return p.fileErr(line, `"activities" must be an array, not %s`, k)
	}
	var rec record
	for index, first := 0, true; ; index, first = index+1, false {
		done, err := s.arrayNext(first, whereArray)
		if err != nil {
			return p.structErr(err)
		}
		if done {
			return nil
		}
		c, _ := s.peek() // arrayNext stopped at the element's first byte
		line := s.line
		if err := p.b.admit(index, line); err != nil {
			return err
		}
		if c != '{' {
			k, err := s.value(false, whereArray)
			if err == nil && p.b.keepGoing {
				err = s.skip(k, 2, whereArray)
			}
			if err != nil {
				return p.recordErr(index, line, err)
			}
			if err := p.b.reject(index, line, fmt.Errorf("an activity must be an object, not %s", k)); err != nil {
				return err
			}
			continue
		}
		s.pos++
		rec = record{}
		if err := p.activity(&rec); err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				return p.recordErr(index, line, err)
			}
			if err := p.b.reject(index, line, err); err != nil {
				return err
			}
			continue
		}
		if err := p.b.add(&rec, index, line); err != nil {
			return err
		}
	}
}

// activity reads the members of one activity object (its '{' consumed). An
// error about a value is returned at once, or, in keep-going mode, once the
// object is read to its end (so the next activity can be read); a
// *syntaxError always at once.
func (p *jsonParser) activity(rec *record) error {
	s := p.s
	var seen field
	var bad error // keep-going mode: the first error about a value
	for first := true; ; first = false {
		done, err := s.objectKey(first, whereActivity)
		if err != nil {
			return err
		}
		if done {
			return bad
		}
		f := fieldOf(s.tok)
		if f != 0 && seen&f != 0 && bad == nil {
			bad = fmt.Errorf("duplicate key %q", f.String())
			if !p.b.keepGoing {
				return bad
			}
		}
		if f == 0 || bad != nil {
			k, err := s.value(false, whereActivity)
			if err == nil {
				err = s.skip(k, 2, whereActivity)
			}
			if err != nil {
				return err
			}
			continue
		}
		seen |= f
		k, err := s.value(true, whereActivity)
		if err != nil {
			return err
		}
		if k == kNull {
			continue // as if absent
		}
		if err := p.assign(rec, f, k); err != nil {
			if !p.b.keepGoing {
				return err
			}
			bad = err
			continue
		}
		rec.set |= f
	}
}

// assign stores the value just read (in tok) into the field.
func (p *jsonParser) assign(rec *record, f field, k kind) error {
	v := p.s.tok
	switch f {
	case fQuantity, fUnitPrice, fFee, fAmount, fTax, fFXRate, fToAmount:
		if k != kNumber && k != kString {
			return fieldError(f, "must be a number or a numeric string, not %s", k)
		}
		d, neg, err := parseDecimal(v, p.b.decs)
		if err != nil {
			return fieldError(f, "%v", err)
		}
		rec.setNumber(f, d, neg)
		return nil
	}
	if k != kString {
		return fieldError(f, "must be a string, not %s", k)
	}
	switch f {
	case fDate:
		d, err := calendar.ParseDateOrDateTime(string(v))
		if err != nil {
			return tagged(err, "%q: %v", f.String(), err)
		}
		rec.date = d
	case fType:
		rec.typ = upperType(v)
	case fSymbol:
		rec.symbol = p.b.intern(v)
	case fCurrency:
		rec.currency = p.b.intern(v)
	case fToCurrency:
		rec.toCurrency = p.b.intern(v)
	case fID:
		rec.id = string(v)
	case fNote:
		rec.note = string(v)
	case fRatio:
		rec.ratio = string(v)
	case fVoids:
		rec.voids = string(v)
	case fReason:
		// Kept in the file only: the result holds no voided activities.
	}
	return nil
}
