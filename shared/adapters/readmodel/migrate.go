package readmodel

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema migration, migrations/NNNN_name.sql.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // sha256 of SQL, hex
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == "" {
			return nil, fmt.Errorf("readmodel: migration file %q is not NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("readmodel: two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// Beginner is what Migrate needs: a *pgxpool.Pool or a *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrateLockKey is the transaction-level advisory lock every migration step holds
// (a session-level lock would not survive the transaction pooler).
const migrateLockKey int64 = 0x7074_726d_6d69_6772 // "ptrmmigr"

// rewordedComments are the checksums migrations had before only their comments
// changed (they cited a design sketch by the sections docs/architecture.md now
// holds). A database that applied the earlier text is up to date; its recorded
// checksum is moved to the current one. Never add a change of SQL here.
var rewordedComments = map[int]string{
	1: "a5b04c9444cef29ca7751bdc64f7e404ebe83efc9db655b1a6cbd4d129d9fc74",
	2: "8160055d12f0d31bfaed8734a7696cb7cd7418c30722ba59861275116fa0ceaf",
}

// Migrate applies the embedded migrations not yet applied, in order, each in its
// own transaction together with its schema_migrations row, and returns the
// versions it applied. It is idempotent, and safe to run concurrently: every step
// holds an advisory lock and re-reads what is applied under it. A migration whose
// file changed after it was applied is an error (write a new migration instead).
func Migrate(ctx context.Context, db Beginner) (applied []int, err error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	done, err := appliedMigrations(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range migrations {
		if sum, ok := done[m.Version]; ok {
			if sum != m.Checksum && sum == rewordedComments[m.Version] {
				if err := recordChecksum(ctx, db, m); err != nil {
					return applied, err
				}
				continue
			}
			if sum != m.Checksum {
				return applied, fmt.Errorf("readmodel: migration %04d_%s changed after it was applied (checksum %.12s…, applied %.12s…)",
					m.Version, m.Name, m.Checksum, sum)
			}
			continue
		}
		ok, err := applyMigration(ctx, db, m)
		if err != nil {
			return applied, err
		}
		if ok {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

func appliedMigrations(ctx context.Context, db Beginner) (map[int]string, error) {
	done := map[int]string{}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `create table if not exists public.schema_migrations (
			version    integer primary key,
			name       text not null,
			checksum   text not null,
			applied_at timestamptz not null default now()
		);
		alter table public.schema_migrations enable row level security`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "select version, checksum from public.schema_migrations")
		if err != nil {
			return err
		}
		var v int
		var sum string
		_, err = pgx.ForEachRow(rows, []any{&v, &sum}, func() error {
			done[v] = sum
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("readmodel: read schema_migrations: %w", err)
	}
	return done, nil
}

// applyMigration applies m unless, under the lock, it turns out another migrator
// has meanwhile (ok = false).
func applyMigration(ctx context.Context, db Beginner, m Migration) (ok bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "select exists (select 1 from public.schema_migrations where version = $1)", m.Version).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "insert into public.schema_migrations (version, name, checksum) values ($1, $2, $3)",
			m.Version, m.Name, m.Checksum); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("readmodel: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return ok, nil
}

// recordChecksum moves an applied migration's recorded checksum to m's.
func recordChecksum(ctx context.Context, db Beginner, m Migration) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "update public.schema_migrations set checksum = $2 where version = $1", m.Version, m.Checksum); err != nil {
			return fmt.Errorf("readmodel: record the checksum of migration %04d: %w", m.Version, err)
		}
		return nil
	})
}
