package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portfoliotracker/tracker/shared/calendar"
	"github.com/portfoliotracker/tracker/shared/dynamo"
	"github.com/portfoliotracker/tracker/shared/eventstore/dynamostore"
	"github.com/portfoliotracker/tracker/shared/portfolio"
	"github.com/portfoliotracker/tracker/shared/testenv"
	"github.com/portfoliotracker/tracker/shared/topology"
	"github.com/shopspring/decimal"
)

// replay end to end: events written by the DynamoDB adapter, rebuilt into a fresh
// database by the command, twice.
func TestReplayCommand(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoDB(t) // also points the AWS SDK's environment at the emulator
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	n := 0
	meta := func() portfolio.Meta {
		n++
		return portfolio.Meta{UserID: "0a0a0a0a-0000-4000-8000-00000000000a", Now: time.Date(2024, 1, 1, 0, n, 0, 0, time.UTC)}
	}
	for _, id := range []string{"r1", "r2"} {
		p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: id, BaseCurrency: "USD"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			tx := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2024, 1, 2+i), Symbol: "AAPL",
				Quantity: decimal.NewFromInt(int64(i + 1)), Price: decimal.NewFromInt(100), Currency: "USD"}
			if _, err := p.RecordTransaction(tx, meta()); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Append(ctx, id, 0, p.Pending(), nil); err != nil {
			t.Fatal(err)
		}
	}
	dsn := testenv.Postgres(t)
	for run := range 2 {
		var out, errb bytes.Buffer
		code := runReplay([]string{"--database-url", dsn, "--events-table", name, "--segments", "2"}, &out, &errb)
		if code != exitOK || !strings.Contains(out.String(), "replayed 8 events of 2 aggregates") {
			t.Fatalf("run %d: exit %d, out %q, err %q", run, code, out.String(), errb.String())
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var q string
	if err := conn.QueryRow(ctx, "select sum(quantity)::text from positions where symbol = 'AAPL'").Scan(&q); err != nil || q != "12" {
		t.Fatalf("AAPL quantity over both portfolios %q (err %v), want 12", q, err)
	}
}
