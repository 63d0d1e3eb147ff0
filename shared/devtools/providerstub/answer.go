package providerstub

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// badGatewayHTML is what a proxy in front of a provider answers when it is down.
const badGatewayHTML = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>`

// num writes a decimal as a bare JSON number, exactly.
func num(d decimal.Decimal) json.Number { return json.Number(d.String()) }

// reply writes v as JSON with status; a Truncated fault cuts the body in half.
func reply(w http.ResponseWriter, status int, v any, f *Fault) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if f != nil && f.Kind == Truncated {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// html answers the 502 page.
func html(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte(badGatewayHTML))
}

// tooMany answers 429 with Retry-After and the provider's body.
func tooMany(w http.ResponseWriter, f *Fault, body any) {
	after := f.RetryAfter
	if after <= 0 {
		after = time.Second
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	reply(w, http.StatusTooManyRequests, body, nil)
}

// today is the simulated sources' current day (their anchor is UTC).
func (s *Server) today() calendar.Date { return calendar.FromTime(s.opts.Now().UTC()) }

// previousClose is symbol's last simulated close before today.
func (s *Server) previousClose(symbol string) (decimal.Decimal, calendar.Date, bool) {
	bars, err := s.bars.DailyBars(context.Background(), symbol, s.today().AddDays(-10), s.today().AddDays(-1))
	if err != nil || len(bars) == 0 {
		return decimal.Decimal{}, 0, false
	}
	last := bars[len(bars)-1]
	return last.Close, last.Date, true
}
