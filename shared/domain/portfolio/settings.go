package portfolio

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/shopspring/decimal"
)

// DefaultBenchmark is the benchmark of a portfolio that never chose one.
const DefaultBenchmark = "SPY"

// AnalyticsSettings are a portfolio's own analysis conventions: the symbol beta
// and alpha are measured against, and how rebalancing trades are shaped (whole
// shares only, and no trade worth less than MinTradeValue, in the portfolio's
// base currency). A portfolio that never set them has DefaultAnalyticsSettings.
type AnalyticsSettings struct {
	Benchmark     string          `json:"benchmark"`
	WholeShares   bool            `json:"wholeShares,omitempty"`
	MinTradeValue decimal.Decimal `json:"minTradeValue"`
}

// DefaultAnalyticsSettings are benchmark SPY, fractional shares, no minimum trade.
func DefaultAnalyticsSettings() AnalyticsSettings {
	return AnalyticsSettings{Benchmark: DefaultBenchmark, MinTradeValue: decimal.Zero}
}

// Equal reports whether two settings mean the same (1.50 equals 1.5).
func (s AnalyticsSettings) Equal(o AnalyticsSettings) bool {
	return s.Benchmark == o.Benchmark && s.WholeShares == o.WholeShares && s.MinTradeValue.Equal(o.MinTradeValue)
}

// Validate checks the benchmark as the domain checks every symbol (1 to 32 bytes,
// no control characters; and, a ticker being one word, no white space; case is kept as given, as
// for transaction and target symbols, because closes are looked up by the exact
// symbol) and a minimum trade value that is not negative.
func (s AnalyticsSettings) Validate() error {
	if s.Benchmark == "" || len(s.Benchmark) > 32 || HasControl(s.Benchmark) || strings.ContainsFunc(s.Benchmark, unicode.IsSpace) {
		return fmt.Errorf("%w: benchmark symbol %q must be 1 to 32 characters, without white space or control characters", ErrInvalidCommand, s.Benchmark)
	}
	if s.MinTradeValue.IsNegative() {
		return fmt.Errorf("%w: minimum trade value %s must not be negative", ErrInvalidCommand, s.MinTradeValue)
	}
	return nil
}

// AnalyticsSettingsChanged replaces the portfolio's analytics settings; it carries
// the new full values.
type AnalyticsSettingsChanged struct {
	AnalyticsSettings
}

func (*AnalyticsSettingsChanged) eventType() string { return TypeAnalyticsSettingsChanged }

// AnalyticsSettings returns the portfolio's analytics settings, the defaults when
// it never set them.
func (p *Portfolio) AnalyticsSettings() AnalyticsSettings {
	if p.settings == nil {
		return DefaultAnalyticsSettings()
	}
	return *p.settings
}

// ChosenAnalyticsSettings returns the settings the portfolio set, and false when
// it never set any (a deployment may then apply defaults of its own).
func (p *Portfolio) ChosenAnalyticsSettings() (AnalyticsSettings, bool) {
	if p.settings == nil {
		return AnalyticsSettings{}, false
	}
	return *p.settings, true
}

// ChangeAnalyticsSettings replaces the analytics settings with s (the full new
// values: a caller changing one field reads the others from AnalyticsSettings).
// The benchmark is trimmed; the minimum trade value is in the base currency. Like
// SetTargets, it emits an event even when nothing changes, so the command always
// has a result to answer with and the analytics are recomputed.
func (p *Portfolio) ChangeAnalyticsSettings(s AnalyticsSettings, meta Meta) error {
	if err := p.checkCommand(meta); err != nil {
		return err
	}
	s.Benchmark = strings.TrimSpace(s.Benchmark)
	if err := s.Validate(); err != nil {
		return err
	}
	if err := checkNewSettings(s); err != nil {
		return err
	}
	return p.emit(meta, &AnalyticsSettingsChanged{AnalyticsSettings: s})
}
