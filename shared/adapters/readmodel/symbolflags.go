package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FlagUnknownSymbol is the one flag of symbol_flags: a market-data provider
// says the symbol does not exist.
const FlagUnknownSymbol = "unknown"

// SymbolFlags keeps the symbols a provider does not know (migration 0017): the
// ingest flags a symbol its quote provider answers not-found for and clears it
// on a valid quote; the history backfill flags what its provider does not
// know. The API warns on the positions in a flagged symbol.
type SymbolFlags struct {
	db  PriceDB
	now func() time.Time
}

// NewSymbolFlags returns the store over db.
func NewSymbolFlags(db PriceDB) *SymbolFlags { return &SymbolFlags{db: db, now: time.Now} }

// FlagUnknown records that source does not know symbol, in its words (reason).
// Flagging again replaces source and reason and keeps the first time.
func (s *SymbolFlags) FlagUnknown(ctx context.Context, symbol, source, reason string) error {
	if _, err := s.db.Exec(ctx, `
insert into symbol_flags (symbol, flag, source, reason, flagged_at) values ($1, $2, $3, $4, $5)
on conflict (symbol) do update set flag = excluded.flag, source = excluded.source, reason = excluded.reason`,
		symbol, FlagUnknownSymbol, source, reason, s.now().UTC()); err != nil {
		return fmt.Errorf("readmodel: flag %s unknown: %w", symbol, err)
	}
	return nil
}

// ClearUnknown removes symbol's flag, if any.
func (s *SymbolFlags) ClearUnknown(ctx context.Context, symbol string) error {
	if _, err := s.db.Exec(ctx, `delete from symbol_flags where symbol = $1`, symbol); err != nil {
		return fmt.Errorf("readmodel: clear %s: %w", symbol, err)
	}
	return nil
}

// Unknown returns the flagged symbols, sorted.
func (s *SymbolFlags) Unknown(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `select symbol from symbol_flags where flag = $1 order by symbol`, FlagUnknownSymbol)
	if err != nil {
		return nil, fmt.Errorf("readmodel: unknown symbols: %w", err)
	}
	symbols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("readmodel: unknown symbols: %w", err)
	}
	return symbols, nil
}
