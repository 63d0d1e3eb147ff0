package marketdata

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runReplay(t *testing.T, r *Replay) ([]Quote, error) {
	t.Helper()
	var out []Quote
	err := r.Run(context.Background(), func(q Quote) error { out = append(out, q); return nil })
	return out, err
}

func TestReplayJSONLines(t *testing.T) {
	in := `
# recorded 2024-03-05
{"symbol":"AAPL","price":"189.98","volume":"100","timestamp":"2024-03-05T14:30:00Z","source":"finnhub"}
{"symbol":"MSFT","price":410.123456789,"volume":5,"timestamp":"2024-03-05T09:30:01.5-05:00"}

{"symbol":"AAPL","price":"0.1","volume":"0","timestamp":"2024-03-05T14:30:03Z","exchange":"XNAS","previousClose":"0.2"}
`
	qs, err := runReplay(t, NewReplay(strings.NewReader(in), ReplayOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 3 {
		t.Fatalf("%d quotes", len(qs))
	}
	if qs[0].Source != SourceFinnhub || qs[1].Source != SourceReplay || qs[1].Price.String() != "410.123456789" ||
		!qs[1].Timestamp.Equal(time.Date(2024, 3, 5, 14, 30, 1, 5e8, time.UTC)) || qs[1].Timestamp.Location() != time.UTC ||
		qs[2].PreviousClose.String() != "0.2" || qs[2].Exchange != "XNAS" {
		t.Fatalf("%+v", qs)
	}
	// What MarshalQuotesJSONL writes, Replay reads back identically.
	var buf bytes.Buffer
	if err := MarshalQuotesJSONL(&buf, qs); err != nil {
		t.Fatal(err)
	}
	again, err := runReplay(t, NewReplay(&buf, ReplayOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range qs {
		if !again[i].Price.Equal(qs[i].Price) || !again[i].Timestamp.Equal(qs[i].Timestamp) || again[i].Source != qs[i].Source {
			t.Fatalf("round trip %d: %+v vs %+v", i, again[i], qs[i])
		}
	}
}

func TestReplayCSV(t *testing.T) {
	in := "timestamp,symbol,price,volume\n" +
		"2024-03-05T14:30:00Z,AAPL,189.98,100\n" +
		"1709649001,MSFT,410.5\n" +
		"1709649002500,AAPL,190.01,\n"
	qs, err := runReplay(t, NewReplay(strings.NewReader(in), ReplayOptions{Source: "capture"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 3 || qs[0].Volume.String() != "100" || !qs[1].Volume.IsZero() || qs[1].Price.String() != "410.5" ||
		!qs[1].Timestamp.Equal(time.Unix(1709649001, 0)) || !qs[2].Timestamp.Equal(time.UnixMilli(1709649002500)) || qs[2].Source != "capture" {
		t.Fatalf("%+v", qs)
	}
}

func TestReplaySpeed(t *testing.T) {
	in := "2024-03-05T14:30:00Z,A,1\n2024-03-05T14:30:10Z,A,2\n2024-03-05T14:30:04Z,A,3\n2024-03-05T14:30:20Z,A,4\n"
	clock := &fakeClock{now: testNow}
	qs, err := runReplay(t, NewReplay(strings.NewReader(in), ReplayOptions{Speed: 2, Now: clock.Now, Sleep: clock.Sleep}))
	if err != nil || len(qs) != 4 {
		t.Fatal(qs, err)
	}
	// 10 s at 2x, nothing for the earlier timestamp, then 10 s (from 14:30:10) at 2x.
	if got := clock.Sleeps(); len(got) != 2 || got[0] != 5*time.Second || got[1] != 5*time.Second {
		t.Fatalf("sleeps %v", got)
	}
	// Speed 0: no pacing.
	clock = &fakeClock{now: testNow}
	if _, err := runReplay(t, NewReplay(strings.NewReader(in), ReplayOptions{Now: clock.Now, Sleep: clock.Sleep})); err != nil || len(clock.Sleeps()) != 0 {
		t.Fatal(err, clock.Sleeps())
	}
}

func TestReplayErrors(t *testing.T) {
	for _, in := range []string{
		"2024-03-05T14:30:00Z,AAPL,abc\n",
		"2024-03-05T14:30:00Z,AAPL,-1\n",
		"yesterday,AAPL,1\n",
		"2024-03-05T14:30:00Z,AAPL\n",
		"2024-03-05T14:30:00Z,AAPL,1,2,3\n",
		"2024-03-05T14:30:00Z,AAPL,1e99999\n",
		"{\"symbol\":\"AAPL\",\"price\":\"1\",\"timestamp\":\"2024-03-05T14:30:00Z\"}\n{\"symbol\":\"AAPL\"\n",
		"{\"symbol\":\"AAPL\",\"price\":\"1e999999999\",\"timestamp\":\"2024-03-05T14:30:00Z\"}\n",
		"{\"symbol\":\"AAPL\",\"price\":\"1\"}\n",
	} {
		_, err := runReplay(t, NewReplay(strings.NewReader(in), ReplayOptions{}))
		if err == nil || !strings.Contains(err.Error(), "replay line ") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestReplayFileAndCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quotes.csv")
	if err := os.WriteFile(path, []byte("2024-03-05T14:30:00Z,A,1\n2024-03-05T14:30:01Z,A,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReplay(path, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // each Run starts over
		if qs, err := runReplay(t, r); err != nil || len(qs) != 2 {
			t.Fatal(qs, err)
		}
	}
	if _, err := OpenReplay(filepath.Join(t.TempDir(), "missing"), ReplayOptions{}); err == nil {
		t.Fatal("missing file accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = r.Run(ctx, func(Quote) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatal(n, err)
	}
	// Stream delivers a feed on a channel and reports its end.
	quotes, errc := Stream(context.Background(), r, 0)
	got := 0
	for range quotes {
		got++
	}
	if err := <-errc; err != nil || got != 2 {
		t.Fatal(got, err)
	}
}
