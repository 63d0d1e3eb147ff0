package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/config"
)

var settings = []config.Setting{
	{Name: "TABLE", Required: true, Meaning: "a table"},
	{Name: "STREAM", Required: true, Meaning: "a stream"},
	{Name: "EVERY", Default: "10", Meaning: "an interval"},
	{Name: "RATE", Default: "0.5", Meaning: "a rate"},
	{Name: "WAIT", Default: "2s", Meaning: "a pause"},
	{Name: "ON", Meaning: "a switch"},
	{Name: "OVERRIDE", Meaning: "an override"},
}

func env(m map[string]string) *config.Env {
	return config.NewFrom("fn", settings, func(k string) string { return m[k] })
}

func TestDefaultsAndTypes(t *testing.T) {
	e := env(map[string]string{"TABLE": "t", "EVERY": "", "ON": "true", "WAIT": "250ms"})
	if got := e.String("TABLE"); got != "t" {
		t.Errorf("TABLE = %q", got)
	}
	if n, err := e.Int("EVERY"); err != nil || n != 10 {
		t.Errorf("EVERY unset or empty takes its default: %d, %v", n, err)
	}
	if f, err := e.Float("RATE"); err != nil || f != 0.5 {
		t.Errorf("RATE = %v, %v", f, err)
	}
	if d, err := e.Duration("WAIT"); err != nil || d != 250*time.Millisecond {
		t.Errorf("WAIT = %v, %v", d, err)
	}
	if b, err := e.Bool("ON"); err != nil || !b {
		t.Errorf("ON = %v, %v", b, err)
	}
	if _, err := e.Uint("OVERRIDE"); err == nil {
		t.Error("an unset setting without a default parsed")
	}
	if got := e.First("OVERRIDE", "TABLE"); got != "t" {
		t.Errorf("First = %q, want the first that is set", got)
	}
}

func TestBadValuesNameTheSetting(t *testing.T) {
	e := env(map[string]string{"EVERY": "ten", "WAIT": "2", "ON": "maybe"})
	for name, err := range map[string]error{"EVERY": second(e.Int("EVERY")), "WAIT": second(e.Duration("WAIT")), "ON": second(e.Bool("ON"))} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestCheckReportsEveryMissingRequiredSetting(t *testing.T) {
	err := env(map[string]string{"EVERY": "3"}).Check()
	if err == nil || !strings.Contains(err.Error(), "STREAM, TABLE") {
		t.Fatalf("Check = %v, want both missing settings in one error", err)
	}
	if err := env(map[string]string{"TABLE": "t", "STREAM": "s"}).Check(); err != nil {
		t.Fatal(err)
	}
}

func TestUndeclaredNamesAreRefused(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "UNDECLARED") {
			t.Fatalf("recovered %v, want a refusal naming the variable", r)
		}
	}()
	env(map[string]string{"UNDECLARED": "x"}).String("UNDECLARED")
}

func TestLoadFunction(t *testing.T) {
	t.Setenv("PRICES_TABLE", "")
	if _, err := config.LoadFunction("prices"); err == nil || !strings.Contains(err.Error(), "PRICES_TABLE") {
		t.Errorf("prices without its table: %v", err)
	}
	if _, err := config.LoadFunction("nonesuch"); err == nil {
		t.Error("an unknown function loaded")
	}
}
