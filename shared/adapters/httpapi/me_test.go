package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// userAPI is the API with the user service over DynamoDB Local and PostgreSQL,
// wired as functions/api wires it: the API's login for every read and write of
// the caller's, the owner's pool for what other functions write (the projector,
// the prices consumer, the notifier), and Supabase Auth played by auth.users.
type userAPI struct {
	*api
	ctx         context.Context
	dynamo      *dynamodb.Client
	tables      map[string]string // logical → physical
	events      *dynamostore.Store
	connections *wsconn.Store
	owner       *pgxpool.Pool
	projector   *readmodel.Projector
	now         time.Time
	codesMu     sync.Mutex
	codes       []string // the codes the service generated, newest last
}

// phoneCodeKey is the server's key of the phone codes' hashes in these tests.
var phoneCodeKey = []byte("test phone code key")

func newUserAPI(t *testing.T) *userAPI {
	t.Helper()
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	tables := map[string]string{}
	for _, logical := range []string{topology.EventsTable, topology.ConnectionsTable, topology.QuotasTable} {
		tables[logical] = testenv.UniqueName(t, logical)
		table, _ := topology.TableByName(logical)
		if err := dynamo.CreateTable(ctx, client, table, tables[logical]); err != nil {
			t.Fatal(err)
		}
	}
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{ApplicationName: "me-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	callerDB, _ := readmodeltest.API(t, dsn)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	store := dynamostore.New(client, tables[topology.EventsTable], dynamostore.Options{})
	quotas := dynamoquota.New(client, tables[topology.QuotasTable])
	conns := wsconn.New(client, tables[topology.ConnectionsTable], wsconn.Options{})
	u := &userAPI{ctx: ctx, dynamo: client, tables: tables, events: store, connections: conns, owner: pool,
		projector: readmodel.NewProjector(pool, readmodel.ProjectorOptions{Logger: quiet, Metrics: io.Discard}),
		now:       time.Now().UTC().Truncate(time.Second)}
	profiles := readmodel.NewUsers(callerDB)
	svc := users.New(users.Config{Profiles: profiles, PhoneCodes: profiles, ReadModels: profiles, Auth: authUsers{pool},
		Events: dynamostore.NewEraser(client, tables[topology.EventsTable]), Connections: conns,
		Quotas: dynamoquota.NewEraser(client, tables[topology.QuotasTable]), PhoneCodeKey: phoneCodeKey, Logger: quiet,
		Now: func() time.Time { return u.now },
		NewCode: func() (string, error) {
			u.codesMu.Lock()
			defer u.codesMu.Unlock()
			u.codes = append(u.codes, fmt.Sprintf("%06d", 100000+len(u.codes)))
			return u.codes[len(u.codes)-1], nil
		}})
	srv := httpapi.New(httpapi.Config{Commands: command.New(store, command.Options{Logger: quiet, Quotas: quotas, Accounts: svc}), Events: store,
		Queries: readmodel.NewQueries(callerDB), Alerts: readmodel.NewAlertRules(callerDB), Quotas: quotas, Logger: quiet, Users: svc})
	u.api = &api{t: t, handler: httplambda.Handler(srv)}
	for _, id := range []string{alice, bob} {
		if _, err := pool.Exec(ctx, `insert into auth.users (id, email, email_confirmed_at, raw_user_meta_data)
		     values ($1, $2, now(), '{"display_name":"Demo"}')`, id, id[:4]+"@example.test"); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// authUsers plays Supabase Auth's admin API over auth.users (the local stand-in
// keeps its users there too).
type authUsers struct{ pool *pgxpool.Pool }

func (a authUsers) AuthUser(ctx context.Context, id string) (users.AuthUser, error) {
	u := users.AuthUser{ID: id}
	err := a.pool.QueryRow(ctx, `select coalesce(email, ''), email_confirmed_at is not null, coalesce(raw_user_meta_data->>'display_name', ''), created_at
	      from auth.users where id = $1`, id).Scan(&u.Email, &u.EmailConfirmed, &u.DisplayName, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return users.AuthUser{}, users.ErrAuthUserNotFound
	}
	return u, err
}

func (a authUsers) DeleteAuthUser(ctx context.Context, id string) error {
	tag, err := a.pool.Exec(ctx, `delete from auth.users where id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return users.ErrAuthUserNotFound
	}
	return err
}

// project applies every event of the portfolios to the read models, as the
// stream would, and returns them (to deliver again later).
func (u *userAPI) project(ids ...string) []portfolio.Event {
	u.t.Helper()
	var all []portfolio.Event
	for _, id := range ids {
		evs, err := u.events.Events(u.ctx, id, 1, 1<<40)
		if err != nil {
			u.t.Fatal(err)
		}
		all = append(all, evs...)
	}
	if failed, err := u.projector.Apply(u.ctx, all); err != nil || len(failed) > 0 {
		u.t.Fatalf("project: failed %v, err %v", failed, err)
	}
	return all
}

// activity gives the user everything a user has: portfolios with transactions
// and targets, projected; valuations; an alert rule with a firing, its outbox
// entry, a delivery and its attempt; a pending phone code; a symbol watch; two
// WebSocket connections. It returns the user's portfolio IDs.
func (u *userAPI) activity(user string) []string {
	u.t.Helper()
	var ids []string
	for i := range 2 {
		p := u.do(user, "POST", "/portfolios", `{"name":"Main","baseCurrency":"USD"}`, "Idempotency-Key", fmt.Sprintf("%s-p%d", user, i))
		u.expect(p, 201, "")
		id := p.data()["id"].(string)
		ids = append(ids, id)
		u.expect(u.do(user, "POST", "/portfolios/"+id+"/transactions", `{"type":"DEPOSIT","date":"2024-01-02","amount":"10000"}`, "Idempotency-Key", id+"-d"), 201, "")
		u.expect(u.do(user, "POST", "/portfolios/"+id+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"185.64","fee":"1"}`, "Idempotency-Key", id+"-b"), 201, "")
		u.expect(u.do(user, "PUT", "/portfolios/"+id+"/targets", `{"targets":[{"symbol":"AAPL","weight":"1"}],"driftBand":"0.05"}`), 200, "")
	}
	u.project(ids...)
	if _, err := readmodel.NewValuations(u.owner).InsertValuations(u.ctx, []readmodel.Valuation{{PortfolioID: ids[0], UserID: user, AsOf: u.now,
		MarketValue: decimal.NewFromInt(1900), CostBasis: decimal.NewFromInt(1857), UnrealizedPnL: decimal.NewFromInt(43)}}); err != nil {
		u.t.Fatal(err)
	}
	rule := u.do(user, "POST", "/alerts", `{"kind":"value_drop","portfolioId":"`+ids[0]+`","threshold":"0.1","window":"24h"}`)
	u.expect(rule, 201, "")
	ruleID := rule.body["id"].(string)
	if err := readmodel.NewAlertRules(u.owner).RecordFirings(u.ctx, []alerts.Firing{{Key: ruleID + "#1", RuleID: ruleID, UserID: user,
		Kind: alerts.KindValueDrop, PortfolioID: ids[0], Observed: decimal.NewFromFloat(0.12), Threshold: decimal.NewFromFloat(0.1), At: u.now}}); err != nil {
		u.t.Fatal(err)
	}
	// What the notifier makes of the firing (the notifier's own tests plan it for real).
	if _, err := u.owner.Exec(u.ctx, `with d as (
	      insert into notification_deliveries (outbox_id, user_id, source, channel, status, address, attempts)
	      select id, user_id, source, 'email', 'sent', 'x@example.test', 1 from notification_outbox where user_id = $1 returning id, user_id)
	    insert into notification_attempts (delivery_id, user_id, outcome) select id, user_id, 'sent' from d`, user); err != nil {
		u.t.Fatal(err)
	}
	if _, err := u.owner.Exec(u.ctx, `insert into symbol_watchers (symbol, connection_id, user_id, expires_at) values ('MSFT', $1, $2, now() + interval '1 hour')`,
		"conn-"+user[:8], user); err != nil {
		u.t.Fatal(err)
	}
	for i := range 2 {
		if _, err := u.connections.Put(u.ctx, fmt.Sprintf("conn-%s-%d", user[:8], i), user); err != nil {
			u.t.Fatal(err)
		}
	}
	u.expect(u.do(user, "PATCH", "/me", `{"phone":"+14155550100","displayName":"Ada"}`), 200, "")
	u.expect(u.do(user, "POST", "/me/phone", ``), 202, "")
	return ids
}

// traces lists where anything of the user is left: every item of every
// DynamoDB table and every row of every PostgreSQL table whose text holds the
// user's ID or one of the portfolio IDs, but for the places allowed to.
func (u *userAPI) traces(user string, portfolios []string) []string {
	u.t.Helper()
	needles := append([]string{user}, portfolios...)
	var found []string
	for logical, name := range u.tables {
		p := dynamodb.NewScanPaginator(u.dynamo, &dynamodb.ScanInput{TableName: aws.String(name), ConsistentRead: aws.Bool(true)})
		for p.HasMorePages() {
			page, err := p.NextPage(u.ctx)
			if err != nil {
				u.t.Fatal(err)
			}
			for _, it := range page.Items {
				if s := fmt.Sprint(flatten(it)); containsAny(s, needles) {
					found = append(found, "dynamodb."+logical+": "+s)
				}
			}
		}
	}
	// The tombstone is the user's ID by design; the marks are cache tokens keyed
	// 'p:'/'hp:' + portfolio ID, moved by the erasure so that the prices
	// consumer's caches drop the portfolio.
	allowed := []string{"public.erased_users", "public.erased_portfolios", "public.alert_state_marks", "public.holding_marks"}
	rows, err := u.owner.Query(u.ctx, `select table_schema || '.' || table_name from information_schema.tables
	     where table_schema in ('public', 'auth') and table_type = 'BASE TABLE' order by 1`)
	if err != nil {
		u.t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		u.t.Fatal(err)
	}
	for _, tbl := range tables {
		if slices.Contains(allowed, tbl) {
			continue
		}
		rows, err := u.owner.Query(u.ctx, `select t::text from `+tbl+` t`)
		if err != nil {
			u.t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			u.t.Fatal(err)
		}
		for _, s := range texts {
			if containsAny(s, needles) {
				found = append(found, "postgres."+tbl+": "+s)
			}
		}
	}
	slices.Sort(found)
	return found
}

func flatten(it map[string]types.AttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range it {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = v.Value
		case *types.AttributeValueMemberSS:
			out[k] = v.Value
		case *types.AttributeValueMemberN:
			out[k] = v.Value
		case *types.AttributeValueMemberB:
			out[k] = string(v.Value)
		default:
			out[k] = fmt.Sprintf("%T", v)
		}
	}
	return out
}

