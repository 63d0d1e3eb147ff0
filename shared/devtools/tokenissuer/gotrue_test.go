package tokenissuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/supabase-community/gotrue-go/types"
	"github.com/supabase-community/supabase-go"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

func newServer(t *testing.T, settings ...tokenissuer.Setting) *tokenissuer.Issuer {
	t.Helper()
	iss, err := tokenissuer.NewServer(settings...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	return iss
}

// anonClient is what a frontend holds: the project URL and the anon key.
func anonClient(t *testing.T, iss *tokenissuer.Issuer) *supabase.Client {
	t.Helper()
	c, err := supabase.NewClient(iss.BaseURL(), iss.AnonKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The life of a session through supabase-go, the client this project names:
// sign up, sign in, refresh (the used refresh token is refused afterwards,
// and its reuse ends the session), get the user, log out; and the
// authorizer's verifier accepts every access token the stand-in issues.
func TestSessionThroughSupabaseGo(t *testing.T) {
	iss := newServer(t)
	ctx := context.Background()
	verifier, err := auth.NewVerifier(iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(tok, userID, sessionID string) {
		t.Helper()
		c, err := verifier.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("the verifier refuses the stand-in's access token: %v", err)
		}
		if c.UserID != userID || c.Email != "ada@example.test" || c.SessionID != sessionID || c.Role != "authenticated" || c.AAL != "aal1" {
			t.Errorf("claims %+v", c)
		}
	}
	client := anonClient(t, iss)

	up, err := client.Auth.Signup(types.SignupRequest{Email: "Ada@Example.test", Password: "correct horse", Data: map[string]any{"display_name": "Ada"}})
	if err != nil {
		t.Fatalf("sign-up: %v", err)
	}
	user := up.Session.User
	if up.AccessToken == "" || up.RefreshToken == "" || up.TokenType != "bearer" || up.ExpiresIn != 3600 ||
		user.Email != "ada@example.test" || user.EmailConfirmedAt == nil || user.UserMetadata["display_name"] != "Ada" ||
		user.AppMetadata["provider"] != "email" || len(user.Identities) != 1 || user.Aud != "authenticated" {
		t.Fatalf("sign-up answered %+v", up)
	}
	userID := user.ID.String()
	signUpSession := claims(t, up.AccessToken)["session_id"].(string)
	accepted(up.AccessToken, userID, signUpSession)

	s, err := client.SignInWithEmailPassword("ada@example.test", "correct horse")
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if s.User.ID.String() != userID || s.User.LastSignInAt == nil || s.ExpiresAt == 0 {
		t.Errorf("sign-in answered %+v", s)
	}
	c := claims(t, s.AccessToken)
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "email", "phone", "app_metadata", "user_metadata", "role", "aal", "amr", "session_id", "is_anonymous"} {
		if _, ok := c[name]; !ok {
			t.Errorf("the access token has no %s claim: %v", name, c)
		}
	}
	sessionID := c["session_id"].(string)
	if sessionID == signUpSession {
		t.Error("signing in again did not start a new session")
	}
	accepted(s.AccessToken, userID, sessionID)

	refreshed, err := client.RefreshToken(s.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == s.RefreshToken || refreshed.AccessToken == s.AccessToken {
		t.Error("refreshing gave the same tokens")
	}
	accepted(refreshed.AccessToken, userID, sessionID)

	me, err := client.Auth.WithToken(refreshed.AccessToken).GetUser()
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	if me.ID.String() != userID || me.Email != "ada@example.test" || me.UserMetadata["display_name"] != "Ada" {
		t.Errorf("get user answered %+v", me)
	}

	// The used refresh token is refused, and its reuse ends the session: the
	// newest refresh token and the session's access token stop working.
	if _, err := client.RefreshToken(s.RefreshToken); err == nil || !strings.Contains(err.Error(), "refresh_token_already_used") {
		t.Fatalf("reusing a refresh token: %v", err)
	}
	if _, err := client.RefreshToken(refreshed.RefreshToken); err == nil || !strings.Contains(err.Error(), "refresh_token_already_used") {
		t.Errorf("the newest refresh token after a reuse: %v", err)
	}
	if _, err := client.Auth.WithToken(refreshed.AccessToken).GetUser(); err == nil || !strings.Contains(err.Error(), "session_not_found") {
		t.Errorf("get user of an ended session: %v", err)
	}

	// Log out (global): the sign-up's session ends too.
	again, err := client.SignInWithEmailPassword("ada@example.test", "correct horse")
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if err := client.Auth.WithToken(again.AccessToken).Logout(); err != nil {
		t.Fatalf("logout: %v", err)
	}
	for _, tok := range []string{again.RefreshToken, up.RefreshToken} {
		if _, err := client.RefreshToken(tok); err == nil || !strings.Contains(err.Error(), "refresh_token_not_found") {
			t.Errorf("a refresh token after logout: %v", err)
		}
	}
	if _, err := client.Auth.WithToken(again.AccessToken).GetUser(); err == nil || !strings.Contains(err.Error(), "session_not_found") {
		t.Errorf("get user after logout: %v", err)
	}
	// The access token itself stays valid until it expires, as on Supabase.
	accepted(again.AccessToken, userID, claims(t, again.AccessToken)["session_id"].(string))

	if _, err := client.SignInWithEmailPassword("ada@example.test", "wrong horse"); err == nil || !strings.Contains(err.Error(), "invalid_credentials") {
		t.Errorf("a wrong password: %v", err)
	}

	settings, err := client.Auth.GetSettings()
	if err != nil || !settings.External.Email || settings.External.Phone || !settings.MailerAutoconfirm || settings.DisableSignup {
		t.Errorf("settings: %+v, %v", settings, err)
	}
	if h, err := client.Auth.HealthCheck(); err != nil || h.Name != "GoTrue" {
		t.Errorf("health: %+v, %v", h, err)
	}
}

// claims decodes a JWT's claims without checking it.
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := decodeSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// call makes one raw request; headers are name/value pairs.
func call(t *testing.T, method, url, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: HTTP %d, not a JSON object: %s", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func TestGatewayWantsAnAPIKey(t *testing.T) {
	iss := newServer(t)
	u := iss.BaseURL() + "/auth/v1/settings"
	if st, _, body := call(t, "GET", u, ""); st != 401 || body["message"] != "No API key found in request" {
		t.Errorf("no key: %d %v", st, body)
	}
	if st, _, body := call(t, "GET", u, "", "apikey", iss.AnonKey()+"x"); st != 401 || body["message"] != "Invalid API key" {
		t.Errorf("wrong key: %d %v", st, body)
	}
	for _, key := range []string{iss.AnonKey(), iss.ServiceRoleKey()} {
		if st, _, _ := call(t, "GET", u, "", "apikey", key); st != 200 {
			t.Errorf("a project key: %d", st)
		}
	}
	if st, _, _ := call(t, "GET", u+"?apikey="+iss.AnonKey(), ""); st != 200 {
		t.Errorf("the key as a query parameter: %d", st)
	}
	// The JWKS is open, as on Supabase: the authorizer fetches it without a key.
	if st, _, body := call(t, "GET", iss.JWKSURL(), ""); st != 200 || body["keys"] == nil {
		t.Errorf("JWKS without a key: %d %v", st, body)
	}
	if st, _, body := call(t, "GET", iss.BaseURL()+"/auth/v1/nothing", "", "apikey", iss.AnonKey()); st != 404 || body["error_code"] != "not_found" {
		t.Errorf("unknown route: %d %v", st, body)
	}
}

// Both of GoTrue's error shapes: the older one by default, the 2024-01-01
// one when the client asks for it (supabase-js does), with the version echoed.
func TestErrorShapes(t *testing.T) {
	iss := newServer(t)
	u := iss.BaseURL() + "/auth/v1/token?grant_type=password"
	body := `{"email":"nobody@example.test","password":"whatever"}`
	st, h, got := call(t, "POST", u, body, "apikey", iss.AnonKey(), "Content-Type", "application/json")
	if st != 400 || got["code"] != float64(400) || got["error_code"] != "invalid_credentials" || got["msg"] != "Invalid login credentials" || h.Get("X-Supabase-Api-Version") != "" {
		t.Errorf("default shape: %d %v %v", st, got, h)
	}
	st, h, got = call(t, "POST", u, body, "apikey", iss.AnonKey(), "X-Supabase-Api-Version", "2024-01-01")
	if st != 400 || got["code"] != "invalid_credentials" || got["message"] != "Invalid login credentials" || got["msg"] != nil || h.Get("X-Supabase-Api-Version") != "2024-01-01" {
		t.Errorf("2024-01-01 shape: %d %v %v", st, got, h)
	}
	if st, _, got := call(t, "POST", u, body, "apikey", iss.AnonKey(), "X-Supabase-Api-Version", "not-a-date"); got["error_code"] != "invalid_credentials" {
		t.Errorf("an unknown version gets the default shape: %d %v", st, got)
	}
}

func TestSignupRefusals(t *testing.T) {
	iss := newServer(t)
	u := iss.BaseURL() + "/auth/v1/signup"
	key := []string{"apikey", iss.AnonKey()}
	if st, _, _ := call(t, "POST", u, `{"email":"ada@example.test","password":"secret1"}`, key...); st != 200 {
		t.Fatalf("sign-up: %d", st)
	}
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"email":"ADA@example.test","password":"secret2"}`, 422, "user_already_exists"},
		{`{"email":"bob@example.test","password":"short"}`, 422, "weak_password"},
		{`{"email":"not an address","password":"secret1"}`, 400, "validation_failed"},
		{`{"email":"bob@example.test"}`, 400, "validation_failed"},
		{`{"password":"secret1"}`, 400, "validation_failed"},
		{`{"phone":"+15551234567","password":"secret1"}`, 400, "phone_provider_disabled"},
		{`{"email":`, 400, "bad_json"},
	} {
		st, _, got := call(t, "POST", u, tc.body, key...)
		if st != tc.status || got["error_code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.body, st, got, tc.status, tc.code)
		}
		if tc.code == "weak_password" {
			if wp, _ := got["weak_password"].(map[string]any); wp == nil {
				t.Errorf("weak password without its reasons: %v", got)
			}
		}
	}
	if st, _, got := call(t, "POST", iss.BaseURL()+"/auth/v1/token?grant_type=magic", `{}`, key...); st != 400 || got["error_code"] != "validation_failed" {
		t.Errorf("unsupported grant: %d %v", st, got)
	}
	if st, _, got := call(t, "POST", iss.BaseURL()+"/auth/v1/token?grant_type=refresh_token", `{}`, key...); st != 400 || got["error_code"] != "validation_failed" {
		t.Errorf("refresh without a token: %d %v", st, got)
	}
}

// signIn starts a session of a seeded user and returns its tokens.
func signIn(t *testing.T, iss *tokenissuer.Issuer, email, password string) (access, refresh string) {
	t.Helper()
	st, _, got := call(t, "POST", iss.BaseURL()+"/auth/v1/token?grant_type=password", `{"email":"`+email+`","password":"`+password+`"}`, "apikey", iss.AnonKey())
	if st != 200 {
		t.Fatalf("sign-in of %s: %d %v", email, st, got)
	}
	return got["access_token"].(string), got["refresh_token"].(string)
}

func TestLogoutScopes(t *testing.T) {
	iss := newServer(t)
	const id = "5a7d8c2e-1b3f-4e6a-9c0d-2f4e6a8c0b1d"
	if err := iss.SeedUser(context.Background(), id, "ada@example.test", "demo-password", "Ada"); err != nil {
		t.Fatal(err)
	}
	live := func(access string) bool {
		st, _, _ := call(t, "GET", iss.BaseURL()+"/auth/v1/user", "", "apikey", iss.AnonKey(), "Authorization", "Bearer "+access)
		return st == 200
	}
	logout := func(access, scope string) int {
		st, _, _ := call(t, "POST", iss.BaseURL()+"/auth/v1/logout?scope="+scope, "", "apikey", iss.AnonKey(), "Authorization", "Bearer "+access)
		return st
	}
	a, _ := signIn(t, iss, "ada@example.test", "demo-password")
	b, _ := signIn(t, iss, "ada@example.test", "demo-password")
	c, _ := signIn(t, iss, "ada@example.test", "demo-password")
	if st := logout(a, "local"); st != 204 || live(a) || !live(b) || !live(c) {
		t.Errorf("local: %d; live %v %v %v", st, live(a), live(b), live(c))
	}
	if st := logout(b, "others"); st != 204 || !live(b) || live(c) {
		t.Errorf("others: %d; live %v %v", st, live(b), live(c))
	}
	if st := logout(b, "everything"); st != 400 {
		t.Errorf("an unknown scope: %d", st)
	}
	if st := logout(b, "global"); st != 204 || live(b) {
		t.Errorf("global: %d; live %v", st, live(b))
	}
	// A token without a session (make token's) logs out everywhere.
	d, _ := signIn(t, iss, "ada@example.test", "demo-password")
	if st := logout(iss.Mint(id, tokenissuer.WithoutClaim("session_id")), "local"); st != 204 || live(d) {
		t.Errorf("sessionless local logout: %d; live %v", st, live(d))
	}
	if st := logout(b, "global"); st != 403 {
		t.Errorf("logging out of an ended session: %d", st)
	}
}

func TestUserEndpointRefusals(t *testing.T) {
	iss := newServer(t)
	u := iss.BaseURL() + "/auth/v1/user"
	for _, tc := range []struct {
		name   string
		bearer string
		status int
		code   string
	}{
		{"no bearer", "", 401, "no_authorization"},
		{"not a bearer", "Basic YWRhOnNlY3JldA==", 401, "no_authorization"},
		{"garbage", "Bearer not.a.jwt", 403, "bad_jwt"},
		{"another issuer's key", "Bearer " + other(t).Mint(nobody), 403, "bad_jwt"},
		{"expired", "Bearer " + iss.Mint(nobody, tokenissuer.WithTTL(-2*time.Hour)), 403, "bad_jwt"},
		{"unknown user", "Bearer " + iss.Mint(nobody), 403, "user_not_found"},
		{"unknown user, lower-case bearer", "bearer " + iss.Mint(nobody), 403, "user_not_found"},
		{"no sub", "Bearer " + iss.Mint(nobody, tokenissuer.WithoutClaim("sub")), 403, "bad_jwt"},
		{"sub not a UUID", "Bearer " + iss.Mint("ada"), 400, "bad_jwt"},
		{"session_id not a UUID", "Bearer " + iss.Mint(nobody, tokenissuer.WithClaim("session_id", "s1")), 403, "bad_jwt"},
	} {
		hs := []string{"apikey", iss.AnonKey()}
		if tc.bearer != "" {
			hs = append(hs, "Authorization", tc.bearer)
		}
		if st, _, got := call(t, "GET", u, "", hs...); st != tc.status || got["error_code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, got, tc.status, tc.code)
		}
	}
}

const nobody = "11111111-2222-4333-8444-555555555555"

func other(t *testing.T) *tokenissuer.Issuer {
	t.Helper()
	o, err := tokenissuer.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAdminRoutes(t *testing.T) {
	iss := newServer(t)
	ctx := context.Background()
	ids := []string{"0a000000-0000-4000-8000-000000000001", "0a000000-0000-4000-8000-000000000002", "0a000000-0000-4000-8000-000000000003"}
	for n, id := range ids {
		if err := iss.SeedUser(ctx, id, string(rune('a'+n))+"@example.test", "demo-password", ""); err != nil {
			t.Fatal(err)
		}
	}
	base := iss.BaseURL() + "/auth/v1/admin/users"
	service := []string{"apikey", iss.ServiceRoleKey(), "Authorization", "Bearer " + iss.ServiceRoleKey()}
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		code    string
	}{
		{"anon key as bearer", []string{"apikey", iss.AnonKey(), "Authorization", "Bearer " + iss.AnonKey()}, 403, "not_admin"},
		{"a user's token", []string{"apikey", iss.AnonKey(), "Authorization", "Bearer " + iss.Mint(ids[0])}, 403, "not_admin"},
		{"no bearer", []string{"apikey", iss.ServiceRoleKey()}, 401, "no_authorization"},
		{"another project's service key", []string{"apikey", iss.ServiceRoleKey(), "Authorization", "Bearer " + other(t).ServiceRoleKey()}, 403, "bad_jwt"},
	} {
		if st, _, got := call(t, "GET", base+"/"+ids[0], "", tc.headers...); st != tc.status || got["error_code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, got, tc.status, tc.code)
		}
	}

	st, h, got := call(t, "GET", base+"?page=1&per_page=2", "", service...)
	users, _ := got["users"].([]any)
	if st != 200 || len(users) != 2 || h.Get("X-Total-Count") != "3" || !strings.Contains(h.Get("Link"), `rel="next"`) || got["aud"] != "authenticated" {
		t.Errorf("list: %d %v %v", st, h, got)
	}
	if st, _, got := call(t, "GET", base+"?page=0", "", service...); st != 400 || got["error_code"] != "validation_failed" {
		t.Errorf("page 0: %d %v", st, got)
	}
	if st, _, got := call(t, "GET", base+"/not-a-uuid", "", service...); st != 404 || got["error_code"] != "validation_failed" {
		t.Errorf("not a UUID: %d %v", st, got)
	}
	if st, _, got := call(t, "GET", base+"/"+nobody, "", service...); st != 404 || got["error_code"] != "user_not_found" {
		t.Errorf("unknown user: %d %v", st, got)
	}
	if st, _, got := call(t, "GET", base+"/"+ids[1], "", service...); st != 200 || got["id"] != ids[1] || got["email"] != "b@example.test" {
		t.Errorf("get: %d %v", st, got)
	}

	// A deleted user's sessions end with it.
	access, refresh := signIn(t, iss, "b@example.test", "demo-password")
	if st, _, got := call(t, "DELETE", base+"/"+ids[1], "", service...); st != 200 || len(got) != 0 {
		t.Errorf("delete: %d %v", st, got)
	}
	if st, _, got := call(t, "DELETE", base+"/"+ids[1], "", service...); st != 404 || got["error_code"] != "user_not_found" {
		t.Errorf("delete again: %d %v", st, got)
	}
	if st, _, got := call(t, "GET", iss.BaseURL()+"/auth/v1/user", "", "apikey", iss.AnonKey(), "Authorization", "Bearer "+access); st != 403 || got["error_code"] != "user_not_found" {
		t.Errorf("a deleted user's access token: %d %v", st, got)
	}
	if st, _, got := call(t, "POST", iss.BaseURL()+"/auth/v1/token?grant_type=refresh_token", `{"refresh_token":"`+refresh+`"}`, "apikey", iss.AnonKey()); st != 400 || got["error_code"] != "refresh_token_not_found" {
		t.Errorf("a deleted user's refresh token: %d %v", st, got)
	}
}

func TestCORS(t *testing.T) {
	const app = "http://localhost:5173"
	iss := newServer(t, tokenissuer.WithCORSOrigins(app))
	u := iss.BaseURL() + "/auth/v1/token?grant_type=password"
	st, h, _ := call(t, "OPTIONS", u, "", "Origin", app, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "apikey, content-type")
	if st != 204 || h.Get("Access-Control-Allow-Origin") != app || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "apikey") {
		t.Errorf("preflight from the app: %d %v", st, h)
	}
	if st, h, _ := call(t, "OPTIONS", u, "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", st, h)
	}
	if _, h, _ := call(t, "GET", iss.BaseURL()+"/auth/v1/settings", "", "Origin", app, "apikey", iss.AnonKey()); h.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("a request from the app: %v", h)
	}
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
