package supabaseadmin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
)

const (
	aliceID = "7c1e2f30-8a4b-4c5d-9e6f-0a1b2c3d4e5f"
	bobID   = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70"
	nobody  = "11111111-2222-4333-8444-555555555555"
)

func keyFunc(key string) supabaseadmin.KeyFunc {
	return func(context.Context) (string, error) { return key, nil }
}

func newClient(t *testing.T, f *fakeGoTrue, key string, mod ...func(*supabaseadmin.Config)) *supabaseadmin.Client {
	t.Helper()
	cfg := supabaseadmin.Config{URL: f.srv.URL, ServiceKey: keyFunc(key), Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := supabaseadmin.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

var sentinels = []error{supabaseadmin.ErrUserNotFound, supabaseadmin.ErrUnauthorized, supabaseadmin.ErrUpstream, supabaseadmin.ErrInvalidArgument, supabaseadmin.ErrServiceKey}

// checkErr asserts that err is an *Error matching want and no other sentinel,
// and that no rendering of it or of anything it wraps shows a key.
func checkErr(t *testing.T, err, want error) *supabaseadmin.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	t.Logf("error: %v", err)
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("errors.Is(%v, %v) = %v", err, s, got)
		}
	}
	var e *supabaseadmin.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not an *Error", err, err)
	}
	var walk func(error)
	walk = func(err error) {
		for _, s := range []string{err.Error(), fmt.Sprintf("%v|%+v|%#v|%s|%q", err, err, err, err, err)} {
			for _, k := range []string{serviceKey, anonKey, "wrong-" + serviceKey} {
				if strings.Contains(s, k) {
					t.Errorf("error text shows a key: %s", s)
				}
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if w := u.Unwrap(); w != nil {
				walk(w)
			}
		case interface{ Unwrap() []error }:
			for _, w := range u.Unwrap() {
				walk(w)
			}
		}
	}
	walk(err)
	return e
}

func TestUserReadsGoTrueUser(t *testing.T) {
	f := newFakeGoTrue(t)
	fu := f.add(aliceID, "alice@example.com", map[string]any{"full_name": "Alice Liddell", "name": "alice", "avatar_url": "https://example.com/a.png"})
	fu.Phone = "15551234567"
	c := newClient(t, f, serviceKey)

	u, err := c.User(context.Background(), strings.ToUpper(aliceID))
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	want := supabaseadmin.User{
		ID: aliceID, Email: "alice@example.com", Phone: "15551234567", DisplayName: "Alice Liddell",
		EmailConfirmed: true, CreatedAt: fu.CreatedAt, UpdatedAt: fu.UpdatedAt, LastSignInAt: *fu.LastSignInAt,
	}
	if !u.CreatedAt.Equal(want.CreatedAt) || !u.UpdatedAt.Equal(want.UpdatedAt) || !u.LastSignInAt.Equal(want.LastSignInAt) {
		t.Errorf("times: got %v %v %v, want %v %v %v", u.CreatedAt, u.UpdatedAt, u.LastSignInAt, want.CreatedAt, want.UpdatedAt, want.LastSignInAt)
	}
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = want.CreatedAt, want.UpdatedAt, want.LastSignInAt
	if u != want {
		t.Errorf("User =\n %+v\nwant\n %+v", u, want)
	}

	reqs := f.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.URL.Path != "/auth/v1/admin/users/"+aliceID || r.URL.RawQuery != "" {
		t.Errorf("request %s %s", r.Method, r.URL)
	}
	if r.Header.Get("apikey") != serviceKey || r.Header.Get("Authorization") != "Bearer "+serviceKey {
		t.Errorf("headers apikey=%q Authorization=%q", r.Header.Get("apikey"), r.Header.Get("Authorization"))
	}
}