func containsAny(s string, needles []string) bool {
	return slices.ContainsFunc(needles, func(n string) bool { return strings.Contains(s, n) })
}

// The acceptance test of DELETE /me: a user with portfolios, transactions,
// targets, valuations, rules, firings, notifications, a phone code, a watch and
// connections is erased; then no DynamoDB table and no PostgreSQL table holds
// anything of theirs, the other user's data is as it was, events of the user
// still in the stream project nothing, a retry reports zeros, and the account
// is gone.
func TestDeleteMeErasesTheUserEverywhere(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	mine := u.activity(alice)
	theirs := u.activity(bob)
	if len(u.traces(alice, mine)) == 0 {
		t.Fatal("the scan finds nothing of alice before the erasure: it proves nothing")
	}
	bobBefore := u.traces(bob, theirs)
	stream := u.project(mine...) // what the stream may still deliver after the erasure

	r := u.do(alice, "DELETE", "/me", "")
	u.expect(r, 200, "")
	erased, _ := r.body["erased"].(map[string]any)
	for store, atLeast := range map[string]float64{"dynamodb.events": 8, "dynamodb.connections": 3, "dynamodb.quotas": 2,
		"postgres.transactions": 4, "postgres.portfolios": 2, "postgres.positions": 2, "postgres.targets": 2, "postgres.valuations": 1,
		"postgres.alert_rules": 1, "postgres.alert_history": 1, "postgres.notification_outbox": 2, "postgres.notification_deliveries": 1,
		"postgres.notification_attempts": 1, "postgres.symbol_watchers": 1, "postgres.profiles": 1, "postgres.projection_checkpoints": 2,
		"auth.users": 1} {
		if n, _ := erased[store].(float64); n < atLeast {
			t.Errorf("erased %s: %v, want at least %v (report %s)", store, erased[store], atLeast, r.raw)
		}
	}
	if left := u.traces(alice, mine); len(left) > 0 {
		t.Fatalf("left of alice after DELETE /me:\n%s", strings.Join(left, "\n"))
	}
	if after := u.traces(bob, theirs); !slices.Equal(after, bobBefore) {
		t.Fatalf("bob's data changed: %d traces before, %d after", len(bobBefore), len(after))
	}

	// The stream delivers alice's events again: the tombstone projects nothing.
	res, err := u.projector.ApplyBatch(u.ctx, stream)
	if err != nil || len(res.Failures) > 0 || res.Erased != len(stream) {
		t.Fatalf("redelivered events: %+v, err %v; want all %d erased", res, err, len(stream))
	}
	if left := u.traces(alice, mine); len(left) > 0 {
		t.Fatalf("the stream resurrected alice:\n%s", strings.Join(left, "\n"))
	}

	again := u.do(alice, "DELETE", "/me", "")
	u.expect(again, 200, "")
	if again.body["total"] != 0.0 || again.body["erasedAt"] != r.body["erasedAt"] {
		t.Fatalf("a retry erased more, or began anew: %s (first %s)", again.raw, r.raw)
	}
	u.expect(u.do(alice, "GET", "/me", ""), 410, httpapi.CodeAccountDeleted)
	u.expect(u.do(bob, "GET", "/me", ""), 200, "")
	// Alice's access token is valid until it expires: it starts nothing new.
	u.expect(u.do(alice, "POST", "/portfolios", `{"name":"Again","baseCurrency":"USD"}`, "Idempotency-Key", "after"), 410, httpapi.CodeAccountDeleted)
	u.expect(u.do(alice, "POST", "/alerts", `{"kind":"price_above","symbol":"AAPL","threshold":"1"}`), 410, httpapi.CodeAccountDeleted)
	u.expect(u.do(alice, "POST", "/portfolios/"+mine[0]+"/transactions", `{"type":"DEPOSIT","date":"2024-01-02","amount":"1"}`, "Idempotency-Key", "late"), 404, httpapi.CodeNotFound)
	if left := u.traces(alice, mine); len(left) > 0 {
		t.Fatalf("alice's token stored something after the erasure:\n%s", strings.Join(left, "\n"))
	}
}

