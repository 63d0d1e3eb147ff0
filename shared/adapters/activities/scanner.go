package activities

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a streaming JSON tokenizer over an io.Reader. It keeps one fixed
// buffer (so memory does not grow with the file), counts lines as it goes (so every
// error can name one), and decodes only what the parser asks for: strings and
// numbers of known keys are copied into tok, everything else is validated and
// skipped. encoding/json would be simpler but allocates a value per field and runs
// several times slower; see BenchmarkParseActivities.
type scanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	line     int // line of buf[pos], 1-based
	eof      bool
	readErr  error
	tok      []byte // the last string (decoded) or number (raw text) read
	own      []byte // tok's own storage, when it cannot point into buf
	stalls   int
	maxDepth int
}

const (
	bufSize = 64 << 10
	// maxString bounds a decoded string value of a known key, maxNumber a number's
	// text: anything longer is not a value a broker writes.
	maxString = 4096
	maxNumber = 256
	maxDepth  = 256
)

// syntaxError is a JSON syntax error or an unexpected end of input.
type syntaxError struct {
	line      int
	msg       string
	truncated bool // the input ended early
	read      bool // the reader failed
}

func (e *syntaxError) Error() string { return e.msg }

// newScanner reads r with a buffer of bufSize, or less when the input is known
// (sizeHint > 0) to be smaller.
func newScanner(r io.Reader, sizeHint int) *scanner {
	n := bufSize
	if sizeHint > 0 {
		n = min(max(sizeHint+1, 512), bufSize)
	}
	return &scanner{r: r, buf: make([]byte, n), line: 1, maxDepth: maxDepth}
}

// fill reads the next chunk. It returns false at the end of input or on a read error.
func (s *scanner) fill() bool {
	for !s.eof {
		n, err := s.r.Read(s.buf)
		s.pos, s.end = 0, n
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.readErr = err
				return false
			}
		}
		if n > 0 {
			return true
		}
		if s.stalls++; s.stalls > 100 {
			s.readErr = io.ErrNoProgress
			s.eof = true
		}
	}
	return false
}

func (s *scanner) errf(format string, args ...any) *syntaxError {
	return &syntaxError{line: s.line, msg: fmt.Sprintf(format, args...)}
}

// endErr is the error for input that ended (or failed) where more was expected.
func (s *scanner) endErr(where string) *syntaxError {
	if s.readErr != nil {
		return &syntaxError{line: s.line, msg: fmt.Sprintf("read failed: %v", s.readErr), read: true}
	}
	return &syntaxError{line: s.line, msg: "truncated JSON: the file ends " + where, truncated: true}
}

// peek skips white space and returns the next byte without consuming it.
func (s *scanner) peek() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\r':
				s.pos++
			case '\n':
				s.line++
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// skipBOM skips a UTF-8 byte order mark at the start, as some Windows editors write.
func (s *scanner) skipBOM() {
	if s.ensure(3) && s.buf[s.pos] == 0xEF && s.buf[s.pos+1] == 0xBB && s.buf[s.pos+2] == 0xBF {
		s.pos += 3
	}
}

// ensure makes at least n unread bytes available in buf if the input has them.
func (s *scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if s.eof {
			return false
		}
		copy(s.buf, s.buf[s.pos:s.end])
		s.end -= s.pos
		s.pos = 0
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.readErr = err
			}
		}
		if m == 0 && !s.eof {
			if s.stalls++; s.stalls > 100 {
				s.readErr = io.ErrNoProgress
				s.eof = true
			}
		}
	}
	return true
}

// next consumes and returns the next byte, white space included.
func (s *scanner) next() (byte, bool) {
	if s.pos >= s.end && !s.fill() {
		return 0, false
	}
	c := s.buf[s.pos]
	s.pos++
	return c, true
}

// describe names a byte for an error message.
func describe(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("%q", rune(c))
	default:
		return fmt.Sprintf("byte 0x%02X", c)
	}
}

// kind is the type of a JSON value.
type kind uint8

const (
	kString kind = iota + 1
	kNumber
	kBool
	kNull
	kObject
	kArray
)

