package readmodel_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// The erasure reaches every table that holds a user's rows: each table of the
// public schema with a user_id, portfolio_id or aggregate_id column is in the
// report of erase_read_models (migration 0023), but for the tombstone itself.
// A new table fails here until the function erases it.
func TestErasureCoversEveryUserTable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, dsn := rmtest.DB(t)
	api, _ := readmodeltest.API(t, dsn)
	rows, err := owner.Query(ctx, `select distinct c.table_name from information_schema.columns c
	      join information_schema.tables t using (table_schema, table_name)
	     where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
	       and c.column_name in ('user_id', 'portfolio_id', 'aggregate_id') order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	store := readmodel.NewUsers(api)
	if _, err := store.BeginErasure(ctx, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	counts, err := store.EraseReadModels(ctx, rmtest.UserA, nil)
	if err != nil {
		t.Fatal(err)
	}
	var erased []string
	for _, c := range counts {
		erased = append(erased, strings.TrimPrefix(c.Store, readmodel.ErasedStorePrefix))
	}
	for _, tbl := range tables {
		if tbl != "erased_users" && tbl != "erased_portfolios" && !slices.Contains(erased, tbl) {
			t.Errorf("table %s has a user_id, portfolio_id or aggregate_id and erase_read_models does not erase it", tbl)
		}
	}
	if len(tables) < 20 {
		t.Fatalf("only %d tables found: the query is wrong", len(tables))
	}
}

// A writer in flight during DELETE /me must not re-insert what the erasure
// deleted: 0023's trigger drops the rows of an erased user_id, and a table
// keyed by portfolio_id without a user_id needs 0026's guard (the erased
// portfolios' tombstone). A new such table fails here until it has one.
func TestErasureGuardsEveryTableKeyedByPortfolio(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, _ := rmtest.DB(t)
	rows, err := owner.Query(ctx, `select c.table_name from information_schema.columns c
	      join information_schema.tables t using (table_schema, table_name)
	     where c.table_schema = 'public' and t.table_type = 'BASE TABLE' and c.column_name = 'portfolio_id'
	       and c.table_name <> 'erased_portfolios'
	       and not exists (select 1 from information_schema.columns u
	                        where u.table_schema = 'public' and u.table_name = c.table_name and u.column_name = 'user_id')
	       and not exists (select 1 from pg_trigger g join pg_proc f on f.oid = g.tgfoid
	                        where g.tgrelid = ('public.' || quote_ident(c.table_name))::regclass and not g.tgisinternal
	                          and f.proname = 'drop_rows_of_erased_portfolios'
	                          and g.tgtype & 2 <> 0 and g.tgtype & 4 <> 0) -- BEFORE, INSERT
	     order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	unguarded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(unguarded) > 0 {
		t.Errorf("tables keyed by portfolio_id without a user_id and without the erased portfolios' guard: %v", unguarded)
	}
	var guarded int
	if err := owner.QueryRow(ctx, `select count(*) from pg_trigger g join pg_proc f on f.oid = g.tgfoid
	     where f.proname = 'drop_rows_of_erased_portfolios'`).Scan(&guarded); err != nil || guarded < 2 {
		t.Fatalf("%d guarded tables (err %v): the query is wrong", guarded, err)
	}
}

