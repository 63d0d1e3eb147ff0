package notifier

import (
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

func TestEveryKindHasAHeadline(t *testing.T) {
	for _, k := range alerts.Kinds {
		if _, ok := headlines[k]; !ok {
			t.Errorf("alert kind %s has no headline in render.go", k)
		}
	}
}

func TestWeeklySummaryEmail(t *testing.T) {
	r, err := NewRenderer("https://api.example.test", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	// The analytics job's WeeklySummaryMessage, with the richer fields the
	// notifier shows when they are there.
	payload := `{"type":"weekly_summary","day":"2026-06-13","from":"2026-06-06","portfolios":[
	  {"portfolioId":"p1","name":"Retirement","baseCurrency":"EUR","marketValue":"12345.67","valueAtStart":"11000","valueChange":"1345.67",
	   "netFlows":"1000","weekReturn":{"value":0.0123},"twr":{"value":0.2},"volatility":{"value":0.1},
	   "maxDrawdown":{"value":null,"reason":"no history"},"sharpe":{"value":1.1},
	   "best":[{"symbol":"AAPL","weekReturn":0.05,"weight":"0.4"}],"worst":[{"symbol":"MSFT","weekReturn":-0.02,"weight":"0.3"}],
	   "drift":[{"symbol":"AAPL","target":"0.3","actual":"0.4","drift":"0.1","outsideBand":true},
	            {"symbol":"MSFT","target":"0.3","actual":"0.31","drift":"0.01","outsideBand":false}],"driftBand":"0.05"},
	  {"portfolioId":"p2","marketValue":"10","valueChange":"0","netFlows":"0","weekReturn":{"value":null},"twr":{"value":null},
	   "maxDrawdown":{"value":null},"best":[],"worst":[],"drift":[]}],
	 "alerts":[{"firingKey":"u1:r1#1","ruleId":"u1:r1","kind":"drawdown","observed":"0.21","threshold":"0.2","firedAt":"2026-06-10T12:00:00Z"}]}`
	m, err := r.Email([]Delivery{{UserID: "u1", Source: notify.SourceWeeklySummary, Payload: json.RawMessage(payload), DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Your week in Portfolio Tracker, to 2026-06-13" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, part := range []string{html.UnescapeString(m.HTML), m.Text} {
		for _, want := range []string{"after 2026-06-06 to 2026-06-13", "Retirement", "12345.67 EUR", "1345.67 EUR", "1000 EUR", "1.23%", "20.00%",
			"n/a", "AAPL +5.00%", "MSFT -2.00%", "AAPL at 40.00% of the portfolio, target 30.00%", "Portfolio p2",
			"Your portfolio is 20.00% below its peak", "/unsubscribe?token="} {
			if !strings.Contains(part, want) {
				t.Errorf("weekly summary lacks %q:\n%s", want, part)
			}
		}
	}
	if strings.Contains(m.Text, "MSFT at 31.00%") || strings.Count(m.Text, "Put in this week") != 1 {
		t.Errorf("a drift inside the band, or a week without flows, is shown:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, "<table") || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("not the designed HTML, or no one-click header: %v", m.Headers)
	}
}

func TestHTMLIsEscaped(t *testing.T) {
	r, err := NewRenderer("https://api.example.test", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	p := `{"kind":"price_above","symbol":"AAPL","observed":"201","threshold":"200","firedAt":"2026-06-10T12:00:00Z"}`
	m, err := r.Email([]Delivery{{UserID: "u1", Source: notify.SourceAlert, Payload: json.RawMessage(p), DisplayName: "<b>Ada</b>",
		PortfolioName: `<script>x</script>`}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<b>Ada") {
		t.Fatalf("unescaped HTML:\n%s", m.HTML)
	}
}

func TestSMSBodies(t *testing.T) {
	r, err := NewRenderer("https://api.example.test", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	p := `{"kind":"price_below","symbol":"TSLA","observed":"99.5","threshold":"100","firedAt":"2026-06-10T12:00:00Z"}`
	one, err := r.SMS([]Delivery{{Source: notify.SourceAlert, Payload: json.RawMessage(p)}})
	if err != nil || one != "Portfolio Tracker: TSLA fell below 100 (99.5)" {
		t.Fatalf("one alert: %q %v", one, err)
	}
	two, err := r.SMS([]Delivery{{Source: notify.SourceAlert, Payload: json.RawMessage(p)}, {Source: notify.SourceAlert, Payload: json.RawMessage(p)}})
	if err != nil || !strings.HasPrefix(two, "Portfolio Tracker: 2 alerts while you were away: TSLA fell below 100; TSLA") {
		t.Fatalf("digest: %q %v", two, err)
	}
	if _, err := r.SMS([]Delivery{{Source: notify.SourcePhoneCode, Payload: json.RawMessage(`{"phone":"+1"}`)}}); err == nil {
		t.Fatal("a phone code without its code was rendered")
	}
}

func TestAnSMSDigestOfAHundredAlertsFitsTwoSegments(t *testing.T) {
	r, err := NewRenderer("https://api.example.test", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	var ds []Delivery
	for i := range 100 {
		p := fmt.Sprintf(`{"kind":"price_below","symbol":"SYM%d","observed":"99.5","threshold":"100","firedAt":"2026-06-10T12:00:00Z"}`, i)
		ds = append(ds, Delivery{Source: notify.SourceAlert, Payload: json.RawMessage(p)})
	}
	body, err := r.SMS(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := "Portfolio Tracker: 100 alerts while you were away: SYM0 fell below 100; SYM1 fell below 100; SYM2 fell below 100; and 97 more: see the app"
	if body != want {
		t.Fatalf("digest SMS %q, want %q", body, want)
	}
	// Whatever the names, no message exceeds two segments.
	long := strings.Repeat("A", 400)
	if got := CapSMS(long); len(got) != 306 || !strings.HasSuffix(got, "...") {
		t.Fatalf("a long GSM message is %d characters", len(got))
	}
	if got := []rune(CapSMS(strings.Repeat("名", 200))); len(got) != 134 {
		t.Fatalf("a long UCS-2 message is %d characters", len(got))
	}
	if got := CapSMS("short {ok}"); got != "short {ok}" {
		t.Fatalf("a short message changed: %q", got)
	}
}
