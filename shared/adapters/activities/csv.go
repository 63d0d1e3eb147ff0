package activities

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// csvColumns maps header names (lower case) to fields: Ghostfolio's CSV import
// aliases (apps/client/src/app/services/import-activities.service.ts) plus ours.
var csvColumns = map[string]field{
	"date": fDate, "tradedate": fDate,
	"code": fSymbol, "symbol": fSymbol, "ticker": fSymbol,
	"ccy": fCurrency, "currency": fCurrency, "currencyprimary": fCurrency,
	"price": fUnitPrice, "tradeprice": fUnitPrice, "unitprice": fUnitPrice, "value": fUnitPrice,
	"qty": fQuantity, "quantity": fQuantity, "shares": fQuantity, "units": fQuantity,
	"action": fType, "buy/sell": fType, "type": fType,
	"commission": fFee, "fee": fFee, "ibcommission": fFee,
	"amount": fAmount, "tax": fTax, "id": fID, "note": fNote, "ratio": fRatio,
	"fxrate": fFXRate, "toamount": fToAmount, "tocurrency": fToCurrency,
}

// csvAbsolute are the columns Ghostfolio reads as absolute values (brokers write
// sells with a negative quantity, fees as negative amounts).
const csvAbsolute = fQuantity | fUnitPrice | fFee

const csvHeaderHint = "e.g. Date,Code,DataSource,Currency,Price,Quantity,Action,Fee"

// ParseCSV reads a Ghostfolio-style CSV activity file (see the package doc). The
// delimiter is a comma, or a semicolon when the header has more semicolons than
// commas. source names the file in error messages.
func ParseCSV(r io.Reader, source string) (*Result, error) {
	return parseCSV(r, source, func(*builder) {})
}

// ParseAllCSV reads a CSV activity file as ParseCSV does, but past a row's
// error, as ParseAll does for JSON: a row that is not valid CSV is refused too
// (the reader resumes on the next line), and only the header, a read error
// and more than maxActivities rows (ErrTooManyActivities; 0: no bound) end it.
func ParseAllCSV(r io.Reader, source string, maxActivities int) (*Result, error) {
	return parseCSV(r, source, func(b *builder) { b.keepGoing, b.maxActivities = true, maxActivities })
}

func parseCSV(r io.Reader, source string, mode func(*builder)) (*Result, error) {
	fail := func(line int, format string, args ...any) *Error {
		return &Error{File: source, Index: -1, Line: line, Err: fmt.Errorf(format, args...)}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4096)
	head = bytes.TrimPrefix(head, []byte("\uFEFF"))
	if nl := bytes.IndexByte(head, '\n'); nl >= 0 {
		head = head[:nl]
	}
	cr := csv.NewReader(br)
	if bytes.Count(head, []byte(";")) > bytes.Count(head, []byte(",")) {
		cr.Comma = ';'
	}
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // checked below, with a better message

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &Error{File: source, Index: -1, Err: fmt.Errorf("empty file: want a CSV header (%s)", csvHeaderHint)}
	}
	if err != nil {
		return nil, csvError(source, -1, 0, err)
	}
	cols := make([]field, len(header))
	var have field
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\uFEFF")
		}
		f := csvColumns[strings.ToLower(strings.TrimSpace(name))]
		if f != 0 && have&f != 0 {
			return nil, fail(1, "two columns give %q (the second is %q)", f.String(), name)
		}
		have |= f
		cols[i] = f
	}
	for _, f := range []field{fDate, fType, fCurrency} {
		if have&f == 0 {
			return nil, fail(1, "no %q column in the header (%s)", f.String(), csvHeaderHint)
		}
	}

	b := newBuilder(source, sizeHint(r)/bytesPerActivity)
	mode(b)
	var rec record
	for index := 0; ; index++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return b.result(), nil
		}
		var pe *csv.ParseError
		if err != nil && errors.As(err, &pe) && b.keepGoing {
			if err := b.admit(index, pe.StartLine); err != nil {
				return nil, err
			}
			located := csvError(source, index, 0, err)
			if err := b.reject(index, located.Line, located.Err); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, csvError(source, index, 0, err)
		}
		line, _ := cr.FieldPos(0)
		if err := b.admit(index, line); err != nil {
			return nil, err
		}
		if len(row) != len(header) {
			if err := b.reject(index, line, fmt.Errorf("%d fields, but the header has %d", len(row), len(header))); err != nil {
				return nil, err
			}
			continue
		}
		rec = record{}
		if err := b.csvRecord(&rec, cols, row); err != nil {
			if err := b.reject(index, line, err); err != nil {
				return nil, err
			}
			continue
		}
		if err := b.add(&rec, index, line); err != nil {
			return nil, err
		}
	}
}

// csvError reports a CSV syntax or read error.
func csvError(source string, index, line int, err error) *Error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if index >= 0 {
			return &Error{File: source, Index: index, Line: pe.StartLine, Err: tagged(err, "invalid CSV at line %d: %v", pe.Line, pe.Err)}
		}
		return &Error{File: source, Index: -1, Line: pe.Line, Err: tagged(err, "invalid CSV: %v", pe.Err)}
	}
	return &Error{File: source, Index: -1, Line: line, Err: tagged(err, "read failed: %v", err)}
}

// csvRecord fills rec from one row. Empty cells are absent.
func (b *builder) csvRecord(rec *record, cols []field, row []string) error {
	for i, f := range cols {
		if f == 0 {
			continue
		}
		v := strings.TrimSpace(row[i])
		if v == "" {
			continue
		}
		switch f {
		case fQuantity, fUnitPrice, fFee, fAmount, fTax, fFXRate, fToAmount:
			text := []byte(v)
			if f&csvAbsolute != 0 && len(text) > 1 && text[0] == '-' {
				text = text[1:]
			}
			d, neg, err := parseDecimal(text, b.decs)
			if err != nil {
				return fieldError(f, "%v", err)
			}
			rec.setNumber(f, d, neg)
		case fDate:
			d, err := calendar.ParseDateOrDateTime(v)
			if err != nil {
				return tagged(err, "%q: %v", f.String(), err)
			}
			rec.date = d
		case fType:
			rec.typ = upperType([]byte(v))
			if rec.typ == Void {
				return fieldError(fType, "VOID is not supported in CSV files")
			}
		case fSymbol:
			rec.symbol = b.intern([]byte(v))
		case fCurrency:
			rec.currency = b.intern([]byte(v))
		case fToCurrency:
			rec.toCurrency = b.intern([]byte(v))
		case fID:
			rec.id = v
		case fNote:
			rec.note = v
		case fRatio:
			rec.ratio = v
		}
		rec.set |= f
	}
	return nil
}
