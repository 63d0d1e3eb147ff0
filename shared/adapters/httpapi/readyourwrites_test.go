package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/readyourwrites"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// pollSignal is the read model that tells the test each time the API reads a
// portfolio's version: the API is then waiting, and the test may let the
// projector run.
type pollSignal struct {
	httpapi.Queries
	polled chan string
}

func (p pollSignal) GetPortfolio(ctx context.Context, userID, portfolioID string) (readmodel.PortfolioView, error) {
	select {
	case p.polled <- portfolioID:
	default:
	}
	return p.Queries.GetPortfolio(ctx, userID, portfolioID)
}

// TestReadYourWrites: against DynamoDB Local and PostgreSQL, a portfolio just
// created, the projector not yet run, is its owner's at once (200, empty and
// stale, never 404) and nobody else's (404); a query with minVersion waits for
// the projector, run while it waits, and answers fresh; a bad minVersion is 400.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	polled := make(chan string, 1)
	f := newPostgresAPIWith(t, func(q httpapi.Queries) httpapi.Queries { return pollSignal{Queries: q, polled: polled} })
	// impatient gives up at once, patient waits as long as the test needs.
	impatient := f.withWait(readyourwrites.Options{MaxWait: time.Nanosecond})
	patient := f.withWait(readyourwrites.Options{MaxWait: time.Hour})

	created := f.do(alice, "POST", "/portfolios", `{"name":"Fresh","baseCurrency":"EUR"}`, "Idempotency-Key", "k-ryw")
	f.expect(created, 201, "")
	id := created.data()["id"].(string)

	t.Run("the owner gets the portfolio before the read model has it", func(t *testing.T) {
		r := impatient.do(alice, "GET", "/portfolios/"+id+"/positions", "")
		f.expect(r, 200, "")
		if r.headers[httpapi.HeaderReadModelStale] != "true" || r.headers[httpapi.HeaderReadModelVersion] != "0" || r.body["stale"] != true ||
			r.body["baseCurrency"] != "EUR" || len(r.body["positions"].([]any)) != 0 {
			t.Fatalf("positions before projection: %v %s", r.headers, r.raw)
		}
		for _, path := range []string{"/transactions", "/targets"} {
			r := impatient.do(alice, "GET", "/portfolios/"+id+path, "")
			f.expect(r, 200, "")
			if r.headers[httpapi.HeaderReadModelStale] != "true" || r.body["stale"] != true {
				t.Fatalf("%s before projection: %v %s", path, r.headers, r.raw)
			}
		}
		for _, rt := range topology.HTTPRoutes {
			if rt.Method == "GET" && strings.HasPrefix(rt.Path+"/", "/portfolios/{id}/") {
				r := impatient.do(alice, "GET", strings.Replace(rt.Path, "{id}", id, 1), "")
				if r.status != 200 && (r.status != 503 || r.headers["Retry-After"] != "1") {
					t.Errorf("%s answers the owner %d before projection: %v %s", rt.Pattern(), r.status, r.headers, r.raw)
				}
			}
		}
		r = impatient.do(alice, "GET", "/portfolios/"+id, "")
		f.expect(r, 200, "")
		if r.body["name"] != "Fresh" || r.body["version"] != float64(1) || r.headers[httpapi.HeaderReadModelStale] != "true" {
			t.Fatalf("portfolio from its events: %v %s", r.headers, r.raw)
		}
	})

	t.Run("another user gets 404, whatever the query", func(t *testing.T) {
		for _, q := range []string{"", "?minVersion=1", "?minVersion=0", "?minVersion=x"} {
			r := impatient.do(bob, "GET", "/portfolios/"+id+"/positions"+q, "")
			f.expect(r, 404, "not_found")
			if _, ok := r.headers[httpapi.HeaderReadModelVersion]; ok {
				t.Fatalf("a stranger learns the read model's version: %v", r.headers)
			}
		}
	})

	t.Run("a bad minVersion is 400", func(t *testing.T) {
		for _, v := range []string{"0", "-1", "x", "1.5", "9007199254740993", "99999999999999999999"} {
			f.expect(impatient.do(alice, "GET", "/portfolios/"+id+"/transactions?minVersion="+v, ""), 400, "bad_request")
		}
	})

	t.Run("minVersion waits for the projector", func(t *testing.T) {
		// Creation (version 1), then a deposit (version 2): the positions asked at
		// version 2 wait while the read model has neither, then show the deposit.
		f.record(alice, id, `{"type":"DEPOSIT","date":"2024-01-02","amount":"100","currency":"EUR"}`)
		drain(polled)
		answered := make(chan response, 1)
		go func() { answered <- patient.do(alice, "GET", "/portfolios/"+id+"/positions?minVersion=2", "") }()
		<-polled // the API has looked and is waiting
		projected := make(chan error, 1)
		go func() {
			events, err := f.events.Events(context.Background(), id, 1, 0)
			if err == nil {
				err = f.apply(context.Background(), events)
			}
			projected <- err
		}()
		if err := <-projected; err != nil {
			t.Fatal(err)
		}
		r := <-answered
		f.expect(r, 200, "")
		if r.headers[httpapi.HeaderReadModelVersion] != "2" || r.headers[httpapi.HeaderReadModelStale] != "" || r.body["stale"] != nil ||
			r.body["asOfVersion"] != float64(2) {
			t.Fatalf("positions at version 2: %v %s", r.headers, r.raw)
		}
		cash, _ := json.Marshal(r.body["totals"])
		if !strings.Contains(string(cash), `"100`) {
			t.Fatalf("the deposit is not in the totals: %s", r.raw)
		}
	})

	t.Run("a version the read model has is answered at once, a later one stale", func(t *testing.T) {
		r := impatient.do(alice, "GET", "/portfolios/"+id+"?minVersion=2", "")
		f.expect(r, 200, "")
		if r.headers[httpapi.HeaderReadModelVersion] != "2" || r.headers[httpapi.HeaderReadModelStale] != "" {
			t.Fatalf("fresh portfolio: %v %s", r.headers, r.raw)
		}
		r = impatient.do(alice, "GET", "/portfolios/"+id+"/transactions?minVersion=3", "")
		f.expect(r, 200, "")
		if r.headers[httpapi.HeaderReadModelStale] != "true" || r.body["stale"] != true || len(r.body["items"].([]any)) != 1 {
			t.Fatalf("transactions behind the version asked: %v %s", r.headers, r.raw)
		}
	})
}

func drain(c chan string) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// TestOpenAPIPortfolioQueriesTakeMinVersion holds the document to the routes:
// every portfolio query documents minVersion and the read model's headers.
func TestOpenAPIPortfolioQueriesTakeMinVersion(t *testing.T) {
	type ref struct {
		Ref string `json:"$ref"`
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range topology.HTTPRoutes {
		if r.Method != "GET" || !strings.HasPrefix(r.Path+"/", "/portfolios/{id}/") {
			continue
		}
		checked++
		var op struct {
			Parameters []ref `json:"parameters"`
			Responses  map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		}
		if err := json.Unmarshal(doc.Paths[r.Path]["get"], &op); err != nil {
			t.Fatalf("%s: %v", r.Pattern(), err)
		}
		takes := slices.Contains(op.Parameters, ref{"#/components/parameters/MinVersion"})
		h := op.Responses["200"].Headers
		if !takes || h[httpapi.HeaderReadModelVersion] == nil || h[httpapi.HeaderReadModelStale] == nil {
			t.Errorf("%s: minVersion %v, headers %v", r.Pattern(), takes, h)
		}
	}
	if checked < 12 {
		t.Fatal(fmt.Sprint("only ", checked, " portfolio queries"))
	}
}
