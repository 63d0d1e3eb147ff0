package performance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// MaxLineLen is the longest line LoadCSV accepts.
const MaxLineLen = 64 << 10

// ParseError is a malformed line of a closes file. Its message is
// "<source>:<line>: <what is wrong>"; Err may wrap calendar.ErrInvalidDate.
type ParseError struct {
	Source string
	Line   int
	Err    error
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err) }

func (e *ParseError) Unwrap() error { return e.Err }

// LoadCSV reads daily closes as CSV lines "date,symbol,close", for example
// "2024-03-01,AAPL,179.66", streaming: the input passes through one 256 KiB buffer
// and lines are parsed in place there (bufio.Reader.ReadSlice did the same with
// more overhead per line). A plain line (default column order, nothing to trim or
// unquote, a close of digits and a point) takes a fast path that scans it once;
// any other line, and every error, goes through the general parser.
//
// The first non-blank line is a header when its first field is "date", "symbol" or
// "close" (any letter case); a header must name those three columns, in any order.
// Blank lines are skipped, a trailing CR and a leading UTF-8 BOM are dropped, spaces
// around fields are trimmed and a field may be wrapped in plain double quotes.
// Dates are YYYY-MM-DD; a close is a positive decimal ("12", "0.5", "1.5e-3") with
// at most 18 significant digits and 18 decimal places. Lines may come in any order.
// The same (symbol, date) twice is accepted when both closes are equal and is an
// error otherwise. source names the input in errors: a bad line is a *ParseError
// ("prices.csv:7: ..."); an unequal duplicate in a file that is not in date order
// is found only after sorting, and is reported as "prices.csv: duplicate close for
// ... : 1.5 and 1.6" without lines.
func LoadCSV(r io.Reader, source string) (*Closes, error) {
	c := NewCloses()
	c.source = source
	l := loader{c: c, col: [3]int{0, 1, 2}, lastIdx: -1}
	buf := make([]byte, readBufLen)
	n, eof := 0, false
	for !eof {
		for empty := 0; !eof && n < len(buf); {
			k, err := r.Read(buf[n:])
			n += k
			switch {
			case err == io.EOF:
				eof = true
			case err != nil:
				return nil, fmt.Errorf("%s: read after line %d: %w", source, l.line, err)
			case k == 0:
				if empty++; empty == 100 {
					return nil, fmt.Errorf("%s: read after line %d: %w", source, l.line, io.ErrNoProgress)
				}
			}
		}
		// Parse the complete lines; at the end of input, everything.
		end := n
		if !eof {
			end = bytes.LastIndexByte(buf[:n], '\n') + 1
		}
		for p := 0; p < end; {
			next, err := l.fastLine(buf[p:end])
			if err != nil {
				return nil, &ParseError{source, l.line, err}
			}
			if next < 0 { // not a plain line
				next = end - p
				if i := bytes.IndexByte(buf[p:end], '\n'); i >= 0 {
					next = i + 1
				}
				l.line++
				if next > MaxLineLen+1 {
					return nil, &ParseError{source, l.line, fmt.Errorf("line longer than %d bytes", MaxLineLen)}
				}
				if err := l.parseLine(buf[p : p+next]); err != nil {
					return nil, &ParseError{source, l.line, err}
				}
			}
			p += next
		}
		if end == 0 && n == len(buf) {
			return nil, &ParseError{source, l.line + 1, fmt.Errorf("line longer than %d bytes", MaxLineLen)}
		}
		n = copy(buf, buf[end:n])
	}
	if err := c.Seal(); err != nil {
		return nil, err
	}
	return c, nil
}

// readBufLen is LoadCSV's buffer: lines are parsed in place, so it bounds the
// line length (MaxLineLen, with room to spare) and is all the input held at once.
const readBufLen = 4 * MaxLineLen

