package supabaseadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"
	"github.com/supabase-community/supabase-go"

	"github.com/portfoliotracker/tracker/shared/platform/lazy"
)

// The environment variables a function configures a Client from (it reads
// them through shared/platform/config). EnvServiceRoleKeyARN is the one
// shared/platform/topology declares for the service-role key's secret.
// EnvServiceRoleKey carries the key itself where no Secrets Manager runs
// (the local stack sets it to its Auth stand-in's key).
const (
	EnvURL               = "SUPABASE_URL"
	EnvServiceRoleKeyARN = "SUPABASE_SERVICE_ROLE_KEY_ARN"
	EnvServiceRoleKey    = "SUPABASE_SERVICE_ROLE_KEY"
)

// Defaults for Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 32 << 20
	maxErrorBody            = 64 << 10
	maxMsgRunes             = 300
)

// KeyFunc returns the service-role key. It is called on the first Directory
// call (with that call's context) and again after a failure, never by New.
type KeyFunc func(ctx context.Context) (string, error)

// SecretKey adapts a secret reader such as shared/adapters/secrets.String to a KeyFunc:
//
//	supabaseadmin.SecretKey(secrets.String, env.String(supabaseadmin.EnvServiceRoleKeyARN))
func SecretKey(read func(ctx context.Context, arn string) (string, error), arn string) KeyFunc {
	return func(ctx context.Context) (string, error) {
		if arn == "" {
			return "", fmt.Errorf("%s is not set", EnvServiceRoleKeyARN)
		}
		return read(ctx, arn)
	}
}

// ConfiguredKey is the key as a function is configured with it: value
// (EnvServiceRoleKey) when set, else the secret at arn (EnvServiceRoleKeyARN)
// read with read:
//
//	supabaseadmin.ConfiguredKey(env.String(supabaseadmin.EnvServiceRoleKey), secrets.String, env.String(supabaseadmin.EnvServiceRoleKeyARN))
func ConfiguredKey(value string, read func(ctx context.Context, arn string) (string, error), arn string) KeyFunc {
	if value != "" {
		return func(context.Context) (string, error) { return value, nil }
	}
	return func(ctx context.Context) (string, error) {
		if arn == "" {
			return "", fmt.Errorf("set %s or %s", EnvServiceRoleKey, EnvServiceRoleKeyARN)
		}
		return read(ctx, arn)
	}
}

// Config configures a Client.
type Config struct {
	// URL is the project URL (SUPABASE_URL), e.g. https://<ref>.supabase.co.
	// Auth lives under URL + "/auth/v1".
	URL string
	// ServiceKey supplies the service-role key, lazily.
	ServiceKey KeyFunc
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds each request, headers and body; 0 means DefaultTimeout.
	// The caller's context deadline applies too.
	Timeout time.Duration
	// MaxResponseBytes bounds a successful response body; 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client is the Directory backed by Supabase Auth's admin API. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	state *lazy.Value[*state]
}

var _ Directory = (*Client)(nil)

// state is what the first call builds: the library client, holding the key.
type state struct {
	auth gotrue.Client
	key  string // for redaction only
}

// New checks cfg and returns a Client. It makes no request and does not read
// the key.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("supabaseadmin: %s must be an http(s) URL like https://<ref>.supabase.co", EnvURL)
	}
	cfg.URL = strings.TrimRight(u.String(), "/")
	if cfg.ServiceKey == nil {
		return nil, errors.New("supabaseadmin: Config.ServiceKey is nil")
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	c := &Client{cfg: cfg}
	c.state = lazy.New(c.build)
	return c, nil
}

func (c *Client) build(ctx context.Context) (*state, error) {
	key, err := c.cfg.ServiceKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("KeyFunc: %w", err)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, errors.New("KeyFunc returned an empty key")
	}
	sb, err := supabase.NewClient(c.cfg.URL, key, nil)
	if err != nil {
		// Only for an empty URL or key, both excluded above; its text has neither.
		return nil, fmt.Errorf("supabase.NewClient: %w", err)
	}
	// supabase.NewClient gives Auth the key as apikey only; admin routes also
	// need it as the bearer token.
	return &state{auth: sb.Auth.WithToken(key), key: key}, nil
}

