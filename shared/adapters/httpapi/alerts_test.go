package httpapi_test

import (
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

const (
	alertUserA = "0a0a0a0a-0000-4000-8000-00000000000a"
	alertUserB = "0b0b0b0b-0000-4000-8000-00000000000b"
)

// newAlertsAPI serves the alert routes over the in-memory stores, as the api
// function does without commands (ownership from the read models); user A's
// portfolio p1 is projected from the events that create it. It returns the
// alert store too, to record firings the way the prices consumer does.
func newAlertsAPI(t *testing.T) (*api, *memstore.Alerts) {
	t.Helper()
	reads := memquery.New()
	if err := reads.Apply(t.Context(), rmtest.NewHistory(t, "p1", alertUserA, portfolio.FIFO).Events); err != nil {
		t.Fatal(err)
	}
	store := memstore.NewAlerts(reads)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{Alerts: store, Queries: reads, Logger: quiet})
	return &api{t: t, handler: httplambda.Handler(srv)}, store
}

func (r response) expect(t *testing.T, status int, what string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.raw)
	}
	return r
}

func items(r response) []map[string]any {
	raw, _ := r.body["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func TestAlertRulesAPI(t *testing.T) {
	t.Parallel()
	a, store := newAlertsAPI(t)

	created := a.do(alertUserA, "POST", "/alerts", `{"kind":"price_above","symbol":"AAPL","threshold":"200","cooldown":"1h"}`).expect(t, 201, "create")
	id, _ := created.body["id"].(string)
	if id == "" || created.body["threshold"] != "200" || created.body["cooldown"] != "1h0m0s" || created.body["userId"] != nil || created.body["createdAt"] == nil {
		t.Fatalf("created %s", created.raw)
	}
	if created.headers["Location"] != "/alerts/"+id && created.headers["location"] != "/alerts/"+id {
		t.Errorf("location %v", created.headers)
	}
	a.do(alertUserA, "POST", "/alerts", `{"id":"drift","kind":"weight_drift","portfolioId":"p1","symbol":"MSFT","targetWeight":"0.5","threshold":"0.05"}`).expect(t, 201, "create drift")
	a.do(alertUserB, "POST", "/alerts", `{"id":"b-move","kind":"percent_move","symbol":"MSFT","threshold":"0.05","direction":"down"}`).expect(t, 201, "create B")

	for _, c := range []struct{ body, code, field string }{
		{`{"kind":"price_above","symbol":"AAPL","threshold":"-1"}`, "validation_failed", "threshold"},
		{`{"kind":"price_above","symbol":"AAPL","threshold":200}`, "", ""},
		{`{"kind":"price_above","symbol":"AAPL","threshold":"abc"}`, "validation_failed", "threshold"},
		{`{"kind":"nope","symbol":"AAPL","threshold":"1"}`, "validation_failed", "kind"},
		{`{"kind":"price_above","threshold":"1"}`, "validation_failed", "symbol"},
		{`{"kind":"value_drop","portfolioId":"p1","threshold":"0.1","window":"soon"}`, "validation_failed", "window"},
	} {
		res := a.do(alertUserA, "POST", "/alerts", c.body)
		if c.code == "" {
			if res.status != 400 {
				t.Errorf("%s: %d %s", c.body, res.status, res.raw)
			}
			continue
		}
		res.expect(t, 422, c.body)
		details, _ := res.body["error"].(map[string]any)["details"].(map[string]any)
		if res.errorCode() != c.code || details["field"] != c.field {
			t.Errorf("%s: %s", c.body, res.raw)
		}
	}
	// IDs are each user's own: B may name a rule "drift" too; A may not twice.
	a.do(alertUserB, "POST", "/alerts", `{"id":"drift","kind":"price_below","symbol":"X","threshold":"1"}`).expect(t, 201, "B's drift")
	if res := a.do(alertUserA, "POST", "/alerts", `{"id":"drift","kind":"price_below","symbol":"X","threshold":"1"}`); res.status != 409 || res.errorCode() != "already_exists" {
		t.Errorf("duplicate id: %d %s", res.status, res.raw)
	}

	listA := items(a.do(alertUserA, "GET", "/alerts", "").expect(t, 200, "list A"))
	if len(listA) != 2 || listA[0]["id"] != id || listA[1]["id"] != "drift" || listA[1]["targetWeight"] != "0.5" {
		t.Fatalf("list A %v", listA)
	}
	if listB := items(a.do(alertUserB, "GET", "/alerts", "").expect(t, 200, "list B")); len(listB) != 2 || listB[0]["id"] != "b-move" || listB[1]["id"] != "drift" {
		t.Fatalf("list B %v", listB)
	}

	// B can neither delete A's rule nor acknowledge A's firing; deleting its
	// own "drift" leaves A's.
	a.do(alertUserB, "DELETE", "/alerts/"+id, "").expect(t, 404, "B deletes A's rule")
	a.do(alertUserB, "DELETE", "/alerts/drift", "").expect(t, 204, "B deletes its own drift")
	a.do(alertUserA, "DELETE", "/alerts/drift", "").expect(t, 204, "delete")
	a.do(alertUserA, "DELETE", "/alerts/drift", "").expect(t, 404, "delete again")

	// A firing as the prices consumer records it.
	rules, _, err := store.PriceRules(t.Context(), []string{"AAPL"})
	if err != nil || len(rules) != 1 {
		t.Fatal(rules, err)
	}
	eng, _ := alerts.NewEngine(rules...)
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	fs := eng.Evaluate([]alerts.Tick{alerts.PriceTick("AAPL", decimal.RequireFromString("201.25"), decimal.Zero, at)})
	if len(fs) != 1 {
		t.Fatal(fs)
	}
	if err := store.RecordFirings(t.Context(), fs); err != nil {
		t.Fatal(err)
	}
	hist := items(a.do(alertUserA, "GET", "/alerts/history?limit=10", "").expect(t, 200, "history"))
	if len(hist) != 1 || hist[0]["key"] != fs[0].ForOwner().Key || hist[0]["ruleId"] != id || hist[0]["observed"] != "201.25" || hist[0]["threshold"] != "200" ||
		hist[0]["firedAt"] != "2026-03-02T15:00:00Z" || hist[0]["acknowledgedAt"] != nil {
		t.Fatalf("history %v", hist)
	}
	if h := items(a.do(alertUserB, "GET", "/alerts/history", "").expect(t, 200, "history B")); len(h) != 0 {
		t.Fatalf("B sees %v", h)
	}
	ackPath := "/alerts/history/" + url.PathEscape(fs[0].ForOwner().Key) + "/ack"
	a.do(alertUserB, "POST", ackPath, "").expect(t, 404, "B acks A's firing")
	ack := a.do(alertUserA, "POST", ackPath, "").expect(t, 200, "ack")
	if ack.body["key"] != fs[0].ForOwner().Key || ack.body["acknowledgedAt"] == nil {
		t.Fatalf("ack %s", ack.raw)
	}
	if again := a.do(alertUserA, "POST", ackPath, "").expect(t, 200, "ack again"); again.body["acknowledgedAt"] != ack.body["acknowledgedAt"] {
		t.Fatalf("ack again %s, first %s", again.raw, ack.raw)
	}
	if hist := items(a.do(alertUserA, "GET", "/alerts/history", "").expect(t, 200, "history")); hist[0]["acknowledgedAt"] != ack.body["acknowledgedAt"] {
		t.Fatalf("history after ack %v", hist)
	}
	a.do(alertUserA, "GET", "/alerts/history?cursor=!!", "").expect(t, 400, "bad cursor")
	a.do(alertUserA, "GET", "/alerts/history?limit=0", "").expect(t, 400, "bad limit")
	a.do("", "GET", "/alerts", "").expect(t, 401, "anonymous")
}

func TestAlertRoutesWithoutStore(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{Logger: quiet}))}
	for _, c := range [][2]string{{"GET", "/alerts"}, {"POST", "/alerts"}, {"DELETE", "/alerts/x"}, {"PATCH", "/alerts/x"}, {"POST", "/alerts/x/pause"}, {"POST", "/alerts/x/resume"}, {"GET", "/alerts/history"}, {"POST", "/alerts/history/x%230/ack"}} {
		res := a.do(alertUserA, c[0], c[1], `{}`)
		if res.status != 503 || res.errorCode() != "unavailable" {
			t.Errorf("%s %s: %d %s", c[0], c[1], res.status, res.raw)
		}
	}
}