// A request in flight when DELETE /me begins: once the tombstone is written,
// a command on a portfolio whose events are still there (the erasure has not
// reached them yet) appends nothing and answers 410, whichever route.
func TestCommandsAfterTheErasureBeganAreRefused(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	id := u.createPortfolio(alice, "before")
	before, err := u.events.Events(u.ctx, id, 1, 1<<40)
	if err != nil || len(before) == 0 {
		t.Fatalf("events before: %d %v", len(before), err)
	}
	if _, err := u.owner.Exec(u.ctx, `insert into erased_users (user_id) values ($1)`, alice); err != nil {
		t.Fatal(err)
	}
	u.expect(u.do(alice, "POST", "/portfolios/"+id+"/transactions", `{"type":"DEPOSIT","date":"2024-01-02","amount":"1"}`, "Idempotency-Key", "late"),
		410, httpapi.CodeAccountDeleted)
	u.expect(u.do(alice, "PUT", "/portfolios/"+id+"/targets", `{"targets":[{"symbol":"AAPL","weight":"1"}],"driftBand":"0.05"}`), 410, httpapi.CodeAccountDeleted)
	after, err := u.events.Events(u.ctx, id, 1, 1<<40)
	if err != nil || len(after) != len(before) {
		t.Fatalf("events after the tombstone: %d, want %d (err %v)", len(after), len(before), err)
	}
	// Bob's commands are his own.
	u.expect(u.do(bob, "POST", "/portfolios/"+u.createPortfolio(bob, "bob")+"/transactions", `{"type":"DEPOSIT","date":"2024-01-02","amount":"1"}`,
		"Idempotency-Key", "b1"), 201, "")
}