func TestUserWithoutConfirmationOrSignIn(t *testing.T) {
	f := newFakeGoTrue(t)
	fu := f.add(bobID, "", nil)
	fu.EmailConfirmedAt, fu.ConfirmedAt, fu.LastSignInAt = nil, nil, nil
	fu.Phone = "447700900123"
	c := newClient(t, f, serviceKey)

	u, err := c.User(context.Background(), bobID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if u.Email != "" || u.Phone != "447700900123" || u.EmailConfirmed || !u.LastSignInAt.IsZero() || u.DisplayName != "" {
		t.Errorf("User = %+v", u)
	}
}

func TestDisplayNameFromUserMetadata(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]any
		want string
	}{
		{map[string]any{"full_name": "Ada Lovelace", "name": "ada", "display_name": "A"}, "Ada Lovelace"},
		{map[string]any{"full_name": "  ", "name": " ada ", "display_name": "A"}, "ada"},
		{map[string]any{"name": 42, "display_name": "A. L."}, "A. L."},
		{map[string]any{"full_name": nil, "nickname": "x"}, ""},
		{map[string]any{}, ""},
	} {
		f := newFakeGoTrue(t)
		f.add(aliceID, "a@example.com", tc.meta)
		u, err := newClient(t, f, serviceKey).User(context.Background(), aliceID)
		if err != nil || u.DisplayName != tc.want {
			t.Errorf("%v: DisplayName %q, %v; want %q", tc.meta, u.DisplayName, err, tc.want)
		}
	}
}

func TestUserNotFound(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	c := newClient(t, f, serviceKey)

	_, err := c.User(context.Background(), nobody)
	e := checkErr(t, err, supabaseadmin.ErrUserNotFound)
	if e.Status != 404 || e.Code != "user_not_found" || e.Msg != "User not found" || e.UserID != nobody || e.Op != "get user" {
		t.Errorf("Error = %+v", e)
	}
	if got := err.Error(); got != "supabaseadmin: get user "+nobody+": user not found (HTTP 404: user_not_found: User not found)" {
		t.Errorf("Error() = %q", got)
	}

	// Not a UUID: no such user can exist, and nothing is sent.
	for _, id := range []string{"", "alice", "../../admin/users", aliceID + "/factors"} {
		_, err := c.User(context.Background(), id)
		checkErr(t, err, supabaseadmin.ErrUserNotFound)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestUnauthorized(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	for _, tc := range []struct {
		name, key string
		status    int
		code      string
	}{
		{"wrong key", "wrong-" + serviceKey, 401, ""}, // the gateway refuses the apikey
		{"anon key", anonKey, 403, "not_admin"},       // GoTrue refuses a non-admin bearer
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, f, tc.key)
			_, err := c.User(context.Background(), aliceID)
			e := checkErr(t, err, supabaseadmin.ErrUnauthorized)
			if e.Status != tc.status || e.Code != tc.code {
				t.Errorf("Error = %+v", e)
			}
			_, err = c.Users(context.Background(), 1, 10)
			checkErr(t, err, supabaseadmin.ErrUnauthorized)
		})
	}
}

func TestUpstreamFailures(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s (apikey %q)", r.URL, r.Header.Get("apikey"))
	}))
	defer other.Close()

	const htmlPage = `<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>upstream connect error or disconnect/reset before headers</p></body></html>`
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
		msg     string // substring of Error()
	}{
		{"500 HTML page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(500)
			fmt.Fprint(w, htmlPage)
		}, 500, "non-JSON body, text/html; charset=utf-8"},
		{"502 empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, 502, "empty body"},
		{"429 rate limited", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 429, map[string]any{"code": 429, "error_code": "over_request_rate_limit", "msg": "Request rate limit reached"})
		}, 429, "over_request_rate_limit"},
		{"400 with the key echoed", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, map[string]any{"code": 400, "msg": "bad header apikey=" + r.Header.Get("apikey") + "\nforged log line"})
		}, 400, "bad header apikey=[redacted] forged log line"},
		{"malformed JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"`+aliceID+`","email":"alice@example.com",`)
		}, 200, "malformed response"},
		{"not JSON at all", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, htmlPage)
		}, 200, "malformed response"},
		{"wrong types", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id":"`+aliceID+`","email":42,"created_at":"yesterday"}`)
		}, 200, "malformed response"},
		{"JSON null", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `null`) }, 200, "response is for user"},
		{"another user", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id":"`+bobID+`","email":"bob@example.com"}`)
		}, 200, "response is for user"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		}, 302, "HTTP 302: redirect not followed"},
		{"oversized body", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id":"`+aliceID+`","user_metadata":{"bio":"`+strings.Repeat("x", 1<<20)+`"}}`)
		}, 200, "response larger than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGoTrue(t)
			f.add(aliceID, "alice@example.com", nil)
			f.setFault(tc.handler)
			c := newClient(t, f, serviceKey, func(c *supabaseadmin.Config) { c.MaxResponseBytes = 64 << 10 })
			_, err := c.User(context.Background(), aliceID)
			e := checkErr(t, err, supabaseadmin.ErrUpstream)
			if e.Status != tc.status || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v (status %d), want status %d and %q", err, e.Status, tc.status, tc.msg)
			}
			if strings.Contains(err.Error(), "<html") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error carries the raw body: %q", err)
			}
			if tc.status == 200 || tc.status == 302 {
				return
			}
			// The list call classifies the same way.
			_, err = c.Users(context.Background(), 1, 50)
			checkErr(t, err, supabaseadmin.ErrUpstream)
		})
	}
}