// The erasure's functions erase the caller only: as no user they refuse, a
// tombstone comes first, and another user's portfolio passed in is left alone.
func TestErasureIsTheCallersOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, api, _ := callerFixture(t)
	store := readmodel.NewUsers(api)
	if _, err := store.EraseReadModels(ctx, rmtest.UserA, nil); err == nil || !strings.Contains(err.Error(), "erase_begin first") {
		t.Fatalf("erasure without a tombstone: %v", err)
	}
	if err := api.QueryRow(ctx, `select public.erase_begin()`).Scan(new(time.Time)); err == nil {
		t.Fatal("erase_begin as no user succeeded")
	}
	first, err := store.BeginErasure(ctx, rmtest.UserA)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := store.BeginErasure(ctx, rmtest.UserA); err != nil || !again.Equal(first) {
		t.Fatalf("a second tombstone: %v %v, want the first's time %v", again, err, first)
	}
	// The notifier's unsubscribes (its branch of 0021 creates the table; here if not).
	if _, err := owner.Exec(ctx, `create table if not exists public.notification_unsubscribes (id bigserial primary key, user_id uuid not null,
	      scope text not null, created_at timestamptz not null default now());
	    insert into public.notification_unsubscribes (user_id, scope) values ('`+rmtest.UserA+`', 'email'), ('`+rmtest.UserB+`', 'email')`); err != nil {
		t.Fatal(err)
	}
	bBefore := ownerCount(t, owner, `select count(*) from transactions where user_id = $1`, rmtest.UserB)
	if _, err := store.EraseReadModels(ctx, rmtest.UserA, []string{"pb"}); err != nil {
		t.Fatal(err)
	}
	if n := ownerCount(t, owner, `select count(*) from transactions where user_id = $1`, rmtest.UserA); n != 0 {
		t.Errorf("A's transactions left: %d", n)
	}
	if n := ownerCount(t, owner, `select count(*) from transactions where user_id = $1`, rmtest.UserB); n != bBefore || n == 0 {
		t.Errorf("B's transactions: %d, want %d", n, bBefore)
	}
	if a, b := ownerCount(t, owner, `select count(*) from notification_unsubscribes where user_id = $1`, rmtest.UserA),
		ownerCount(t, owner, `select count(*) from notification_unsubscribes where user_id = $1`, rmtest.UserB); a != 0 || b != 1 {
		t.Errorf("unsubscribes: A %d, B %d; want 0 and 1", a, b)
	}
	if n := ownerCount(t, owner, `select count(*) from projection_checkpoints where aggregate_id = 'pb'`); n != 1 {
		t.Errorf("B's checkpoint erased by A")
	}
	if _, err := store.Profile(ctx, rmtest.UserA); !errors.Is(err, users.ErrNoProfile) {
		t.Errorf("A's profile after the erasure: %v", err)
	}
	// What a writer in flight stores after the erasure is dropped: a firing of a
	// rule still cached, and with it its outbox entry; a weekly summary.
	if err := readmodel.NewAlertRules(owner).RecordFirings(ctx, []alerts.Firing{{Key: "late#1", RuleID: "late", UserID: rmtest.UserA,
		Kind: alerts.KindPriceAbove, Symbol: "AAPL", Observed: decimal.NewFromInt(2), Threshold: decimal.NewFromInt(1), At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if queued, err := readmodel.NewWeeklySummaries(owner).QueueWeeklySummaries(ctx, []analyticsjob.QueuedSummary{{UserID: rmtest.UserA,
		Day: calendar.MustNew(2026, time.January, 2), Payload: []byte(`{}`)}}); err != nil || len(queued) != 0 {
		t.Fatal(queued, err)
	}
	if n := ownerCount(t, owner, `select (select count(*) from alert_history where user_id = $1) + (select count(*) from notification_outbox where user_id = $1)`,
		rmtest.UserA); n != 0 {
		t.Errorf("%d rows of the erased user written after the erasure", n)
	}
	if n := ownerCount(t, owner, `select count(*) from alert_history where user_id = $1`, rmtest.UserB); n != 1 {
		t.Errorf("B's firings: %d", n)
	}
	// Writers keyed by portfolio alone: a scheduled run's status and the
	// value_drop samples of the erased portfolio are dropped too; B's land.
	metrics := readmodel.NewMetrics(owner)
	for _, ref := range []analyticsjob.PortfolioRef{{ID: "pa", UserID: rmtest.UserA, Version: 9}, {ID: "pb", UserID: rmtest.UserB, Version: 9}} {
		if err := metrics.MarkDone(ctx, analyticsjob.ModeDaily, calendar.MustNew(2026, time.January, 2), []analyticsjob.PortfolioRef{ref}); err != nil {
			t.Fatal(err)
		}
		if err := metrics.MarkFailed(ctx, analyticsjob.ModeWeekly, calendar.MustNew(2026, time.January, 2), []analyticsjob.Failure{{PortfolioID: ref.ID, Reason: "late"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Exec(ctx, `insert into alert_value_samples (portfolio_id, samples) values ($1, '[]')`, ref.ID); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := ownerCount(t, owner, `select (select count(*) from analytics_status where portfolio_id = $1) + (select count(*) from alert_value_samples where portfolio_id = $1)`, "pa"),
		ownerCount(t, owner, `select (select count(*) from analytics_status where portfolio_id = $1) + (select count(*) from alert_value_samples where portfolio_id = $1)`, "pb"); a != 0 || b != 3 {
		t.Errorf("rows written per portfolio after A's erasure: A's %d, B's %d; want 0 and 3", a, b)
	}
	// The trigger on auth.users makes no new profile of an erased user.
	if _, err := owner.Exec(ctx, `update auth.users set email = 'a2@example.com' where id = $1`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	if n := ownerCount(t, owner, `select count(*) from profiles where user_id = $1`, rmtest.UserA); n != 0 {
		t.Errorf("the auth trigger re-created an erased profile")
	}
}

// The projector and the erasure race for a portfolio: whichever order they
// take the portfolio's lock in, nothing of the erased user is left. The
// projector holds the lock (its transaction is open) when the erasure starts;
// the erasure waits, then deletes what it wrote. A projection after the
// tombstone writes nothing.
func TestErasureWaitsForTheProjectionInFlight(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, dsn := rmtest.DB(t)
	api, _ := readmodeltest.API(t, dsn)
	if _, err := owner.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com')`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	h := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	// A projection in flight: the lock the projector takes, held open.
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtextextended('pa', 7))`); err != nil {
		t.Fatal(err)
	}
	store := readmodel.NewUsers(api)
	if _, err := store.BeginErasure(ctx, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var eraseErr error
	wg.Go(func() { _, eraseErr = store.EraseReadModels(ctx, rmtest.UserA, []string{"pa"}) })
	// The projection commits its rows while the erasure waits.
	if _, err := tx.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
	      values ('pa', $1, 'Main', 'USD', 'FIFO', now(), now(), 1)`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `insert into projection_checkpoints (aggregate_id, version, updated_at) values ('pa', 1, now())`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if eraseErr != nil {
		t.Fatal(eraseErr)
	}
	if n := ownerCount(t, owner, `select count(*) from portfolios where id = 'pa'`) + ownerCount(t, owner, `select count(*) from projection_checkpoints where aggregate_id = 'pa'`); n != 0 {
		t.Fatalf("the projection in flight survived the erasure: %d rows", n)
	}
	// The stream delivers the whole history now: nothing is written.
	res, err := rmtest.NewProjector(owner).ApplyBatch(ctx, h.Events)
	if err != nil || res.Erased != len(h.Events) || len(res.Failures) > 0 {
		t.Fatalf("after the tombstone: %+v %v", res, err)
	}
	if n := ownerCount(t, owner, `select count(*) from portfolios`) + ownerCount(t, owner, `select count(*) from projection_checkpoints`) +
		ownerCount(t, owner, `select count(*) from transactions`); n != 0 {
		t.Fatalf("the stream resurrected %d rows", n)
	}
}

// GET/PATCH /me's store: the profile the trigger made, an update conditional on
// the version it read, a changed phone losing its verification, and the
// pending code with its SMS in the outbox in one statement.
func TestProfilesAndPhoneCodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, api, _ := callerFixture(t)
	store := readmodel.NewUsers(api)
	p, err := store.Profile(ctx, rmtest.UserA)
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "a@example.com" || p.TimeZone != user.DefaultTimeZone || p.BaseCurrency != "USD" || !slices.Equal(p.Notifications.Channels, []notify.Channel{notify.ChannelWebSocket}) {
		t.Fatalf("profile from the trigger: %+v", p)
	}
	if _, err := store.Profile(ctx, "not-a-uuid"); !errors.Is(err, users.ErrNoProfile) {
		t.Fatalf("bad ID: %v", err)
	}
	next := p
	next.TimeZone, next.Phone, next.DisplayName = "Europe/Berlin", "+14155550100", "Ada"
	next.Notifications.QuietHours = &notify.QuietHours{Start: "22:00", End: "07:00"}
	saved, err := store.UpdateProfile(ctx, next, p.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if saved.TimeZone != "Europe/Berlin" || saved.Phone != "+14155550100" || saved.Notifications.QuietHours.End != "07:00" || !saved.UpdatedAt.After(p.UpdatedAt) {
		t.Fatalf("saved %+v", saved)
	}
	if _, err := store.UpdateProfile(ctx, next, p.UpdatedAt); !errors.Is(err, users.ErrProfileChanged) {
		t.Fatalf("an update from a stale read: %v, want ErrProfileChanged", err)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	at := now.Add(10 * time.Minute)
	limits := users.CodeLimits{PerHour: 2, Interval: time.Minute}
	code := users.PhoneCode{Phone: "+14155550100", Hash: "v2:abc", ExpiresAt: at}
	if sent, err := store.StartPhoneCode(ctx, rmtest.UserA, code, "phone_code:"+rmtest.UserA+":n1", []byte(`{"phone":"+14155550100","code":"123456"}`), now, limits); err != nil || !sent.Queued || sent.InHour != 0 {
		t.Fatalf("start: %+v %v", sent, err)
	}
	if _, err := store.StartPhoneCode(ctx, rmtest.UserA, users.PhoneCode{Phone: "+4915100000000", Hash: "x", ExpiresAt: at}, "phone_code:"+rmtest.UserA+":n2", []byte(`{}`), now.Add(time.Hour), limits); !errors.Is(err, users.ErrNoProfile) {
		t.Fatalf("a code for a phone not on the profile: %v", err)
	}
	// Within the interval: refused with what was sent, nothing stored.
	if sent, err := store.StartPhoneCode(ctx, rmtest.UserA, users.PhoneCode{Phone: "+14155550100", Hash: "v2:def", ExpiresAt: at}, "phone_code:"+rmtest.UserA+":n3", []byte(`{}`), now.Add(59*time.Second), limits); err != nil || sent.Queued || sent.InHour != 1 || !sent.Last.Equal(now) {
		t.Fatalf("a code too soon: %+v %v", sent, err)
	}
	if n := ownerCount(t, owner, `select count(*) from notification_outbox where user_id = $1 and source = 'phone_code' and payload->>'code' = '123456'`, rmtest.UserA); n != 1 {
		t.Fatalf("the SMS is not in the outbox")
	}
	if n := ownerCount(t, owner, `select count(*) from notification_outbox where user_id = $1 and source = 'phone_code'`, rmtest.UserA); n != 1 {
		t.Fatalf("%d codes queued, want 1", n)
	}
	if _, err := store.GuessPhoneCode(ctx, rmtest.UserA, at, 5); !errors.Is(err, users.ErrCodeExpired) {
		t.Fatalf("a guess at expiry: %v", err)
	}
	got, err := store.GuessPhoneCode(ctx, rmtest.UserA, now, 2)
	if want := (users.PhoneCode{Phone: code.Phone, Hash: code.Hash, ExpiresAt: at, Attempts: 1}); err != nil || got != want {
		t.Fatalf("guess %+v %v, want %+v", got, err, want)
	}
	if _, err := store.GuessPhoneCode(ctx, rmtest.UserA, now, 1); !errors.Is(err, users.ErrTooManyAttempts) {
		t.Fatalf("a guess past the bound: %v", err)
	}
	// The confirmation re-checks the code, its expiry and its guesses.
	for name, c := range map[string]struct {
		code users.PhoneCode
		at   time.Time
		max  int
	}{"another code": {users.PhoneCode{Phone: code.Phone, Hash: "v2:other"}, now, 5}, "expired": {got, at, 5}, "too many guesses": {got, now, 0}} {
		if err := store.ConfirmPhone(ctx, rmtest.UserA, c.code, c.at, c.max); !errors.Is(err, users.ErrNoPendingCode) {
			t.Fatalf("confirm %s: %v", name, err)
		}
	}
	if err := store.ConfirmPhone(ctx, rmtest.UserA, got, now, 5); err != nil {
		t.Fatal(err)
	}
	if p, _ := store.Profile(ctx, rmtest.UserA); !p.PhoneVerified {
		t.Fatal("phone not verified")
	}
	if _, err := store.GuessPhoneCode(ctx, rmtest.UserA, now, 5); !errors.Is(err, users.ErrNoPendingCode) {
		t.Fatalf("the code outlived its use: %v", err)
	}
	// A new phone is not verified.
	cur, _ := store.Profile(ctx, rmtest.UserA)
	cur.Phone = "+4915100000000"
	cur.PhoneVerified = true // what a careless caller may pass: the store still clears it
	if p, err := store.UpdateProfile(ctx, cur, cur.UpdatedAt); err != nil || p.PhoneVerified {
		t.Fatalf("new phone: verified %v, err %v", p.PhoneVerified, err)
	}
}
