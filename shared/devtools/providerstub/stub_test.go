package providerstub_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/providerstub"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// A fault plays for its Times matching calls, for its symbol only, and every
// call is counted, faulted or not.
func TestFaultsAreScriptedAndCounted(t *testing.T) {
	now := time.Date(2024, 6, 14, 15, 0, 0, 0, time.UTC)
	s := providerstub.Start(providerstub.Options{Now: func() time.Time { return now },
		Faults: []providerstub.Fault{{Endpoint: providerstub.FinnhubQuote, Symbol: "AAPL", Kind: providerstub.RateLimited, Times: 2, RetryAfter: 3 * time.Second}}})
	defer s.Close()
	for i, want := range []int{429, 429, 200} {
		status, _, h := get(t, s.FinnhubURL+"/quote?symbol=AAPL")
		if status != want || (want == 429 && h.Get("Retry-After") != "3") {
			t.Errorf("call %d: %d (Retry-After %q), want %d", i, status, h.Get("Retry-After"), want)
		}
	}
	status, body, _ := get(t, s.FinnhubURL+"/quote?symbol=MSFT")
	var q map[string]any
	if status != 200 || json.Unmarshal([]byte(body), &q) != nil || q["c"] == nil || q["t"] == nil {
		t.Errorf("MSFT: %d %s", status, body)
	}
	s.Script(providerstub.Fault{Endpoint: providerstub.AlphaVantageQuote, Kind: providerstub.HTMLError})
	status, body, _ = get(t, s.AlphaVantageURL+"?function=GLOBAL_QUOTE&symbol=IBM&apikey=x")
	if status != http.StatusBadGateway || !strings.Contains(body, "<html>") {
		t.Errorf("HTML fault: %d %s", status, body)
	}
	s.ClearFaults()
	if status, body, _ = get(t, s.AlphaVantageURL+"?function=GLOBAL_QUOTE&symbol=IBM&apikey=x"); status != 200 || !strings.Contains(body, `"05. price"`) {
		t.Errorf("after ClearFaults: %d %s", status, body)
	}
	if s.Calls(providerstub.FinnhubQuote) != 4 || s.Calls(providerstub.AlphaVantageQuote) != 2 || s.TotalCalls() != 6 {
		t.Errorf("calls: quote %d, av %d, total %d", s.Calls(providerstub.FinnhubQuote), s.Calls(providerstub.AlphaVantageQuote), s.TotalCalls())
	}
}

// With a key set, a call without it is refused as each provider refuses it.
func TestKeyIsRequiredWhenSet(t *testing.T) {
	s := providerstub.Start(providerstub.Options{Key: "k"})
	defer s.Close()
	if status, _, _ := get(t, s.FinnhubURL+"/quote?symbol=AAPL"); status != http.StatusUnauthorized {
		t.Errorf("finnhub without token: %d", status)
	}
	if status, _, _ := get(t, s.FinnhubURL+"/quote?symbol=AAPL&token=k"); status != 200 {
		t.Errorf("finnhub with token: %d", status)
	}
	if status, _, _ := get(t, s.PolygonURL+"/v2/aggs/ticker/AAPL/prev?apiKey=k"); status != 200 {
		t.Errorf("polygon with apiKey: %d", status)
	}
	if status, body, _ := get(t, s.AlphaVantageURL+"?function=GLOBAL_QUOTE&symbol=IBM"); status != 200 || !strings.Contains(body, "Error Message") {
		t.Errorf("alpha vantage without apikey: %d %s", status, body)
	}
}