// An erasure cut short finishes on a retry: here the Supabase Auth user
// survives a first attempt (Auth down), the data is gone, and the retry deletes
// the Auth user.
func TestDeleteMeResumes(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	mine := u.activity(alice)
	// Auth refuses the delete: a trigger stands for the outage.
	if _, err := u.owner.Exec(u.ctx, `create function public.test_auth_down() returns trigger language plpgsql as $$
	    begin raise exception 'auth is down'; end $$;
	  create trigger test_auth_down before delete on auth.users for each row execute function public.test_auth_down()`); err != nil {
		t.Fatal(err)
	}
	u.expect(u.do(alice, "DELETE", "/me", ""), 500, "")
	left := u.traces(alice, mine)
	if len(left) != 1 || !strings.HasPrefix(left[0], "postgres.auth.users:") {
		t.Fatalf("after a failed Auth delete, want only the Auth user left, got:\n%s", strings.Join(left, "\n"))
	}
	if _, err := u.owner.Exec(u.ctx, `drop trigger test_auth_down on auth.users`); err != nil {
		t.Fatal(err)
	}
	r := u.do(alice, "DELETE", "/me", "")
	u.expect(r, 200, "")
	if erased, _ := r.body["erased"].(map[string]any); erased["auth.users"] != 1.0 || r.body["total"] != 1.0 {
		t.Fatalf("the retry: %s, want only the Auth user", r.raw)
	}
	if left := u.traces(alice, mine); len(left) > 0 {
		t.Fatalf("left after the retry:\n%s", strings.Join(left, "\n"))
	}
}

