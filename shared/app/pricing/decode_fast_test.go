package pricing_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// The canonical-layout reader and encoding/json agree: every event Encode writes
// decodes the same as its copy with a space after "{" (which only the strict
// reader takes), and documents off the canonical layout, valid or not, give what
// the strict reader gives.
func TestCanonicalAndStrictDecodeAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	syms := []string{"AAPL", "BRK.B", "7203.T", "ÄKTIE", "A&B", "X<Y>"}
	for i := range 500 {
		q := market.Quote{Symbol: syms[rng.IntN(len(syms))], Price: decimal.New(1+rng.Int64N(1e9), -int32(rng.IntN(8))),
			Volume: decimal.New(rng.Int64N(1e6), 0), Timestamp: time.Unix(1.7e9+rng.Int64N(1e8), rng.Int64N(1e9)).UTC(),
			Source: "simulated"}
		if i%2 == 0 {
			q.Exchange = "XNAS"
		}
		if i%3 == 0 {
			q.PreviousClose = decimal.New(1+rng.Int64N(1e6), -2)
		}
		ev := pricing.FromQuote(q)
		if i%5 == 0 {
			ev.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		}
		b, err := pricing.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		fast, err1 := pricing.Decode(b)
		strict, err2 := pricing.Decode([]byte("{ " + string(b[1:])))
		if err1 != nil || err2 != nil || !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%s:\n fast   %+v %v\n strict %+v %v", b, fast, err1, strict, err2)
		}
		if fast.Traceparent != ev.Traceparent {
			t.Fatalf("%s: traceparent read back as %q", b, fast.Traceparent)
		}
	}
	good := `{"eventId":"e","eventType":"MarketDataUpdated","schemaVersion":1,"symbol":"AAPL","price":"1.5","volume":"1","timestamp":"2026-01-02T15:04:05Z","source":"s"}`
	for name, doc := range map[string]string{
		"escaped symbol":      strings.Replace(good, `"AAPL"`, `"AA\u0050L"`, 1),
		"keys reordered":      strings.Replace(good, `"symbol":"AAPL","price":"1.5"`, `"price":"1.5","symbol":"AAPL"`, 1),
		"leading zero":        strings.Replace(good, `"schemaVersion":1`, `"schemaVersion":01`, 1),
		"version 2":           strings.Replace(good, `"schemaVersion":1`, `"schemaVersion":2`, 1),
		"trailing space":      good + " ",
		"trailing object":     good + "{}",
		"truncated":           good[:len(good)-1],
		"duplicate source":    strings.Replace(good, `"source":"s"}`, `"source":"s","source":"t"}`, 1),
		"control character":   strings.Replace(good, `"AAPL"`, "\"AA\tPL\"", 1),
		"bad utf-8":           strings.Replace(good, `"AAPL"`, "\"AA\xffPL\"", 1),
		"empty exchange":      strings.Replace(good, `,"source"`, `,"exchange":"","source"`, 1),
		"previousClose first": strings.Replace(good, `{"eventId"`, `{"previousClose":"1","eventId"`, 1),
		"unknown field":       strings.Replace(good, `}`, `,"x":1}`, 1),
		"traceparent":         strings.Replace(good, `}`, `,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`, 1),
		"traceparent first":   strings.Replace(good, `{"eventId"`, `{"traceparent":"x","eventId"`, 1),
		"traceparent number":  strings.Replace(good, `}`, `,"traceparent":1}`, 1),
	} {
		got, err := pricing.Decode([]byte(doc))
		// The same document through the strict reader only: a space after "{".
		want, werr := pricing.Decode([]byte("{ " + doc[1:]))
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v; strict %+v %v", name, got, err, want, werr)
		}
		var de *pricing.DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Errorf("%s: %v is not a DecodeError", name, err)
		}
	}
}

// A Decoder decodes as Decode does, and the records carrying the previous
// record's traceparent share its string (one copy for a publisher's batch).
func TestDecoderSharesARepeatedTraceparent(t *testing.T) {
	tps := []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	var dec pricing.Decoder
	var got []pricing.MarketDataUpdated
	for i, tp := range tps {
		ev := pricing.FromQuote(market.Quote{Symbol: "AAPL", Price: decimal.New(int64(100+i), 0), Volume: decimal.New(1, 0),
			Timestamp: time.Unix(1.7e9+int64(i), 0).UTC(), Source: "simulated"})
		ev.Traceparent = tp
		b, err := pricing.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		d, err := dec.Decode(b)
		want, werr := pricing.Decode(b)
		if err != nil || werr != nil || !reflect.DeepEqual(d, want) {
			t.Fatalf("record %d: Decoder %+v (%v), Decode %+v (%v)", i, d, err, want, werr)
		}
		got = append(got, d)
	}
	if unsafe.StringData(got[0].Traceparent) != unsafe.StringData(got[1].Traceparent) {
		t.Error("the repeated traceparent is a copy")
	}
}
