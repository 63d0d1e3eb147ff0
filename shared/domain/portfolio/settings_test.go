package portfolio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

func TestAnalyticsSettingsDefaults(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	got := f.p.AnalyticsSettings()
	if got.Benchmark != "SPY" || got.WholeShares || !got.MinTradeValue.IsZero() {
		t.Fatalf("defaults = %+v, want SPY, fractional, 0", got)
	}
	if !got.Equal(portfolio.DefaultAnalyticsSettings()) {
		t.Fatal("defaults differ from DefaultAnalyticsSettings")
	}
}

func TestChangeAnalyticsSettings(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.p.MarkCommitted()
	err := f.p.ChangeAnalyticsSettings(portfolio.AnalyticsSettings{Benchmark: "  VTI ", WholeShares: true, MinTradeValue: dec("50.00")}, f.meta(alice))
	if err != nil {
		t.Fatal(err)
	}
	want := portfolio.AnalyticsSettings{Benchmark: "VTI", WholeShares: true, MinTradeValue: dec("50")}
	if got := f.p.AnalyticsSettings(); !got.Equal(want) {
		t.Fatalf("settings = %+v, want %+v", got, want)
	}
	pending := f.p.Pending()
	if len(pending) != 1 || pending[0].EventType != portfolio.TypeAnalyticsSettingsChanged || pending[0].Version != 2 {
		t.Fatalf("pending = %+v", pending)
	}
	b, err := json.Marshal(pending[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"data":{"benchmark":"VTI","wholeShares":true,"minTradeValue":"50"}`)) {
		t.Errorf("event JSON = %s", b)
	}
	back, err := portfolio.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := back.Data.(*portfolio.AnalyticsSettingsChanged); !d.Equal(want) {
		t.Errorf("decoded %+v", d)
	}
	// Fractional again, defaults spelt out: the zero minimum is written, not omitted.
	if err := f.p.ChangeAnalyticsSettings(portfolio.DefaultAnalyticsSettings(), f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(f.p.Pending()[1])
	if !bytes.Contains(b, []byte(`"data":{"benchmark":"SPY","minTradeValue":"0"}`)) {
		t.Errorf("event JSON = %s", b)
	}
}

func TestChangeAnalyticsSettingsRejects(t *testing.T) {
	cases := []struct {
		name string
		s    portfolio.AnalyticsSettings
	}{
		{"empty benchmark", portfolio.AnalyticsSettings{Benchmark: "  "}},
		{"long benchmark", portfolio.AnalyticsSettings{Benchmark: strings.Repeat("A", 33)}},
		{"control character", portfolio.AnalyticsSettings{Benchmark: "SP\x00Y"}},
		{"newline", portfolio.AnalyticsSettings{Benchmark: "SP\nY"}},
		{"negative minimum", portfolio.AnalyticsSettings{Benchmark: "SPY", MinTradeValue: dec("-0.01")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, portfolio.FIFO)
			v := f.p.Version()
			if err := f.p.ChangeAnalyticsSettings(c.s, f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidCommand) {
				t.Fatalf("err = %v, want ErrInvalidCommand", err)
			}
			if f.p.Version() != v {
				t.Fatal("a refused command changed the version")
			}
		})
	}
	f := newFixture(t, portfolio.FIFO)
	ok := portfolio.AnalyticsSettings{Benchmark: "VTI"}
	if err := f.p.ChangeAnalyticsSettings(ok, f.meta(bob)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("stranger: err = %v, want ErrNotFound", err)
	}
	if err := f.p.Archive("", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	if err := f.p.ChangeAnalyticsSettings(ok, f.meta(alice)); !errors.Is(err, portfolio.ErrArchived) {
		t.Errorf("archived: err = %v, want ErrArchived", err)
	}
	if err := (&portfolio.Portfolio{}).ChangeAnalyticsSettings(ok, f.meta(alice)); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("missing portfolio: err = %v, want ErrNotFound", err)
	}
}

func TestAnalyticsSettingsPayloadIsValidatedOnDecode(t *testing.T) {
	for _, raw := range []string{
		`{"benchmark":"","minTradeValue":"0"}`,
		`{"benchmark":"SPY","minTradeValue":"-1"}`,
		`{"benchmark":"SPY","minTradeValue":"0","extra":1}`,
	} {
		if _, err := portfolio.DecodeEventData(portfolio.TypeAnalyticsSettingsChanged, 1, []byte(raw)); !errors.Is(err, portfolio.ErrCorruptEvent) {
			t.Errorf("%s: err = %v, want ErrCorruptEvent", raw, err)
		}
	}
}

func TestSnapshotCarriesAnalyticsSettings(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	// Without settings the snapshot has no settings key: it is byte for byte what
	// a build without analytics settings wrote, and restores to the defaults.
	snap, err := f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte(`"st"`)) {
		t.Errorf("snapshot without settings carries them: %s", snap)
	}
	old, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !old.AnalyticsSettings().Equal(portfolio.DefaultAnalyticsSettings()) {
		t.Errorf("restored defaults = %+v", old.AnalyticsSettings())
	}

	want := portfolio.AnalyticsSettings{Benchmark: "VTI", WholeShares: true, MinTradeValue: dec("12.5")}
	if err := f.p.ChangeAnalyticsSettings(want, f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	snap, err = f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(snap, []byte(`"st":{"b":"VTI","w":true,"mt":"12.5"}`)) {
		t.Errorf("snapshot = %s", snap)
	}
	back, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !back.AnalyticsSettings().Equal(want) {
		t.Errorf("restored settings = %+v, want %+v", back.AnalyticsSettings(), want)
	}
	again, _ := back.Snapshot()
	if !bytes.Equal(snap, again) {
		t.Errorf("snapshot does not round-trip:\n%s\n%s", snap, again)
	}

	// A snapshot holding settings no command could have written is corrupt.
	bad := bytes.Replace(snap, []byte(`"b":"VTI"`), []byte(`"b":""`), 1)
	if _, err := portfolio.Restore(bad); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Errorf("restore of bad settings: err = %v, want ErrCorruptEvent", err)
	}
}
