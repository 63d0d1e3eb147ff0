package marketdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// DefaultFinnhubBaseURL is Finnhub's public REST API.
const DefaultFinnhubBaseURL = "https://finnhub.io/api/v1"

// Finnhub is the REST quote client: GET {base}/quote?symbol=S, the key sent in the
// X-Finnhub-Token header (so it is in no URL, log or error).
//
// The documented answer is {"c","d","dp","h","l","o","pc","t"}: current price,
// change, percent change, day high, low, open, previous close, and the quote time in
// Unix seconds. A symbol Finnhub does not know answers 200 with every field 0 (d and
// dp null): that is KindNotFound. {"error": "..."} bodies and HTTP 429 are failures
// ("API limit reached" with 429 is KindRateLimited).
type Finnhub struct{ c restClient }

// NewFinnhub returns a client; opts.BaseURL defaults to DefaultFinnhubBaseURL.
func NewFinnhub(opts ClientOptions) *Finnhub {
	return &Finnhub{c: restClient{provider: SourceFinnhub, opts: opts.withDefaults(DefaultFinnhubBaseURL), errorText: finnhubErrorText}}
}

// Name implements QuoteProvider.
func (f *Finnhub) Name() string { return SourceFinnhub }

// Quote implements QuoteProvider. A currency pair is asked as Finnhub's forex
// symbol (OANDA:EUR_USD; whether free keys get it is unconfirmed) and answered
// under ours.
func (f *Finnhub) Quote(ctx context.Context, symbol string) (Quote, error) {
	if err := checkSymbol(symbol); err != nil {
		return Quote{}, f.c.newError(symbol, KindNotFound, 0, err.Error(), nil)
	}
	u, err := url.Parse(f.c.opts.BaseURL + "/quote")
	if err != nil {
		return Quote{}, f.c.newError(symbol, KindUpstream, 0, "bad base URL: "+errText(err), err)
	}
	u.RawQuery = url.Values{"symbol": {ProviderSymbol(SourceFinnhub, symbol)}}.Encode()
	h := http.Header{}
	if f.c.opts.APIKey != "" {
		h.Set("X-Finnhub-Token", f.c.opts.APIKey)
	}
	body, mdErr := f.c.get(ctx, symbol, u, h)
	if mdErr != nil {
		return Quote{}, mdErr
	}
	q, mdErr := parseFinnhubQuote(body, symbol)
	if mdErr != nil {
		mdErr.Provider, mdErr.Symbol, mdErr.At = SourceFinnhub, symbol, f.c.opts.Now().UTC()
		mdErr.Message = redact(mdErr.Message, f.c.opts.APIKey)
		return Quote{}, mdErr
	}
	return q, nil
}

func checkSymbol(s string) error {
	if s == "" || len(s) > MaxSymbolLen || strings.ContainsAny(s, " \t\r\n/?#") {
		return &MarketDataError{Kind: KindNotFound, Message: "invalid symbol " + truncate(strings.ToValidUTF8(s, ""))}
	}
	return nil
}

type finnhubQuoteBody struct {
	C     json.Number  `json:"c"`
	D     *json.Number `json:"d"`
	DP    *json.Number `json:"dp"`
	H     json.Number  `json:"h"`
	L     json.Number  `json:"l"`
	O     json.Number  `json:"o"`
	PC    json.Number  `json:"pc"`
	T     json.Number  `json:"t"`
	Error *string      `json:"error"`
}

// parseFinnhubQuote turns a 2xx /quote body into a Quote. The returned error has
// Kind and Message set; the caller fills in provider, symbol and time.
func parseFinnhubQuote(body []byte, symbol string) (Quote, *MarketDataError) {
	var b finnhubQuoteBody
	if err := decodeStrict(body, &b); err != nil {
		return Quote{}, malformed("quote body: " + err.Error() + ": " + snippet(body))
	}
	if b.Error != nil {
		msg := snippet([]byte(*b.Error))
		if strings.Contains(strings.ToLower(msg), "limit") {
			return Quote{}, &MarketDataError{Kind: KindRateLimited, Message: msg, RetryAfter: time.Minute}
		}
		return Quote{}, &MarketDataError{Kind: KindUpstream, Message: msg}
	}
	if b.C == "" {
		return Quote{}, malformed("quote body has no current price \"c\"")
	}
	price, err := numberDecimal(b.C)
	if err != nil {
		return Quote{}, malformed("current price: " + err.Error())
	}
	var ts int64
	if b.T != "" {
		if ts, err = numberInt64(b.T); err != nil {
			return Quote{}, malformed("timestamp: " + err.Error())
		}
	}
	if price.IsZero() && ts == 0 {
		return Quote{}, &MarketDataError{Kind: KindNotFound, Message: "no quote for symbol (all fields zero)"}
	}
	if !price.IsPositive() {
		return Quote{}, malformed("current price " + price.String() + " is not positive")
	}
	if ts <= 0 || ts > maxUnixSeconds {
		return Quote{}, malformed("quote time is missing or out of range")
	}
	q := Quote{Symbol: symbol, Price: price, Volume: decimal.Zero, Timestamp: time.Unix(ts, 0).UTC(), Source: SourceFinnhub}
	if b.PC != "" {
		pc, err := numberDecimal(b.PC)
		if err != nil || pc.IsNegative() {
			return Quote{}, malformed("previous close is not a non-negative number")
		}
		q.PreviousClose = pc
	}
	return q, nil
}

// maxUnixSeconds is 9999-12-31: later "timestamps" are garbage.
const maxUnixSeconds = 253402300799

func malformed(msg string) *MarketDataError {
	return &MarketDataError{Kind: KindMalformed, Message: truncate(msg)}
}

// decodeStrict decodes one JSON value (numbers kept as text) and rejects trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("trailing data after the JSON value")

func finnhubErrorText(body []byte) string {
	var b struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error != "" {
		return snippet([]byte(b.Error))
	}
	return ""
}