// GET /me answers the profile Supabase Auth's trigger made; PATCH /me merges
// (absent kept, null reset, notifications field by field), validates the whole
// profile with a 422 naming the field, refuses the read-only fields, and a new
// phone is unverified.
func TestMeGetAndMergePatch(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	r := u.do(alice, "GET", "/me", "")
	u.expect(r, 200, "")
	if r.body["email"] != alice[:4]+"@example.test" || r.body["emailVerified"] != true || r.body["timeZone"] != "UTC" || r.body["phone"] != nil ||
		r.body["displayName"] != "Demo" {
		t.Fatalf("GET /me: %s", r.raw)
	}
	r = u.do(alice, "PATCH", "/me", `{"timeZone":"Europe/Berlin","locale":"de-DE","baseCurrency":"EUR","notifications":{"channels":["email","websocket"],"quietHours":{"start":"22:00","end":"07:00"},"byKind":{"price_above":["sms"]}}}`,
		"Content-Type", "application/merge-patch+json")
	u.expect(r, 200, "")
	prefs := r.body["notifications"].(map[string]any)
	if r.body["timeZone"] != "Europe/Berlin" || r.body["baseCurrency"] != "EUR" || r.body["displayName"] != "Demo" ||
		fmt.Sprint(prefs["channels"]) != "[email websocket]" || prefs["weeklySummary"] != true || prefs["digest"] != "off" {
		t.Fatalf("PATCH /me: %s", r.raw)
	}
	// Field by field: quiet hours removed, digest set, the rest kept.
	r = u.do(alice, "PATCH", "/me", `{"notifications":{"quietHours":null,"digest":"daily"},"locale":null}`)
	u.expect(r, 200, "")
	prefs = r.body["notifications"].(map[string]any)
	if prefs["quietHours"] != nil || prefs["digest"] != "daily" || fmt.Sprint(prefs["byKind"]) != "map[price_above:[sms]]" || r.body["locale"] != "en-US" || r.body["timeZone"] != "Europe/Berlin" {
		t.Fatalf("second PATCH: %s", r.raw)
	}
	for _, c := range []struct{ body, status, code, field string }{
		{`{"timeZone":"Mars/Olympus"}`, "422", httpapi.CodeValidation, "timeZone"},
		{`{"baseCurrency":"XYZW"}`, "422", httpapi.CodeValidation, "baseCurrency"},
		{`{"phone":"0800 123"}`, "422", httpapi.CodeValidation, "phone"},
		{`{"notifications":{"channels":["pigeon"]}}`, "422", httpapi.CodeValidation, "notifications.channels"},
		{`{"notifications":{"byKind":{"nope":["email"]}}}`, "422", httpapi.CodeValidation, "notifications.byKind.nope"},
		{`{"notifications":{"quietHours":{"start":"25:00","end":"07:00"}}}`, "422", httpapi.CodeValidation, "notifications.quietHours.start"},
		{`{"notifications":{"colour":"red"}}`, "400", httpapi.CodeInvalidJSON, "notifications.colour"},
		{`{"email":"evil@example.test"}`, "422", httpapi.CodeValidation, "email"},
		{`{"phoneVerified":true}`, "422", httpapi.CodeValidation, "phoneVerified"},
		{`{"shoeSize":"44"}`, "400", httpapi.CodeInvalidJSON, "shoeSize"},
		{`{"displayName":7}`, "400", httpapi.CodeInvalidJSON, "displayName"},
		{`[1]`, "400", httpapi.CodeInvalidJSON, ""},
	} {
		r := u.do(alice, "PATCH", "/me", c.body)
		if fmt.Sprint(r.status) != c.status || r.errorCode() != c.code {
			t.Errorf("PATCH %s: %d %s, want %s %s (%s)", c.body, r.status, r.errorCode(), c.status, c.code, r.raw)
			continue
		}
		if d, _ := r.body["error"].(map[string]any)["details"].(map[string]any); c.field != "" && (d == nil || d["field"] != c.field) {
			t.Errorf("PATCH %s: details %v, want field %s", c.body, d, c.field)
		}
	}
	if r := u.do(alice, "GET", "/me", ""); r.body["timeZone"] != "Europe/Berlin" {
		t.Fatalf("a refused patch changed the profile: %s", r.raw)
	}
	// Bob sees his own profile only.
	if r := u.do(bob, "GET", "/me", ""); r.body["userId"] != bob || r.body["timeZone"] != "UTC" {
		t.Fatalf("bob's profile: %s", r.raw)
	}
}

