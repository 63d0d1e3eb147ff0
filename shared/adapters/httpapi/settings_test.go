package httpapi_test

import (
	"testing"
)

func TestSettingsCommand(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-settings")
	p := "/portfolios/" + id + "/settings"

	// One field: the others keep their defaults.
	r := a.do(alice, "PUT", p, `{"benchmark":" VTI "}`, "Idempotency-Key", "set-1")
	a.expect(r, 200, "")
	if d := r.data(); d["benchmark"] != "VTI" || d["wholeShares"] != false || d["minTradeValue"] != "0" || r.headers["Etag"] != `"2"` || r.body["replayed"] != false {
		t.Fatalf("set answered %s", r.raw)
	}
	// Another field: the benchmark set before is kept.
	r = a.do(alice, "PUT", p, `{"wholeShares":true,"minTradeValue":"50.00"}`, "If-Match", `"2"`)
	a.expect(r, 200, "")
	if d := r.data(); d["benchmark"] != "VTI" || d["wholeShares"] != true || d["minTradeValue"] != "50" || r.body["version"] != float64(3) {
		t.Fatalf("second set answered %s", r.raw)
	}
	// A retry of the first command answers its original result and writes nothing.
	again := a.do(alice, "PUT", p, `{"benchmark":" VTI "}`, "Idempotency-Key", "set-1")
	a.expect(again, 200, "")
	if d := again.data(); again.body["replayed"] != true || again.body["version"] != float64(2) || d["wholeShares"] != false {
		t.Fatalf("retry answered %s", again.raw)
	}
	trail := a.do(alice, "GET", "/portfolios/"+id+"/events", "")
	items := trail.body["items"].([]any)
	if len(items) != 3 || items[2].(map[string]any)["eventType"] != "AnalyticsSettingsChanged" {
		t.Fatalf("audit trail %s", trail.raw)
	}

	for _, c := range []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"empty body object", `{}`, nil, 400, "validation_failed"},
		{"unknown field", `{"benchmark":"VTI","currency":"USD"}`, nil, 400, "invalid_json"},
		{"decimal as number", `{"minTradeValue":50}`, nil, 400, "invalid_json"},
		{"wholeShares as string", `{"wholeShares":"yes"}`, nil, 400, "invalid_json"},
		{"empty benchmark", `{"benchmark":"  "}`, nil, 422, "validation_failed"},
		{"benchmark with a space", `{"benchmark":"BRK B"}`, nil, 422, "validation_failed"},
		{"long benchmark", `{"benchmark":"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"}`, nil, 422, "validation_failed"},
		{"negative minimum", `{"minTradeValue":"-1"}`, nil, 422, "validation_failed"},
		{"stale If-Match", `{"benchmark":"SPY"}`, []string{"If-Match", `"2"`}, 409, "version_conflict"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := &api{t: t, handler: a.handler}
			a.expect(a.do(alice, "PUT", p, c.body, c.headers...), c.status, c.code)
		})
	}
	a.expect(a.do(bob, "PUT", p, `{"benchmark":"SPY"}`), 404, "not_found")
	a.expect(a.do(alice, "PUT", "/portfolios/nope/settings", `{"benchmark":"SPY"}`), 404, "not_found")
	a.expect(a.do(alice, "POST", "/portfolios/"+id+"/archive", `{}`), 200, "")
	a.expect(a.do(alice, "PUT", p, `{"benchmark":"SPY"}`), 422, "portfolio_archived")
}

// TestSettingsShownOnThePortfolio: GET /portfolios/{id} shows the defaults, then,
// once the event is projected, the settings the command set.
func TestSettingsShownOnThePortfolio(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "settings-get")
	f.project(id)
	settings := func() map[string]any {
		t.Helper()
		r := f.do(alice, "GET", "/portfolios/"+id, "")
		f.expect(r, 200, "")
		s, _ := r.body["settings"].(map[string]any)
		return s
	}
	if s := settings(); s["benchmark"] != "SPY" || s["wholeShares"] != false || s["minTradeValue"] != "0" {
		t.Fatalf("defaults %v", s)
	}
	f.expect(f.do(alice, "PUT", "/portfolios/"+id+"/settings", `{"benchmark":"VTI","wholeShares":true,"minTradeValue":"50"}`), 200, "")
	f.project(id)
	if s := settings(); s["benchmark"] != "VTI" || s["wholeShares"] != true || s["minTradeValue"] != "50" {
		t.Fatalf("after the command %v", s)
	}
	f.expect(f.do(bob, "PUT", "/portfolios/"+id+"/settings", `{"benchmark":"SPY"}`), 404, "not_found")
}
