package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// Each invocation writes a WebSocketMessages line whose Kind is its route key;
// a route key the function does not serve counts as "unexpected", never as
// itself (the dimension stays bounded), and no line names the connection.
func TestEachRouteIsCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var out bytes.Buffer
	f.h.Metrics = emf.New(&out, map[string]string{"Function": "ws"})
	f.connect(t, "m1", userA)
	f.send(t, "m1", `{"action":"ping"}`)
	f.do(t, event(t, "$disconnect", "m1", authz(userA), ""))
	f.do(t, event(t, "anything-a-client-sends", "m1", nil, ""))
	var kinds []string
	for _, raw := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatal(err)
		}
		if line["WebSocketMessages"] != 1.0 || line["Function"] != "ws" {
			t.Errorf("line %s", raw)
		}
		kinds = append(kinds, line["Kind"].(string))
	}
	if want := []string{"$connect", "$default", "$disconnect", "unexpected"}; !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if bytes.Contains(out.Bytes(), []byte("m1")) {
		t.Errorf("a line names the connection: %s", out.Bytes())
	}
}