func (k kind) String() string {
	switch k {
	case kString:
		return "a string"
	case kNumber:
		return "a number"
	case kBool:
		return "a boolean"
	case kNull:
		return "null"
	case kObject:
		return "an object"
	case kArray:
		return "an array"
	}
	return "nothing"
}

// value reads the start of the next value. Scalars are consumed whole (a string's
// decoded content, or a number's text, is left in tok when keep is set); for objects
// and arrays only the opening bracket is consumed.
func (s *scanner) value(keep bool, where string) (kind, error) {
	c, ok := s.peek()
	if !ok {
		return 0, s.endErr(where)
	}
	switch {
	case c == '"':
		s.pos++
		return kString, s.str(keep)
	case c == '-' || (c >= '0' && c <= '9'):
		return kNumber, s.number()
	case c == '{':
		s.pos++
		return kObject, nil
	case c == '[':
		s.pos++
		return kArray, nil
	case c == 't':
		return kBool, s.literal("true", where)
	case c == 'f':
		return kBool, s.literal("false", where)
	case c == 'n':
		return kNull, s.literal("null", where)
	}
	return 0, s.errf("expected a value, found %s", describe(c))
}

func (s *scanner) literal(lit, where string) error {
	for i := 0; i < len(lit); i++ {
		c, ok := s.next()
		if !ok {
			return s.endErr(where)
		}
		if c != lit[i] {
			return s.errf("invalid literal (expected %q)", lit)
		}
	}
	return nil
}

// number reads a number's text into tok. Its grammar is checked by parseDecimal
// (for values the parser uses) or checkNumber (for skipped ones).
func (s *scanner) number() error {
	s.tok = s.own[:0]
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
				s.own = s.tok[:0]
				return nil
			}
			if len(s.tok) >= maxNumber {
				return s.errf("number has more than %d characters", maxNumber)
			}
			s.tok = append(s.tok, c)
			s.pos++
		}
		s.own = s.tok[:0]
		if !s.fill() {
			if s.readErr != nil {
				return s.endErr("")
			}
			return nil
		}
	}
}

// str reads a string after its opening quote. With keep it decodes the content into
// tok; without, it only validates.
func (s *scanner) str(keep bool) error {
	s.tok = s.tok[:0]
	// Fast path: the whole string, without escapes, is in the buffer; tok points
	// into it (valid until the next read).
	for i := s.pos; i < s.end; i++ {
		c := s.buf[i]
		if c == '"' {
			if keep && i-s.pos > maxString {
				return s.errf("string is longer than %d bytes", maxString)
			}
			s.tok = s.buf[s.pos:i:i]
			s.pos = i + 1
			return nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	s.tok = s.own[:0]
	for {
		start := s.pos
		for s.pos < s.end {
			c := s.buf[s.pos]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			s.pos++
		}
		if keep {
			if len(s.tok)+s.pos-start > maxString {
				return s.errf("string is longer than %d bytes", maxString)
			}
			s.tok = append(s.tok, s.buf[start:s.pos]...)
		}
		if s.pos >= s.end {
			if !s.fill() {
				return s.endErr("inside a string")
			}
			continue
		}
		c := s.buf[s.pos]
		s.pos++
		switch {
		case c == '"':
			s.own = s.tok[:0]
			return nil
		case c < 0x20:
			return s.errf("control character 0x%02X inside a string (escape it)", c)
		}
		if err := s.escape(keep); err != nil {
			return err
		}
	}
}

func (s *scanner) escape(keep bool) error {
	c, ok := s.next()
	if !ok {
		return s.endErr("inside a string")
	}
	var r rune
	switch c {
	case '"', '\\', '/':
		r = rune(c)
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		v, err := s.hex4()
		if err != nil {
			return err
		}
		r = v
		if utf16.IsSurrogate(r) {
			// A high surrogate must be followed by \u and a low one; anything else
			// decodes to U+FFFD, as encoding/json does.
			r = utf8.RuneError
			if s.ensure(2) && s.buf[s.pos] == '\\' && s.buf[s.pos+1] == 'u' {
				s.pos += 2
				v2, err := s.hex4()
				if err != nil {
					return err
				}
				if d := utf16.DecodeRune(v, v2); d != utf8.RuneError {
					r = d
				} else if keep {
					s.tok = utf8.AppendRune(s.tok, utf8.RuneError)
					r = v2
					if utf16.IsSurrogate(r) {
						r = utf8.RuneError
					}
				}
			}
		}
	default:
		return s.errf("invalid escape \\%s in a string", describeEscape(c))
	}
	if keep {
		if len(s.tok)+utf8.UTFMax > maxString {
			return s.errf("string is longer than %d bytes", maxString)
		}
		s.tok = utf8.AppendRune(s.tok, r)
	}
	return nil
}

func describeEscape(c byte) string {
	if c > 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("x%02X", c)
}

func (s *scanner) hex4() (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		c, ok := s.next()
		if !ok {
			return 0, s.endErr("inside a string")
		}
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, s.errf("invalid \\u escape in a string")
		}
	}
	return r, nil
}