// User implements Directory.
func (c *Client) User(ctx context.Context, userID string) (User, error) {
	const op = "get user"
	// Only the canonical 36-character form: uuid.Parse also takes braces,
	// "urn:uuid:" and bare hex, which would make the ID ambiguous.
	id, err := uuid.Parse(userID)
	if err != nil || len(userID) != 36 {
		return User{}, &Error{Op: op, UserID: truncate(userID, 64), Msg: "not a UUID", kind: ErrUserNotFound}
	}
	userID = id.String()
	var res *types.AdminGetUserResponse
	err = c.do(ctx, nil, func(auth gotrue.Client) (err error) {
		res, err = auth.AdminGetUser(types.AdminGetUserRequest{UserID: id})
		return err
	}, func(e *Error) {
		e.Op, e.UserID = op, userID
		if e.Status == http.StatusNotFound {
			e.kind = ErrUserNotFound
		}
	})
	if err != nil {
		return User{}, err
	}
	if res.ID != id {
		return User{}, &Error{Op: op, UserID: userID, Status: http.StatusOK, Msg: "response is for user " + strconv.Quote(res.ID.String()), kind: ErrUpstream}
	}
	return fromGoTrue(res.User), nil
}

// DeleteUser deletes a user from Supabase Auth (DELETE
// /auth/v1/admin/users/{id}, a hard delete: the user's identities and
// sessions go with it). It fails with ErrUserNotFound when there is no such
// user, which a retried erasure takes as done.
func (c *Client) DeleteUser(ctx context.Context, userID string) error {
	const op = "delete user"
	id, err := uuid.Parse(userID)
	if err != nil || len(userID) != 36 {
		return &Error{Op: op, UserID: truncate(userID, 64), Msg: "not a UUID", kind: ErrUserNotFound}
	}
	return c.do(ctx, nil, func(auth gotrue.Client) error {
		return auth.AdminDeleteUser(types.AdminDeleteUserRequest{UserID: id})
	}, func(e *Error) {
		e.Op, e.UserID = op, id.String()
		if e.Status == http.StatusNotFound {
			e.kind = ErrUserNotFound
		}
	})
}

// Users implements Directory.
func (c *Client) Users(ctx context.Context, page, perPage int) ([]User, error) {
	const op = "list users"
	if page < 1 || perPage < 1 || perPage > MaxPerPage {
		return nil, &Error{Op: op, Msg: fmt.Sprintf("page %d, per_page %d: want page >= 1 and 1 <= per_page <= %d", page, perPage, MaxPerPage), kind: ErrInvalidArgument}
	}
	q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(perPage)}}
	var res *types.AdminListUsersResponse
	err := c.do(ctx, q, func(auth gotrue.Client) (err error) {
		res, err = auth.AdminListUsers()
		return err
	}, func(e *Error) { e.Op = op })
	if err != nil {
		return nil, err
	}
	users := make([]User, 0, len(res.Users))
	for _, u := range res.Users {
		if u.ID == uuid.Nil {
			return nil, &Error{Op: op, Status: http.StatusOK, Msg: "a user in the response has no id", kind: ErrUpstream}
		}
		users = append(users, fromGoTrue(u))
	}
	return users, nil
}

