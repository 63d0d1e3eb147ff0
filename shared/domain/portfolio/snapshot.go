package portfolio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/shopspring/decimal"
)

// SnapshotSchemaVersion is bumped whenever snapshotJSON changes shape (its keys
// are terse on purpose: the snapshot rides on an event item, and every byte
// counts against the one-write-unit budget). A snapshot
// of another version is ignored by the store (the aggregate is then folded from its
// events), never misread.
// Version 2 added each symbol's trade currency: a version-1 snapshot would
// leave it unknown and let a symbol's trades switch currency.
const SnapshotSchemaVersion = 2

// A snapshot keeps what the invariants need on the common path — the header, each
// symbol's quantity and last trade date, the targets and the recent command IDs —
// and not the transaction list, so it stays a few kilobytes for any history length
// (about 60 bytes per symbol: 300 symbols ≈ 18 KB, far below DynamoDB's 400 KB item
// limit). A decision that needs the list (a back-dated trade, a void) returns
// ErrHistoryRequired and the caller folds the full history instead.
type snapshotJSON struct {
	SchemaVersion int               `json:"sv"`
	ID            string            `json:"id"`
	Owner         string            `json:"o"`
	Name          string            `json:"n"`
	Description   string            `json:"ds,omitempty"`
	BaseCurrency  string            `json:"c"`
	LotMethod     LotMethod         `json:"m"`
	Archived      bool              `json:"a,omitempty"`
	CreatedAt     time.Time         `json:"t"`
	Version       int64             `json:"v"`
	Targets       *TargetAllocation `json:"tg,omitempty"`
	// Settings are absent from snapshots written before analytics settings
	// existed, and whenever the portfolio never set them: the defaults apply.
	Settings *snapshotSettings `json:"st,omitempty"`
	Symbols  []symbolJSON      `json:"s"`
	Recorded int               `json:"rc"`
	Voided   int               `json:"vd"`
	Recent   []CommandRecord   `json:"r"`
}

// snapshotSettings is AnalyticsSettings with terse keys.
type snapshotSettings struct {
	Benchmark     string          `json:"b"`
	WholeShares   bool            `json:"w,omitempty"`
	MinTradeValue decimal.Decimal `json:"mt"`
}

type symbolJSON struct {
	Symbol   string          `json:"s"`
	Quantity decimal.Decimal `json:"q"`
	LastDate calendar.Date   `json:"d"`
	Stale    bool            `json:"x,omitempty"`
	Currency string          `json:"cu,omitempty"`
}

// Snapshot encodes the state (without pending events and without the transaction
// list). Symbols are sorted, so equal states encode to equal bytes.
func (p *Portfolio) Snapshot() ([]byte, error) {
	if !p.exists() {
		return nil, fmt.Errorf("%w: snapshot of a portfolio that does not exist", ErrNotFound)
	}
	s := snapshotJSON{
		SchemaVersion: SnapshotSchemaVersion,
		ID:            p.id, Owner: p.owner, Name: p.name, Description: p.description,
		BaseCurrency: p.baseCurrency, LotMethod: p.lotMethod, Archived: p.archived,
		CreatedAt: p.createdAt, Version: p.version, Targets: p.targets,
		Symbols:  make([]symbolJSON, 0, len(p.symbols)),
		Recorded: p.recorded, Voided: p.voidedCount, Recent: p.recentCommands(),
	}
	if p.settings != nil {
		s.Settings = &snapshotSettings{Benchmark: p.settings.Benchmark, WholeShares: p.settings.WholeShares, MinTradeValue: p.settings.MinTradeValue}
	}
	for sym, st := range p.symbols {
		s.Symbols = append(s.Symbols, symbolJSON{Symbol: sym, Quantity: st.quantity, LastDate: st.lastDate, Stale: st.stale, Currency: st.currency})
	}
	slices.SortFunc(s.Symbols, func(a, b symbolJSON) int { return strings.Compare(a.Symbol, b.Symbol) })
	if s.Recent == nil {
		s.Recent = []CommandRecord{}
	}
	return json.Marshal(s)
}

// Restore decodes a snapshot into an aggregate without history; fold the events
// after Version() onto it with Apply.
func Restore(data []byte) (*Portfolio, error) {
	var s snapshotJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", ErrCorruptEvent, err)
	}
	if s.SchemaVersion != SnapshotSchemaVersion {
		return nil, fmt.Errorf("%w: snapshot schema %d, this build reads %d", ErrCorruptEvent, s.SchemaVersion, SnapshotSchemaVersion)
	}
	if s.ID == "" || s.Owner == "" || s.Version < 1 {
		return nil, fmt.Errorf("%w: snapshot of %q at version %d lacks id, owner or version", ErrCorruptEvent, s.ID, s.Version)
	}
	p := &Portfolio{
		id: s.ID, owner: s.Owner, name: s.Name, description: s.Description,
		baseCurrency: s.BaseCurrency, lotMethod: s.LotMethod, archived: s.Archived,
		createdAt: s.CreatedAt, version: s.Version, targets: s.Targets,
		symbols:  make(map[string]*symbolState, len(s.Symbols)),
		recorded: s.Recorded, voidedCount: s.Voided, recent: s.Recent,
	}
	if st := s.Settings; st != nil {
		p.settings = &AnalyticsSettings{Benchmark: st.Benchmark, WholeShares: st.WholeShares, MinTradeValue: st.MinTradeValue}
		if err := p.settings.Validate(); err != nil {
			return nil, fmt.Errorf("%w: snapshot of %s at version %d: %v", ErrCorruptEvent, s.ID, s.Version, err)
		}
	}
	for _, sym := range s.Symbols {
		if _, dup := p.symbols[sym.Symbol]; dup || sym.Symbol == "" {
			return nil, fmt.Errorf("%w: snapshot of %s at version %d: symbol %q empty or repeated", ErrCorruptEvent, s.ID, s.Version, sym.Symbol)
		}
		p.symbols[sym.Symbol] = &symbolState{quantity: sym.Quantity, lastDate: sym.LastDate, stale: sym.Stale, currency: sym.Currency}
	}
	if len(p.recent) == 0 {
		p.recent = nil
	}
	return p, nil
}

// Fold builds an aggregate from an optional snapshot and the events after it.
func Fold(snapshot []byte, events []Event) (*Portfolio, error) {
	p := &Portfolio{}
	if len(snapshot) > 0 {
		var err error
		if p, err = Restore(snapshot); err != nil {
			return nil, err
		}
	}
	for i := range events {
		if err := p.Apply(events[i]); err != nil {
			return nil, err
		}
	}
	return p, nil
}
