package marketdata

import (
	"strings"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// ErrorKind and MarketDataError are market.ErrorKind and market.MarketDataError:
// every failure this package returns is a *MarketDataError, and the same value,
// marshalled to JSON, is the event of the "MarketDataError" log line.
type (
	ErrorKind       = market.ErrorKind
	MarketDataError = market.MarketDataError
)

// The kinds (market.Kind…).
const (
	KindRateLimited = market.KindRateLimited
	KindHTTPStatus  = market.KindHTTPStatus
	KindMalformed   = market.KindMalformed
	KindTimeout     = market.KindTimeout
	KindNotFound    = market.KindNotFound
	KindUpstream    = market.KindUpstream
)

// maxMessageLen bounds Message: an HTML error page is summarised, not carried whole.
const maxMessageLen = 240

// snippet turns a response body (or any provider text) into a short, single-line,
// valid UTF-8 message: tags dropped, whitespace collapsed, secrets removed.
func snippet(body []byte, secrets ...string) string {
	s := string(body)
	if len(s) > 8*maxMessageLen {
		s = s[:8*maxMessageLen]
	}
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	inTag, space := false, false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			continue
		case r == '>' && inTag:
			inTag = false
			space = true
			continue
		case inTag:
			continue
		case r == ' ' || r == '\n' || r == '\r' || r == '\t':
			space = true
			continue
		case r < 0x20 || r == utf8.RuneError:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return truncate(redact(b.String(), secrets...))
}

func truncate(s string) string {
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redact removes every non-empty secret from s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