func TestAlertRulesEditPauseResume(t *testing.T) {
	t.Parallel()
	a, store := newAlertsAPI(t)
	a.do(alertUserA, "POST", "/alerts", `{"id":"r","kind":"price_above","symbol":"AAPL","threshold":"200"}`).expect(t, 201, "create")
	// A firing as the prices consumer makes it, saved.
	rules, _, err := store.PriceRules(t.Context(), []string{"AAPL"})
	if err != nil || len(rules) != 1 {
		t.Fatal(rules, err)
	}
	eng, _ := alerts.NewEngine(rules...)
	eng.Evaluate([]alerts.Tick{alerts.PriceTick("AAPL", decimal.RequireFromString("201"), decimal.Zero, time.Now().Add(-time.Minute))})
	if err := store.SaveState(t.Context(), rules, eng.State()); err != nil {
		t.Fatal(err)
	}

	got := a.do(alertUserA, "PATCH", "/alerts/r", `{"channels":["email","sms"],"cooldown":"2h"}`).expect(t, 200, "patch channels")
	state, _ := got.body["state"].(map[string]any)
	if chans, _ := got.body["channels"].([]any); len(chans) != 2 || got.body["cooldown"] != "2h0m0s" || got.body["active"] != true || state["fired"] != true {
		t.Fatalf("patched %s", got.raw)
	}
	got = a.do(alertUserA, "PATCH", "/alerts/r", `{"threshold":"250","channels":null}`).expect(t, 200, "patch threshold")
	state, _ = got.body["state"].(map[string]any)
	if got.body["threshold"] != "250" || got.body["channels"] != nil || state["fired"] != nil || state["epoch"] != float64(1) || got.body["restartedAt"] == nil {
		t.Fatalf("patched %s", got.raw)
	}
	for _, c := range []struct{ body, field string }{
		{`{"threshold":"-1"}`, "threshold"},
		{`{"threshold":"x"}`, "threshold"},
		{`{"channels":["pigeon"]}`, "channels"},
		{`{"channels":"email"}`, "channels"},
		{`{"cooldown":"soon"}`, "cooldown"},
		{`{"match":"all"}`, "match"},
		{`{"conditions":[{"kind":"price_above","symbol":"AAPL","threshold":"1"}],"threshold":"2"}`, "conditions"},
	} {
		res := a.do(alertUserA, "PATCH", "/alerts/r", c.body).expect(t, 422, c.body)
		details, _ := res.body["error"].(map[string]any)["details"].(map[string]any)
		if res.errorCode() != "validation_failed" || details["field"] != c.field {
			t.Errorf("%s: %s", c.body, res.raw)
		}
	}
	a.do(alertUserA, "PATCH", "/alerts/r", `{"kind":"price_below"}`).expect(t, 400, "kind is not patched")
	a.do(alertUserB, "PATCH", "/alerts/r", `{"threshold":"1"}`).expect(t, 404, "B patches A's rule")
	a.do(alertUserB, "POST", "/alerts/r/pause", "").expect(t, 404, "B pauses A's rule")

	paused := a.do(alertUserA, "POST", "/alerts/r/pause", "").expect(t, 200, "pause")
	if paused.body["active"] != false || paused.body["pausedAt"] == nil {
		t.Fatalf("paused %s", paused.raw)
	}
	if rules, _, _ := store.PriceRules(t.Context(), []string{"AAPL"}); len(rules) != 0 {
		t.Fatal("a paused rule is evaluated")
	}
	if list := items(a.do(alertUserA, "GET", "/alerts", "").expect(t, 200, "list")); len(list) != 1 || list[0]["active"] != false {
		t.Fatalf("list %v", list)
	}
	resumed := a.do(alertUserA, "POST", "/alerts/r/resume", "").expect(t, 200, "resume")
	if resumed.body["active"] != true || resumed.body["pausedAt"] != nil {
		t.Fatalf("resumed %s", resumed.raw)
	}
	if rules, _, _ := store.PriceRules(t.Context(), []string{"AAPL"}); len(rules) != 1 {
		t.Fatal("a resumed rule is not evaluated")
	}
	a.do(alertUserA, "POST", "/alerts/nope/resume", "").expect(t, 404, "resume no rule")
}