// objectKey advances to the next key of an object whose '{' has been consumed and
// reads it into tok; it consumes the ':' too. done reports the closing '}'.
func (s *scanner) objectKey(first bool, where string) (done bool, err error) {
	c, ok := s.peek()
	if !ok {
		return false, s.endErr(where)
	}
	if c == '}' {
		s.pos++
		return true, nil
	}
	if !first {
		if c != ',' {
			return false, s.errf("expected ',' or '}' after an object member, found %s", describe(c))
		}
		s.pos++
		if c, ok = s.peek(); !ok {
			return false, s.endErr(where)
		}
	}
	if c != '"' {
		if c == '}' {
			return false, s.errf("trailing comma before '}'")
		}
		return false, s.errf("expected a string key, found %s", describe(c))
	}
	s.pos++
	if err := s.str(true); err != nil {
		return false, err
	}
	// The key may point into buf, which finding the ':' can refill: own it.
	s.tok = append(s.own[:0], s.tok...)
	s.own = s.tok[:0]
	if c, ok = s.peek(); !ok {
		return false, s.endErr(where)
	}
	if c != ':' {
		return false, s.errf("expected ':' after an object key, found %s", describe(c))
	}
	s.pos++
	return false, nil
}

// arrayNext advances to the next element of an array whose '[' has been consumed.
// done reports the closing ']'.
func (s *scanner) arrayNext(first bool, where string) (done bool, err error) {
	c, ok := s.peek()
	if !ok {
		return false, s.endErr(where)
	}
	if c == ']' {
		s.pos++
		return true, nil
	}
	if !first {
		if c != ',' {
			return false, s.errf("expected ',' or ']' after an array element, found %s", describe(c))
		}
		s.pos++
		if c, ok = s.peek(); !ok {
			return false, s.endErr(where)
		}
		if c == ']' {
			return false, s.errf("trailing comma before ']'")
		}
	}
	return false, nil
}

// skip validates and discards the rest of a value whose start value() returned.
func (s *scanner) skip(k kind, depth int, where string) error {
	switch k {
	case kNumber:
		if !checkNumber(s.tok) {
			return s.errf("invalid number %s", quote(s.tok))
		}
	case kObject:
		if depth >= s.maxDepth {
			return s.errf("nesting deeper than %d levels", s.maxDepth)
		}
		for first := true; ; first = false {
			done, err := s.objectKey(first, where)
			if err != nil || done {
				return err
			}
			k, err := s.value(false, where)
			if err != nil {
				return err
			}
			if err := s.skip(k, depth+1, where); err != nil {
				return err
			}
		}
	case kArray:
		if depth >= s.maxDepth {
			return s.errf("nesting deeper than %d levels", s.maxDepth)
		}
		for first := true; ; first = false {
			done, err := s.arrayNext(first, where)
			if err != nil || done {
				return err
			}
			k, err := s.value(false, where)
			if err != nil {
				return err
			}
			if err := s.skip(k, depth+1, where); err != nil {
				return err
			}
		}
	}
	return nil
}

// quote renders user text for an error message: quoted, and cut short if long.
func quote(b []byte) string {
	const max = 40
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