type loader struct {
	c        *Closes
	line     int
	started  bool   // a non-blank line has been seen
	plain    bool   // columns in the default order: fastLine applies
	col      [3]int // field positions of date, symbol, close
	date8    uint64 // the last date fastLine parsed, as its 10 bytes
	date2    uint16
	lastDay  calendar.Date
	haveDate bool
	lastIdx  int32 // symbol of the previous line, −1 before the first
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// fastLine parses the line at the start of b if it is plain — the columns in the
// default order, a 10-character date, nothing to trim or unquote, a close of
// digits and at most one point — and returns its length, newline included. For
// any other line it returns −1 and changes nothing: parseLine takes it, and makes
// the error messages. b ends with a newline unless it is the end of input.
func (l *loader) fastLine(b []byte) (int, error) {
	if !l.plain || len(b) < 14 || b[10] != ',' || !isDigit(b[0]) || !isDigit(b[9]) {
		return -1, nil
	}
	j := 11
	for j < len(b) && !symbolStop[b[j]] {
		j++
	}
	if j == 11 || j == len(b) || b[j] != ',' {
		return -1, nil
	}
	k := j + 1
	i, dot := k, -1
	var m uint64
	for ; i < len(b); i++ {
		ch := b[i]
		if d := ch - '0'; d <= 9 {
			m = m*10 + uint64(d)
			continue
		}
		if ch != '.' || dot >= 0 {
			break
		}
		dot = i
	}
	if i-k > 18 || m == 0 {
		return -1, nil
	}
	next := i
	switch {
	case i == len(b):
	case b[i] == '\n':
		next = i + 1
	case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
		next = i + 2
	default:
		return -1, nil
	}
	exp := 0
	if dot >= 0 {
		exp = dot + 1 - i
		for exp < 0 && m%10 == 0 {
			m /= 10
			exp++
		}
	}
	var day calendar.Date
	d8, d2 := binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint16(b[8:10])
	if l.haveDate && d8 == l.date8 && d2 == l.date2 {
		day = l.lastDay
	} else {
		d, err := parseDate(b[:10])
		if err != nil {
			return -1, nil
		}
		day, l.date8, l.date2, l.lastDay, l.haveDate = d, d8, d2, d, true
	}
	l.line++
	return next, l.record(day, b[11:j], b[k:i], m, exp)
}

// parseLine parses any line, newline included: trimming, quotes, the header,
// blank lines, and every error.
func (l *loader) parseLine(b []byte) error {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	f, blank, err := l.split(b)
	if err != nil || blank {
		return err
	}
	if !l.started {
		l.started = true
		if isColumnName(f[0]) {
			err := l.header(f)
			l.plain = err == nil && l.col == [3]int{0, 1, 2}
			return err
		}
		l.plain = true
	}
	dateF, symF, closeF := f[l.col[0]], f[l.col[1]], f[l.col[2]]
	day, err := parseDate(dateF)
	if err != nil {
		return err
	}
	if len(closeF) > maxCloseLen {
		return fmt.Errorf("close %.20q… is longer than %d characters", closeF, maxCloseLen)
	}
	mant, exp, st := parseNumber(closeF)
	switch st {
	case numSyntax:
		return fmt.Errorf("close %q is not a decimal number", closeF)
	case numNotPositive:
		return fmt.Errorf("close %q must be positive", closeF)
	case numTooManyDigits:
		return fmt.Errorf("close %q has more than 18 significant digits", closeF)
	case numOutOfRange:
		return fmt.Errorf("close %q is out of range (exponent beyond ±%d)", closeF, maxCloseExponent)
	}
	return l.record(day, symF, closeF, mant, exp)
}

// record stores a parsed close.
func (l *loader) record(day calendar.Date, symF, closeF []byte, mant uint64, exp int) error {
	// Symbol: the previous line's, or the one that followed it last time (a
	// date-major file lists the symbols in the same order every day), or a lookup.
	idx := int32(-1)
	if prev := l.lastIdx; prev >= 0 {
		ps := &l.c.series[prev]
		if key, ok := symbolKey(symF); ok {
			if key == ps.key {
				idx = prev
			} else if nx := ps.next; nx >= 0 && key == l.c.series[nx].key {
				idx = nx
			}
		} else if string(symF) == ps.name {
			idx = prev
		} else if nx := ps.next; nx >= 0 && string(symF) == l.c.series[nx].name {
			idx = nx
		}
	}
	if idx < 0 {
		var ok bool
		if idx, ok = l.c.index[string(symF)]; !ok {
			name := string(symF)
			if msg := checkSymbol(name); msg != "" {
				return errors.New(msg)
			}
			idx = l.c.symbol(name)
		}
		if l.lastIdx >= 0 {
			l.c.series[l.lastIdx].next = idx
		}
	}
	l.lastIdx = idx
	s := &l.c.series[idx]

	// The common case inline: the next date of the calendar, the same scale, an
	// int32 mantissa with room in its chunk.
	if st := s.st; st.follow && -exp == s.scale && !st.wide && mant <= math.MaxInt32 && len(st.cur32) < cap(st.cur32) {
		if pos := st.start + st.n; pos < len(l.c.cal) && l.c.cal[pos] == day {
			m := int64(mant)
			st.cur32 = append(st.cur32, int32(m))
			st.n++
			st.lastDay, st.lastM, st.lastLine = day, m, l.line
			st.maxM = max(st.maxM, m)
			return nil
		}
	}
	if ast, prev := l.c.add(s, day, mant, exp, l.line); ast != addOK {
		return errors.New(s.addError(ast, prev, string(closeF), day))
	}
	return nil
}

func isDigit(c byte) bool { return c-'0' <= 9 }

// symbolStop marks the bytes that end a symbol in fastLine: the comma, and what
// would need the general path.
var symbolStop = [256]bool{',': true, '\n': true, '\r': true, '"': true, ' ': true, '\t': true}

// symbolKey packs a symbol of up to 7 bytes and its length into a uint64, so a
// symbol compares in one instruction. It reads 8 bytes, the symbol's and what
// follows it in the buffer, so it needs cap(sym) ≥ 8; ok is false otherwise or
// for longer symbols.
func symbolKey(sym []byte) (key uint64, ok bool) {
	n := len(sym)
	if n > 7 || cap(sym) < 8 {
		return 0, false
	}
	w := binary.LittleEndian.Uint64(sym[:8])
	return w&(1<<(8*n)-1) | uint64(n)<<56, true
}

// split cuts a line into its three trimmed, unquoted fields.
func (l *loader) split(b []byte) (f [3][]byte, blank bool, err error) {
	if l.line == 1 {
		b = bytes.TrimPrefix(b, bom)
	}
	i := bytes.IndexByte(b, ',')
	if i < 0 {
		if len(trim(b)) == 0 {
			return f, true, nil
		}
		return f, false, fieldCountError(b)
	}
	j := bytes.IndexByte(b[i+1:], ',')
	if j < 0 {
		return f, false, fieldCountError(b)
	}
	j += i + 1
	if bytes.IndexByte(b[j+1:], ',') >= 0 {
		return f, false, fieldCountError(b)
	}
	return [3][]byte{unquote(trim(b[:i])), unquote(trim(b[i+1 : j])), unquote(trim(b[j+1:]))}, false, nil
}

// parseDate is calendar.Parse on the bytes without copying them into a string:
// Parse keeps nothing of its argument when it succeeds, and on failure the error
// is made again from a copy, so the borrowed view does not outlive the call.
func parseDate(b []byte) (calendar.Date, error) {
	if len(b) == 0 {
		return calendar.Parse("")
	}
	d, err := calendar.Parse(unsafe.String(&b[0], len(b)))
	if err != nil {
		return calendar.Parse(string(b))
	}
	return d, nil
}

func (l *loader) header(f [3][]byte) error {
	seen := [3]bool{}
	for pos, name := range f {
		k := -1
		switch strings.ToLower(string(name)) {
		case "date":
			k = 0
		case "symbol":
			k = 1
		case "close":
			k = 2
		}
		if k < 0 || seen[k] {
			return fmt.Errorf("header %q must name the columns date, symbol and close", fmt.Sprintf("%s,%s,%s", f[0], f[1], f[2]))
		}
		seen[k] = true
		l.col[k] = pos
	}
	return nil
}

func isColumnName(b []byte) bool {
	switch strings.ToLower(string(b)) {
	case "date", "symbol", "close":
		return true
	}
	return false
}

func fieldCountError(b []byte) error {
	n := bytes.Count(b, []byte{','}) + 1
	return fmt.Errorf("want 3 fields date,symbol,close, got %d", n)
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return trim(b[1 : len(b)-1])
	}
	return b
}