func TestListNotFoundIsUpstream(t *testing.T) {
	// A 404 on the list route means a wrong SUPABASE_URL, not a missing user.
	f := newFakeGoTrue(t)
	c := newClient(t, f, serviceKey, func(c *supabaseadmin.Config) { c.URL = f.srv.URL + "/nope" })
	_, err := c.Users(context.Background(), 1, 10)
	if e := checkErr(t, err, supabaseadmin.ErrUpstream); e.Status != 404 {
		t.Errorf("Error = %+v", e)
	}
}

func TestSlowResponseTimesOut(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	release := make(chan struct{})
	defer close(release)
	f.setFault(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	c := newClient(t, f, serviceKey, func(c *supabaseadmin.Config) { c.Timeout = 100 * time.Millisecond })

	start := time.Now()
	_, err := c.User(context.Background(), aliceID)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	e := checkErr(t, err, supabaseadmin.ErrUpstream)
	if !errors.Is(err, context.DeadlineExceeded) || e.Status != 0 {
		t.Errorf("got %v (status %d), want a deadline", err, e.Status)
	}

	// A body that stalls after the headers hits the same deadline.
	f.setFault(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"`+aliceID+`",`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	_, err = c.User(context.Background(), aliceID)
	checkErr(t, err, supabaseadmin.ErrUpstream)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "reading response") {
		t.Errorf("got %v, want a deadline while reading", err)
	}

	// The caller's own deadline applies as well.
	f.setFault(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c = newClient(t, f, serviceKey)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Users(ctx, 1, 10)
	checkErr(t, err, supabaseadmin.ErrUpstream)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline", err)
	}
}

func TestCallerCancellation(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	started := make(chan struct{}, 1)
	f.setFault(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	c := newClient(t, f, serviceKey)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := c.User(ctx, aliceID)
	checkErr(t, err, supabaseadmin.ErrUpstream)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestServerUnreachable(t *testing.T) {
	f := newFakeGoTrue(t)
	c := newClient(t, f, serviceKey)
	f.srv.Close()
	_, err := c.User(context.Background(), aliceID)
	if e := checkErr(t, err, supabaseadmin.ErrUpstream); e.Status != 0 {
		t.Errorf("Error = %+v", e)
	}
}

func TestUsersPaginates(t *testing.T) {
	f := newFakeGoTrue(t)
	ids := []string{aliceID, bobID, "22222222-3333-4444-8555-666666666666", "33333333-4444-4555-8666-777777777777", "44444444-5555-4666-8777-888888888888"}
	for i, id := range ids {
		f.add(id, fmt.Sprintf("user%d@example.com", i), map[string]any{"name": fmt.Sprintf("User %d", i)})
	}
	c := newClient(t, f, serviceKey)

	var got []string
	for page := 1; ; page++ {
		users, err := c.Users(context.Background(), page, 2)
		if err != nil {
			t.Fatalf("Users(%d): %v", page, err)
		}
		for _, u := range users {
			got = append(got, u.ID)
			if u.Email == "" || u.DisplayName == "" || u.CreatedAt.IsZero() || !u.EmailConfirmed {
				t.Errorf("user %+v", u)
			}
		}
		if len(users) < 2 {
			break
		}
		if page > 10 {
			t.Fatal("no end")
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("ids %v, want %v", got, ids)
	}
	reqs := f.seen()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.URL.Path != "/auth/v1/admin/users" || r.URL.Query().Get("page") != fmt.Sprint(i+1) || r.URL.Query().Get("per_page") != "2" {
			t.Errorf("request %d: %s", i, r.URL)
		}
		if r.Header.Get("apikey") != serviceKey || r.Header.Get("Authorization") != "Bearer "+serviceKey {
			t.Errorf("request %d: headers", i)
		}
	}

	empty, err := c.Users(context.Background(), 9, 50)
	if err != nil || len(empty) != 0 {
		t.Errorf("past the end: %v, %v", empty, err)
	}

	for _, pp := range [][2]int{{0, 10}, {1, 0}, {-1, 10}, {1, supabaseadmin.MaxPerPage + 1}} {
		_, err := c.Users(context.Background(), pp[0], pp[1])
		checkErr(t, err, supabaseadmin.ErrInvalidArgument)
	}
	if n := len(f.seen()); n != 4 {
		t.Errorf("%d requests, want 4 (invalid arguments send nothing)", n)
	}
}

func TestServiceKeyIsReadLazilyAndRetried(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	var calls atomic.Int32
	c, err := supabaseadmin.New(supabaseadmin.Config{URL: f.srv.URL + "/", ServiceKey: func(ctx context.Context) (string, error) {
		switch calls.Add(1) {
		case 1:
			return "", errors.New("secrets manager: throttled")
		case 2:
			return " \n", nil
		}
		return serviceKey + "\n", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatal("New read the key")
	}
	_, err = c.User(context.Background(), aliceID)
	if e := checkErr(t, err, supabaseadmin.ErrServiceKey); !strings.Contains(e.Error(), "throttled") {
		t.Errorf("Error = %v", e)
	}
	_, err = c.Users(context.Background(), 1, 10)
	checkErr(t, err, supabaseadmin.ErrServiceKey)
	if n := len(f.seen()); n != 0 {
		t.Errorf("%d requests without a key", n)
	}
	for range 3 {
		if _, err := c.User(context.Background(), aliceID); err != nil {
			t.Fatalf("User: %v", err)
		}
	}
	if calls.Load() != 3 {
		t.Errorf("KeyFunc called %d times, want 3", calls.Load())
	}
}

func TestSecretKey(t *testing.T) {
	read := func(_ context.Context, arn string) (string, error) { return "key-for-" + arn, nil }
	if k, err := supabaseadmin.SecretKey(read, "arn:1")(context.Background()); k != "key-for-arn:1" || err != nil {
		t.Errorf("got %q, %v", k, err)
	}
	if _, err := supabaseadmin.SecretKey(read, "")(context.Background()); err == nil || !strings.Contains(err.Error(), supabaseadmin.EnvServiceRoleKeyARN) {
		t.Errorf("empty ARN: %v", err)
	}
}

func TestConfiguredKey(t *testing.T) {
	read := func(_ context.Context, arn string) (string, error) { return "key-for-" + arn, nil }
	for _, tc := range []struct{ value, arn, want string }{{"plain", "arn:1", "plain"}, {"", "arn:1", "key-for-arn:1"}} {
		if k, err := supabaseadmin.ConfiguredKey(tc.value, read, tc.arn)(context.Background()); k != tc.want || err != nil {
			t.Errorf("ConfiguredKey(%q, %q) = %q, %v; want %q", tc.value, tc.arn, k, err, tc.want)
		}
	}
	_, err := supabaseadmin.ConfiguredKey("", read, "")(context.Background())
	if err == nil || !strings.Contains(err.Error(), supabaseadmin.EnvServiceRoleKey) || !strings.Contains(err.Error(), supabaseadmin.EnvServiceRoleKeyARN) {
		t.Errorf("neither: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for _, u := range []string{"", "example.com", "ftp://example.com", "https://", "https://example.com?x=1", "https://u:p@example.com", "://"} {
		if _, err := supabaseadmin.New(supabaseadmin.Config{URL: u, ServiceKey: keyFunc(serviceKey)}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	if _, err := supabaseadmin.New(supabaseadmin.Config{URL: "https://abc.supabase.co"}); err == nil {
		t.Error("nil ServiceKey accepted")
	}
}

func TestConcurrentCalls(t *testing.T) {
	f := newFakeGoTrue(t)
	f.add(aliceID, "alice@example.com", nil)
	c := newClient(t, f, serviceKey)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = c.User(context.Background(), aliceID)
			case 1:
				_, err = c.User(context.Background(), nobody)
				if errors.Is(err, supabaseadmin.ErrUserNotFound) {
					err = nil
				}
			default:
				_, err = c.Users(context.Background(), 1, 10)
			}
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
}
