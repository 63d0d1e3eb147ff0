package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMigrateCommand(t *testing.T) {
	dsn := testenv.Postgres(t)
	var out, errb bytes.Buffer
	if code := runMigrate([]string{"--database-url", dsn}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "applied migration 0001") || !strings.Contains(out.String(), "schema at version") {
		t.Errorf("first run: %q", out.String())
	}
	out.Reset()
	t.Setenv("DATABASE_URL", dsn)
	if code := runMigrate(nil, &out, &errb); code != exitOK || !strings.Contains(out.String(), "(0 applied now)") {
		t.Fatalf("second run: exit %d, %q %q", code, out.String(), errb.String())
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "select count(*) from schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d %v", n, err)
	}
}

func TestMigrateAndReplayFlags(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("EVENTS_TABLE", "")
	for _, c := range []struct {
		run  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		code int
		want string
	}{
		{wrap(runMigrate), nil, exitInput, "--database-url (or DATABASE_URL) is required"},
		{wrap(runMigrate), []string{"-h"}, exitOK, "usage: tracker migrate"},
		{wrap(runMigrate), []string{"--nope"}, exitInput, "flag provided but not defined"},
		{wrap(runMigrate), []string{"--database-url", "postgres://u:secret@[::1"}, exitInput, "database URL"},
		{wrap(runReplay), []string{"--database-url", "postgres://x/y"}, exitInput, "--events-table (or EVENTS_TABLE) is required"},
		{wrap(runReplay), []string{"--database-url", "postgres://x/y", "--events-table", "e", "--batch", "0"}, exitInput, "--batch"},
		{wrap(runReplay), []string{"--help"}, exitOK, "usage: tracker replay"},
	} {
		var out, errb bytes.Buffer
		code := c.run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("%v: exit %d, out %q, err %q; want %d and %q", c.args, code, out.String(), errb.String(), c.code, c.want)
		}
		if strings.Contains(errb.String(), "secret") || strings.Count(errb.String(), "\n") > 1 {
			t.Errorf("%v: stderr %q leaks the password or is not one line", c.args, errb.String())
		}
	}
}

func wrap(f func([]string, io.Writer, io.Writer) int) func([]string, *bytes.Buffer, *bytes.Buffer) int {
	return func(a []string, o, e *bytes.Buffer) int { return f(a, o, e) }
}