// do runs one library call through a per-call transport and turns its outcome
// into an *Error; name sets the Op (and may re-classify) before redaction.
func (c *Client) do(ctx context.Context, query url.Values, call func(gotrue.Client) error, name func(*Error)) error {
	st, err := c.state.Get(ctx)
	if err != nil {
		e := &Error{Msg: err.Error(), kind: ErrServiceKey, cause: err}
		name(e)
		e.Msg = truncate(e.Msg, maxMsgRunes)
		return e
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	t := &callTransport{ctx: ctx, base: c.cfg.Transport, query: query, maxBody: c.cfg.MaxResponseBytes}
	auth := st.auth.WithClient(http.Client{
		Transport: t,
		// The library adds "apiKey" itself; Go would forward that header on a
		// redirect, even to another host. GoTrue's admin routes never redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	err = call(auth)
	if err == nil {
		if t.status >= 200 && t.status < 300 {
			return nil
		}
		// Unreachable (the library accepts 2xx only), but never report
		// success for a response the transport did not see.
		err = errors.New("unexpected response")
	}
	e := c.classify(t, err)
	name(e)
	e.Msg = truncate(redact(e.Msg, st.key), maxMsgRunes)
	return e
}

// classify maps what happened on the wire to an *Error without an Op.
func (c *Client) classify(t *callTransport, err error) *Error {
	e := &Error{Status: t.status, kind: ErrUpstream}
	switch {
	case t.status == 0: // no response: transport failure, timeout, cancellation
		e.cause, e.Msg = err, err.Error()
		if ctxErr := t.ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			e.cause = errors.Join(err, ctxErr)
		}
	case t.status >= 200 && t.status < 300: // unreadable, undecodable or oversized body
		e.cause, e.Msg = err, "malformed response: "+err.Error()
		switch {
		case t.tooLarge:
			e.Msg = "response larger than " + strconv.FormatInt(t.maxBody, 10) + " bytes"
		case t.ctx.Err() != nil:
			e.Msg = "reading response: " + err.Error()
			if !errors.Is(err, t.ctx.Err()) {
				e.cause = errors.Join(err, t.ctx.Err())
			}
		}
	case t.status >= 300 && t.status < 400:
		e.Msg = "redirect not followed"
	default:
		if t.status == http.StatusUnauthorized || t.status == http.StatusForbidden {
			e.kind = ErrUnauthorized
		}
		e.Code, e.Msg = parseErrorBody(t.errBody, t.contentType)
	}
	return e
}

// parseErrorBody reads GoTrue's error shapes:
//
//	{"code":404,"error_code":"user_not_found","msg":"User not found"}   GoTrue
//	{"message":"Invalid API key","hint":"..."}                           the API gateway
//	{"error":"...","error_description":"..."}                            OAuth style
//
// and describes anything else by its content type and size.
func parseErrorBody(body []byte, contentType string) (code, msg string) {
	var v struct {
		ErrorCode        string `json:"error_code"`
		Msg              string `json:"msg"`
		Message          string `json:"message"`
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &v) == nil {
		errStr, _ := v.Error.(string)
		for _, m := range []string{v.Msg, v.Message, v.ErrorDescription, errStr} {
			if m != "" {
				return v.ErrorCode, m
			}
		}
		return v.ErrorCode, ""
	}
	if len(body) == 0 {
		return "", "empty body"
	}
	ct := contentType
	if ct == "" {
		ct = "unknown content type"
	}
	return "", fmt.Sprintf("non-JSON body, %s, %d bytes", ct, len(body))
}

func fromGoTrue(u types.User) User {
	out := User{
		ID:             u.ID.String(),
		Email:          u.Email,
		Phone:          u.Phone,
		DisplayName:    displayName(u.UserMetadata),
		EmailConfirmed: u.EmailConfirmedAt != nil && !u.EmailConfirmedAt.IsZero(),
		CreatedAt:      u.CreatedAt,
		UpdatedAt:      u.UpdatedAt,
	}
	if u.LastSignInAt != nil {
		out.LastSignInAt = *u.LastSignInAt
	}
	return out
}

func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// truncate cuts s to n runes and drops invalid UTF-8 and control characters,
// so a server's text cannot forge log lines.
func truncate(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			continue
		case r < 0x20 || r == 0x7f:
			r = ' '
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}