// A user whose profile row is missing (signed up where the trigger could not be
// installed) gets one made from Supabase Auth on the first GET /me.
func TestMeMakesAMissingProfileFromSupabaseAuth(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	if _, err := u.owner.Exec(u.ctx, `delete from profiles where user_id = $1`, alice); err != nil {
		t.Fatal(err)
	}
	r := u.do(alice, "GET", "/me", "")
	u.expect(r, 200, "")
	if r.body["email"] != alice[:4]+"@example.test" || r.body["emailVerified"] != true || r.body["displayName"] != "Demo" || r.body["locale"] != "en-US" {
		t.Fatalf("profile made from Auth: %s", r.raw)
	}
	var n int
	if err := u.owner.QueryRow(u.ctx, `select count(*) from profiles where user_id = $1`, alice).Scan(&n); err != nil || n != 1 {
		t.Fatalf("profiles of alice: %d %v", n, err)
	}
	// A user Auth does not know has no profile.
	const stranger = "7d1e0c6a-2b4f-4e8a-9c3d-5f6a7b8c9d0e"
	u.expect(u.do(stranger, "GET", "/me", ""), 404, httpapi.CodeNotFound)
}

// Phone verification: a code goes out through the outbox to the profile's
// phone, the right code verifies it, wrong ones count and kill the code at 5,
// codes expire, are rate-limited, and a code for an old number verifies no new
// one.
func TestPhoneVerification(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 422, httpapi.CodePhoneRequired)
	r := u.do(alice, "POST", "/me/phone", `{"phone":"+14155550100"}`)
	u.expect(r, 202, "")
	if r.body["phone"] != "+14155550100" || r.body["expiresAt"] != u.now.Add(users.PhoneCodeTTL).Format(time.RFC3339) {
		t.Fatalf("start: %s", r.raw)
	}
	var phone, code string
	if err := u.owner.QueryRow(u.ctx, `select payload->>'phone', payload->>'code' from notification_outbox
	     where user_id = $1 and source = 'phone_code' and source_key like 'phone_code:' || $1 || ':%'`, alice).Scan(&phone, &code); err != nil {
		t.Fatal(err)
	}
	if phone != "+14155550100" || code != u.codes[0] {
		t.Fatalf("outbox: %s %s, want the code %s", phone, code, u.codes[0])
	}
	var hash string
	if err := u.owner.QueryRow(u.ctx, `select phone_code_hash from profiles where user_id = $1`, alice).Scan(&hash); err != nil || strings.Contains(hash, code) {
		t.Fatalf("the profile keeps %q (err %v): want a hash, never the code", hash, err)
	}
	// Keyed with the server's secret: without the key, a million guesses
	// offline find nothing.
	mac := hmac.New(sha256.New, phoneCodeKey)
	mac.Write([]byte("phone-code:v2\x00" + alice + "\x00" + phone + "\x00" + code))
	if want := "v2:" + hex.EncodeToString(mac.Sum(nil)); hash != want {
		t.Fatalf("the stored hash %q is not the code's HMAC under the server's key", hash)
	}
	// Too soon for another.
	again := u.do(alice, "POST", "/me/phone", ``)
	u.expect(again, 429, httpapi.CodeTooManyRequests)
	if again.headers["Retry-After"] != "60" {
		t.Fatalf("Retry-After %q", again.headers["Retry-After"])
	}
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"12345"}`), 422, httpapi.CodeValidation)
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"999999"}`), 422, httpapi.CodeWrongCode)
	// Bob's code box is empty: alice's code does nothing for him.
	u.expect(u.do(bob, "POST", "/me/phone/verify", `{"code":"`+code+`"}`), 422, httpapi.CodeNoPendingCode)
	r = u.do(alice, "POST", "/me/phone/verify", `{"code":"`+code+`"}`)
	u.expect(r, 200, "")
	if r.body["phoneVerified"] != true || r.body["phone"] != "+14155550100" {
		t.Fatalf("verify: %s", r.raw)
	}
	u.expect(u.do(alice, "POST", "/me/phone", ``), 409, httpapi.CodePhoneVerified)

	// A new number: unverified; its code dies after 5 wrong guesses.
	r = u.do(alice, "PATCH", "/me", `{"phone":"+4915100000000"}`)
	if u.expect(r, 200, ""); r.body["phoneVerified"] != false {
		t.Fatalf("a new phone stayed verified: %s", r.raw)
	}
	u.now = u.now.Add(time.Minute)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 202, "")
	for i := 1; i < users.MaxWrongCodes; i++ {
		u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"999999"}`), 422, httpapi.CodeWrongCode)
	}
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"999999"}`), 422, httpapi.CodeCodeAttemptsExceeded)
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"`+u.codes[1]+`"}`), 422, httpapi.CodeCodeAttemptsExceeded)

	// A fresh code expires after ten minutes.
	u.now = u.now.Add(time.Minute)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 202, "")
	u.now = u.now.Add(users.PhoneCodeTTL)
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"`+u.codes[2]+`"}`), 422, httpapi.CodeCodeExpired)

	// A code sent to one number does not verify another.
	u.now = u.now.Add(time.Minute)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 202, "")
	u.expect(u.do(alice, "PATCH", "/me", `{"phone":"+4915100000001"}`), 200, "")
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"`+u.codes[3]+`"}`), 422, httpapi.CodeNoPendingCode)

	// At most five codes an hour.
	u.now = u.now.Add(time.Minute)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 202, "")
	u.now = u.now.Add(time.Minute)
	u.expect(u.do(alice, "POST", "/me/phone", ``), 429, httpapi.CodeTooManyRequests)
}

// Parallel requests hold the phone's limits: of many starts at once one code
// goes out (a minute between codes), and of many wrong guesses at once
// MaxWrongCodes are counted and the code is dead after them, the right code
// included.
func TestPhoneLimitsHoldUnderParallelRequests(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	u.expect(u.do(alice, "PATCH", "/me", `{"phone":"+14155550100"}`), 200, "")
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = u.do(alice, "POST", "/me/phone", ``).status })
	}
	wg.Wait()
	if started := slices.Index(statuses, 202); started < 0 || slices.Index(statuses[started+1:], 202) >= 0 {
		t.Fatalf("parallel starts answered %v: want one 202, the others 429", statuses)
	}
	var queued int
	if err := u.owner.QueryRow(u.ctx, `select count(*) from notification_outbox where user_id = $1 and source = 'phone_code'`, alice).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("%d SMS queued (err %v), want 1", queued, err)
	}
	codes := make([]string, n)
	for i := range n {
		wg.Go(func() { codes[i] = u.do(alice, "POST", "/me/phone/verify", `{"code":"999999"}`).errorCode() })
	}
	wg.Wait()
	wrong := 0
	for _, c := range codes {
		switch c {
		case httpapi.CodeWrongCode:
			wrong++
		case httpapi.CodeCodeAttemptsExceeded:
		default:
			t.Fatalf("a wrong guess answered %q", c)
		}
	}
	var attempts int
	if err := u.owner.QueryRow(u.ctx, `select phone_code_attempts from profiles where user_id = $1`, alice).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if wrong != users.MaxWrongCodes-1 || attempts != users.MaxWrongCodes {
		t.Fatalf("%d parallel wrong guesses: %d answered wrong_code, %d counted; want %d and %d", n, wrong, attempts, users.MaxWrongCodes-1, users.MaxWrongCodes)
	}
	u.expect(u.do(alice, "POST", "/me/phone/verify", `{"code":"`+u.codes[0]+`"}`), 422, httpapi.CodeCodeAttemptsExceeded)
}

// Concurrent patches of different fields all land: each write is conditional
// on the version it read, and a loser reads again and re-applies its patch
// (notifications merged into what the winner wrote).
func TestConcurrentPatchesAllLand(t *testing.T) {
	t.Parallel()
	u := newUserAPI(t)
	patches := []string{`{"displayName":"Ada"}`, `{"timeZone":"Asia/Tokyo"}`, `{"notifications":{"digest":"weekly"}}`,
		`{"notifications":{"quietHours":{"start":"23:00","end":"06:00"}}}`}
	status := make([]int, len(patches))
	var wg sync.WaitGroup
	for i, p := range patches {
		wg.Go(func() { status[i] = u.do(alice, "PATCH", "/me", p).status })
	}
	wg.Wait()
	r := u.do(alice, "GET", "/me", "")
	prefs := r.body["notifications"].(map[string]any)
	if slices.ContainsFunc(status, func(s int) bool { return s != 200 }) || r.body["displayName"] != "Ada" || r.body["timeZone"] != "Asia/Tokyo" ||
		prefs["digest"] != "weekly" || prefs["quietHours"] == nil {
		t.Fatalf("statuses %v, profile %s", status, r.raw)
	}
}
