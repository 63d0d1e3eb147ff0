package lambdaauth_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// Each answer writes one AuthorizerDecisions line, Kind allow, deny or error
// (the keys unreachable), for both APIs; the token never appears in it.
func TestEachDecisionIsCounted(t *testing.T) {
	down, err := tokenissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	down.SetDown(true)
	up, _ := setup(t, fullConfig())
	outage, _ := setup(t, down.Config())
	var out bytes.Buffer
	w := emf.New(&out, map[string]string{"Function": "authorizer"})
	tok := iss.Mint(userID)
	cases := []struct {
		handle func() error
		want   string
	}{
		{func() error {
			_, err := up.Measured(w)(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer " + tok}))
			return err
		}, "allow"},
		{func() error {
			_, err := up.Measured(w)(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer x.y.z"}))
			return err
		}, "deny"},
		{func() error {
			_, err := up.Measured(w)(lambdaCtx(), wsEvent(t, map[string]any{"token": tok}, nil))
			return err
		}, "allow"},
		{func() error { _, err := up.Measured(w)(lambdaCtx(), wsEvent(t, nil, nil)); return err }, "deny"},
		{func() error {
			_, err := outage.Measured(w)(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer " + down.Mint(userID)}))
			return err
		}, "error"},
	}
	for i, c := range cases {
		out.Reset()
		err := c.handle()
		if (c.want == "error") != (err != nil) {
			t.Fatalf("case %d: error %v", i, err)
		}
		var line map[string]any
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("case %d: %v: %s", i, err, out.Bytes())
		}
		if line["Kind"] != c.want || line["AuthorizerDecisions"] != 1.0 || line["Function"] != "authorizer" || bytes.Contains(out.Bytes(), []byte(tok)) {
			t.Errorf("case %d: want %s, line %s", i, c.want, out.Bytes())
		}
	}
}