func TestAlertRulesWithConditionsAPI(t *testing.T) {
	t.Parallel()
	a, _ := newAlertsAPI(t)
	created := a.do(alertUserA, "POST", "/alerts", `{"id":"risk","portfolioId":"p1","match":"any","channels":["email"],
		"conditions":[{"kind":"drawdown","threshold":"0.2"},{"kind":"weight_drift","symbol":"MSFT","targetWeight":"0.3","threshold":"0.05"}]}`).expect(t, 201, "create")
	conds, _ := created.body["conditions"].([]any)
	if len(conds) != 2 || created.body["match"] != "any" || created.body["kind"] != nil || created.body["active"] != true {
		t.Fatalf("created %s", created.raw)
	}
	a.do(alertUserA, "POST", "/alerts", `{"id":"paused","kind":"price_below","symbol":"X","threshold":"1","active":false}`).expect(t, 201, "create paused")
	for _, c := range []struct{ body, field string }{
		{`{"portfolioId":"p1","conditions":[{"kind":"drawdown","threshold":"0.2"},{"kind":"value_drop","threshold":"0.1","window":"1h"}]}`, "conditions[1].kind"},
		{`{"conditions":[{"kind":"price_above","symbol":"A","threshold":"1"},{"kind":"price_below","symbol":"B","threshold":"1"}]}`, "conditions[1].symbol"},
		{`{"conditions":[{"kind":"price_above","symbol":"A","threshold":"x"}]}`, "conditions[0].threshold"},
		{`{"kind":"price_above","conditions":[{"kind":"price_above","symbol":"A","threshold":"1"}]}`, "conditions"},
	} {
		res := a.do(alertUserA, "POST", "/alerts", c.body).expect(t, 422, c.body)
		details, _ := res.body["error"].(map[string]any)["details"].(map[string]any)
		if details["field"] != c.field {
			t.Errorf("%s: %s", c.body, res.raw)
		}
	}
	got := a.do(alertUserA, "PATCH", "/alerts/risk", `{"match":"all","conditions":[{"kind":"concentration","threshold":"0.5"}]}`).expect(t, 200, "patch conditions")
	if conds, _ := got.body["conditions"].([]any); len(conds) != 1 || got.body["match"] != "all" {
		t.Fatalf("patched %s", got.raw)
	}
	list := items(a.do(alertUserA, "GET", "/alerts", "").expect(t, 200, "list"))
	if len(list) != 2 || list[1]["active"] != false || list[0]["channels"] == nil {
		t.Fatalf("list %v", list)
	}
}
