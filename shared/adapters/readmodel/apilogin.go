package readmodel

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// APILogin is the login role of the internet-facing functions (api, ws): the
// user and password of their DSN. It owns nothing and holds no privilege; its
// one membership is APIRole, which every statement switches to (CallerDB), so a
// connection that resets its role reaches no table.
type APILogin struct {
	Role     string
	Password string
}

// APILoginStatementTimeout bounds every statement of the API's login: the API's
// Lambda timeout is 10 s (Supabase gives authenticated 8 s as well, but a role's
// settings apply at login, not on `set role`).
const APILoginStatementTimeout = "8s"

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// reservedRoles are roles the API's login must never be: Supabase's and ours.
var reservedRoles = []string{"postgres", "anon", "authenticated", "service_role", "authenticator", "dashboard_user", "pgbouncer", APIRole}

// APILoginOf reads the login from the functions' DSN. Through Supabase's pooler
// the user is <role>.<project-ref>; the role is what precedes the reference.
func APILoginOf(dsn string) (APILogin, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return APILogin{}, fmt.Errorf("readmodel: the API's database URL: %w", err) // pgconn masks the password
	}
	l := APILogin{Role: cfg.User, Password: cfg.Password}
	if strings.HasSuffix(cfg.Host, ".pooler.supabase.com") {
		if i := strings.LastIndexByte(l.Role, '.'); i > 0 {
			l.Role = l.Role[:i]
		}
	}
	return l, l.validate()
}

func (l APILogin) validate() error {
	switch {
	case !roleName.MatchString(l.Role):
		return fmt.Errorf("readmodel: the API's login role %q: use lower-case letters, digits and _", l.Role)
	case slices.Contains(reservedRoles, l.Role) || strings.HasPrefix(l.Role, "pg_") || strings.HasPrefix(l.Role, "supabase"):
		return fmt.Errorf("readmodel: the API's login role may not be %q: it needs a role of its own", l.Role)
	case len(l.Password) < 16 || strings.IndexFunc(l.Password, func(r rune) bool { return r < '!' || r > '~' }) >= 0:
		return errors.New("readmodel: the API's login password must be at least 16 printable ASCII characters, no spaces")
	}
	return nil
}

// EnsureAPILogin creates the login role, or brings an existing one to what it
// must be: LOGIN, NOINHERIT, l.Password (as a SCRAM-SHA-256 verifier computed
// here, so the password itself never reaches the server's logs), a member of
// APIRole, statements bounded by APILoginStatementTimeout. Run as the owner (the
// migrator), after Migrate. It refuses a role that is anything more: one that
// owns objects or holds privileges, belongs to another role or has a privileged
// attribute is not a dedicated login, and must not be changed.
//
// The verifier's salt is derived from the role and the password, so running it
// again with the same password writes the same verifier: a pooler that caches
// verifiers (Supabase's) sees no change.
func EnsureAPILogin(ctx context.Context, db Beginner, l APILogin) error {
	if err := l.validate(); err != nil {
		return err
	}
	verifier, err := scramVerifier(l.Role, l.Password, loginSalt(l.Role, l.Password))
	if err != nil {
		return err
	}
	role := pgx.Identifier{l.Role}.Sanitize()
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return err
		}
		var oid uint32
		var privileged, isSelf bool
		err := tx.QueryRow(ctx, `select oid, rolsuper or rolcreaterole or rolcreatedb or rolreplication or rolbypassrls, rolname = current_user
			from pg_roles where rolname = $1`, l.Role).Scan(&oid, &privileged, &isSelf)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			_, err = tx.Exec(ctx, "create role "+role+" with login noinherit password '"+verifier+"'")
			if err != nil {
				return err
			}
		case err != nil:
			return err
		case privileged || isSelf:
			return fmt.Errorf("role %s exists with privileges of its own (superuser, createrole, createdb, replication or bypassrls, or the migrator itself)", l.Role)
		default:
			var holds bool
			var others []string
			if err := tx.QueryRow(ctx, `select exists (select 1 from pg_shdepend where refclassid = 'pg_authid'::regclass and refobjid = $1 and deptype in ('o', 'a')),
				array(select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.roleid where m.member = $1 and r.rolname <> $2 order by 1)`,
				oid, APIRole).Scan(&holds, &others); err != nil {
				return err
			}
			if holds {
				return fmt.Errorf("role %s exists and owns objects or holds privileges", l.Role)
			}
			if len(others) > 0 {
				return fmt.Errorf("role %s exists and is a member of %s", l.Role, strings.Join(others, ", "))
			}
			if _, err := tx.Exec(ctx, "alter role "+role+" with login noinherit password '"+verifier+"'"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "grant "+APIRole+" to "+role); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "alter role "+role+" set statement_timeout = '"+APILoginStatementTimeout+"'")
		return err
	})
	if err != nil {
		return fmt.Errorf("readmodel: the API's login role %s: %w", l.Role, err)
	}
	return nil
}

// loginSalt is the verifier's salt: 16 bytes of HMAC-SHA-256 of the role under
// the password. A salt need not be secret (PostgreSQL stores it beside the
// keys), only distinct per role and password, which this is.
func loginSalt(role, password string) []byte {
	m := hmac.New(sha256.New, []byte(password))
	m.Write([]byte("portfoliotracker api login salt\x00" + role))
	return m.Sum(nil)[:16]
}

// scramIterations is PostgreSQL's default (scram_iterations).
const scramIterations = 4096

// scramVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password (RFC
// 5802, 7677): SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
// PostgreSQL normalises the password with SASLprep first, which leaves
// printable ASCII as it is (validate allows nothing else).
func scramVerifier(role, password string, salt []byte) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("readmodel: the API's login role %s: %w", role, err)
	}
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}