type numStatus int

const (
	numOK numStatus = iota
	numSyntax
	numNotPositive
	numTooManyDigits
	numOutOfRange
)

// Bounds of a close's text: checked before and while it is parsed, so that a
// hostile file costs no big-integer arithmetic downstream (1e999999 would).
const (
	maxCloseLen      = 64
	maxCloseExponent = 40
)

// parseNumber reads a decimal "[+-]digits[.digits][(e|E)[+-]digits]" exactly as
// mant × 10^exp with mant > 0, mant ≤ MaxInt64 and no trailing zeros in mant.
// Zero and negative numbers are numNotPositive.
func parseNumber(b []byte) (mant uint64, exp int, st numStatus) {
	i, neg := 0, false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var (
		m       uint64
		zeros   int // zero digits seen since the last non-zero digit, not yet in m
		frac    int // digits after the point
		digits  int
		dot     bool
		tooMany bool
	)
	for ; i < len(b); i++ {
		ch := b[i]
		if ch == '.' {
			if dot {
				return 0, 0, numSyntax
			}
			dot = true
			continue
		}
		if ch < '0' || ch > '9' {
			break
		}
		digits++
		if dot {
			frac++
		}
		if ch == '0' {
			zeros++
			continue
		}
		d := uint64(ch - '0')
		if m == 0 {
			m, zeros = d, 0
			continue
		}
		k := zeros + 1
		if k >= len(pow10u) || m > (math.MaxInt64-d)/pow10u[k] {
			tooMany = true // keep scanning: a syntax error wins
			zeros = 0
			continue
		}
		m = m*pow10u[k] + d
		zeros = 0
	}
	if digits == 0 {
		return 0, 0, numSyntax
	}
	e := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		start := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e < 1_000_000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == start {
			return 0, 0, numSyntax
		}
		if eneg {
			e = -e
		}
	}
	if i != len(b) {
		return 0, 0, numSyntax
	}
	if m == 0 || neg {
		return 0, 0, numNotPositive
	}
	if tooMany {
		return 0, 0, numTooManyDigits
	}
	if exp := zeros - frac + e; exp > maxCloseExponent || exp < -maxCloseExponent {
		return 0, 0, numOutOfRange
	}
	return m, zeros - frac + e, numOK
}
