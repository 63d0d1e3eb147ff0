package tokenissuer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// The GoTrue routes the stand-in serves, below the project URL. GoTrue's own
// paths are these without "/auth/v1" (Supabase's gateway strips it).
const (
	authPrefix = "/auth/v1"
	// MinPasswordLength is Supabase's default minimum.
	MinPasswordLength = 6
	// accessTokenTTL is Supabase's default JWT expiry.
	accessTokenTTL = time.Hour
	// defaultPerPage is GoTrue's page size of the admin user list.
	defaultPerPage = 50
	maxBodyBytes   = 1 << 20
	// apiVersionHeader selects GoTrue's error shape: with 2024-01-01 or later,
	// {"code": "<error code>", "message": ...}; without it the older
	// {"code": <status>, "error_code": ..., "msg": ...}.
	apiVersionHeader   = "X-Supabase-Api-Version"
	apiVersion20240101 = "2024-01-01"
)

// routes adds the GoTrue endpoints to mux.
func (i *Issuer) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+authPrefix+"/signup", i.signup)
	mux.HandleFunc("POST "+authPrefix+"/token", i.token)
	mux.HandleFunc("GET "+authPrefix+"/user", i.getUser)
	mux.HandleFunc("POST "+authPrefix+"/logout", i.logout)
	mux.HandleFunc("GET "+authPrefix+"/settings", i.settings)
	mux.HandleFunc("GET "+authPrefix+"/health", i.health)
	mux.HandleFunc("GET "+authPrefix+"/admin/users", i.adminListUsers)
	mux.HandleFunc("GET "+authPrefix+"/admin/users/{user_id}", i.adminGetUser)
	mux.HandleFunc("DELETE "+authPrefix+"/admin/users/{user_id}", i.adminDeleteUser)
	mux.HandleFunc(authPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found", "Not Found")
	})
}

// newSession starts a session for u: its first refresh token, the sign-in
// time, and an access token.
func (i *Issuer) newSession(ctx context.Context, u User) (session, error) {
	now := i.now()
	rt := RefreshToken{Token: newRefreshToken(), UserID: u.ID, SessionID: uuid.New(), CreatedAt: now}
	if err := i.store.IssueRefreshToken(ctx, rt); err != nil {
		return session{}, err
	}
	if err := i.store.RecordSignIn(ctx, u.ID, now); err != nil {
		return session{}, err
	}
	u.LastSignInAt, u.UpdatedAt = micro(now), micro(now)
	return i.sessionResponse(u, rt, now), nil
}

// sessionResponse mints the access token of rt's session: Supabase's claims,
// signed with the current ES256 key.
func (i *Issuer) sessionResponse(u User, rt RefreshToken, now time.Time) session {
	tok := i.Mint(u.ID, WithIssuedAt(now), WithTTL(accessTokenTTL), WithEmail(u.Email),
		WithClaim("phone", u.Phone), WithClaim("app_metadata", u.AppMetadata), WithClaim("user_metadata", u.UserMetadata),
		WithClaim("session_id", rt.SessionID), WithClaim("is_anonymous", u.IsAnonymous),
		WithClaim("amr", []map[string]any{{"method": "password", "timestamp": now.Unix()}}))
	return session{AccessToken: tok, TokenType: "bearer", ExpiresIn: int(accessTokenTTL.Seconds()),
		ExpiresAt: now.Add(accessTokenTTL).Unix(), RefreshToken: rt.Token, User: toJSON(u)}
}

// newRefreshToken is an opaque random token (Supabase's are opaque strings
// too, not JWTs).
func newRefreshToken() string { return strings.ToLower(rand.Text()) }

// HashPassword returns the bcrypt hash the stand-in stores for a password.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// POST /signup {email, password, data}. Sign-ups are confirmed at once (the
// local Supabase CLI's default), so the answer is a session.
func (i *Issuer) signup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string         `json:"email"`
		Phone    string         `json:"phone"`
		Password string         `json:"password"`
		Data     map[string]any `json:"data"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	switch {
	case email == "" && req.Phone != "":
		writeError(w, r, http.StatusBadRequest, "phone_provider_disabled", "Phone signups are disabled")
		return
	case email == "":
		writeError(w, r, http.StatusBadRequest, "validation_failed", "To signup, please provide your email")
		return
	case !validEmail(email):
		writeError(w, r, http.StatusBadRequest, "validation_failed", "Unable to validate email address: invalid format")
		return
	case req.Password == "":
		writeError(w, r, http.StatusBadRequest, "validation_failed", "Signup requires a valid password")
		return
	case len([]rune(req.Password)) < MinPasswordLength:
		writeError(w, r, http.StatusUnprocessableEntity, "weak_password",
			fmt.Sprintf("Password should be at least %d characters.", MinPasswordLength),
			map[string]any{"weak_password": map[string]any{"reasons": []string{"length"}}})
		return
	case len(req.Password) > 72: // bcrypt's limit, which GoTrue enforces too
		writeError(w, r, http.StatusUnprocessableEntity, "validation_failed", "Password cannot be longer than 72 characters")
		return
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		i.internalError(w, r, err)
		return
	}
	now := i.now()
	id := uuid.New()
	meta := cloneMap(req.Data)
	// GoTrue copies the identity's data into user_metadata.
	for k, v := range map[string]any{"email": email, "email_verified": true, "phone_verified": false, "sub": id} {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	u := User{ID: id, Email: email, PasswordHash: hash, EmailConfirmedAt: now,
		AppMetadata: map[string]any{"provider": "email", "providers": []any{"email"}}, UserMetadata: meta,
		CreatedAt: now, UpdatedAt: now}
	switch err := i.store.CreateUser(r.Context(), u); {
	case errors.Is(err, ErrUserExists):
		writeError(w, r, http.StatusUnprocessableEntity, "user_already_exists", "User already registered")
		return
	case err != nil: // a trigger on auth.users failing, say
		i.internalError(w, r, err, "Database error saving new user")
		return
	}
	s, err := i.newSession(r.Context(), stored(u))
	if err != nil {
		i.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && len(s) <= 255
}

// POST /token?grant_type=password {email, password} or
// grant_type=refresh_token {refresh_token}.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email        string `json:"email"`
		Phone        string `json:"phone"`
		Password     string `json:"password"`
		RefreshToken string `json:"refresh_token"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	switch r.URL.Query().Get("grant_type") {
	case "password":
		i.passwordGrant(w, r, req.Email, req.Password)
	case "refresh_token":
		i.refreshGrant(w, r, req.RefreshToken)
	default:
		writeError(w, r, http.StatusBadRequest, "validation_failed", "unsupported_grant_type")
	}
}

func (i *Issuer) passwordGrant(w http.ResponseWriter, r *http.Request, email, password string) {
	u, err := i.store.UserByEmail(r.Context(), strings.TrimSpace(email))
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		i.internalError(w, r, err)
		return
	}
	// A phone, an unknown e-mail and a wrong password all read the same.
	if err != nil || u.PasswordHash == "" || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		writeError(w, r, http.StatusBadRequest, "invalid_credentials", "Invalid login credentials")
		return
	}
	if u.EmailConfirmedAt.IsZero() {
		writeError(w, r, http.StatusBadRequest, "email_not_confirmed", "Email not confirmed")
		return
	}
	s, err := i.newSession(r.Context(), u)
	if err != nil {
		i.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// refreshGrant rotates the refresh token: the one used is revoked, and a
// second use of it ends its session (Store.RotateRefreshToken).
func (i *Issuer) refreshGrant(w http.ResponseWriter, r *http.Request, token string) {
	if token == "" {
		writeError(w, r, http.StatusBadRequest, "validation_failed", "refresh_token required")
		return
	}
	now := i.now()
	rt, err := i.store.RotateRefreshToken(r.Context(), token, RefreshToken{Token: newRefreshToken(), CreatedAt: now})
	switch {
	case errors.Is(err, ErrTokenNotFound):
		writeError(w, r, http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
		return
	case errors.Is(err, ErrTokenReused):
		writeError(w, r, http.StatusBadRequest, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
		return
	case err != nil:
		i.internalError(w, r, err)
		return
	}
	u, err := i.store.User(r.Context(), rt.UserID)
	switch {
	case errors.Is(err, ErrUserNotFound): // deleted since the rotation
		writeError(w, r, http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
		return
	case err != nil:
		i.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, i.sessionResponse(u, rt, now))
}

// bearer returns the verified claims of the request's bearer token, or
// answers as GoTrue does and returns false.
func (i *Issuer) bearer(w http.ResponseWriter, r *http.Request) (bearerClaims, bool) {
	// GoTrue's pattern: ^(?:B|b)earer (\S+$).
	header := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		raw, ok = strings.CutPrefix(header, "bearer ")
	}
	if !ok || raw == "" || strings.ContainsAny(raw, " \t") {
		writeError(w, r, http.StatusUnauthorized, "no_authorization", "This endpoint requires a Bearer token")
		return bearerClaims{}, false
	}
	c, err := i.verify(raw, i.now())
	if err != nil {
		writeError(w, r, http.StatusForbidden, "bad_jwt", "invalid JWT: unable to parse or verify signature, "+err.Error())
		return bearerClaims{}, false
	}
	return c, true
}

// authenticate loads the signed-in user of the request: the bearer's user,
// whose session must still be live (a logout or a refresh token's reuse
// ends it; the access token itself stays valid for the verifier until it
// expires, as on Supabase).
func (i *Issuer) authenticate(w http.ResponseWriter, r *http.Request) (User, bearerClaims, bool) {
	c, ok := i.bearer(w, r)
	if !ok {
		return User{}, c, false
	}
	switch {
	case c.Sub == "":
		writeError(w, r, http.StatusForbidden, "bad_jwt", "invalid claim: missing sub claim")
		return User{}, c, false
	case !uuid.Valid(c.Sub):
		writeError(w, r, http.StatusBadRequest, "bad_jwt", "invalid claim: sub claim must be a UUID")
		return User{}, c, false
	case c.SessionID != "" && !uuid.Valid(c.SessionID):
		writeError(w, r, http.StatusForbidden, "bad_jwt", "invalid claim: session_id claim must be a UUID")
		return User{}, c, false
	}
	u, err := i.store.User(r.Context(), strings.ToLower(c.Sub))
	if errors.Is(err, ErrUserNotFound) {
		writeError(w, r, http.StatusForbidden, "user_not_found", "User from sub claim in JWT does not exist")
		return User{}, c, false
	}
	if err != nil {
		i.internalError(w, r, err)
		return User{}, c, false
	}
	if c.SessionID != "" && c.SessionID != nilUUID {
		live, err := i.store.SessionActive(r.Context(), c.SessionID)
		if err != nil {
			i.internalError(w, r, err)
			return User{}, c, false
		}
		if !live {
			writeError(w, r, http.StatusForbidden, "session_not_found", "Session from session_id claim in JWT does not exist")
			return User{}, c, false
		}
	}
	return u, c, true
}

// GET /user
func (i *Issuer) getUser(w http.ResponseWriter, r *http.Request) {
	if u, _, ok := i.authenticate(w, r); ok {
		writeJSON(w, http.StatusOK, toJSON(u))
	}
}

// POST /logout?scope=global|local|others: 204. A token without a session
// logs out everywhere, as GoTrue does.
func (i *Issuer) logout(w http.ResponseWriter, r *http.Request) {
	u, c, ok := i.authenticate(w, r)
	if !ok {
		return
	}
	scope := LogoutScope(r.URL.Query().Get("scope"))
	switch scope {
	case "":
		scope = ScopeGlobal
	case ScopeGlobal, ScopeLocal, ScopeOthers:
	default:
		writeError(w, r, http.StatusBadRequest, "validation_failed", fmt.Sprintf("Unsupported logout scope %q", scope))
		return
	}
	if c.SessionID == "" || c.SessionID == nilUUID {
		scope = ScopeGlobal
	}
	if err := i.store.EndSessions(r.Context(), u.ID, c.SessionID, scope); err != nil {
		i.internalError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// GET /settings: e-mail sign-up with immediate confirmation, nothing else.
func (i *Issuer) settings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"external": map[string]bool{"email": true, "phone": false, "anonymous_users": false, "saml": false,
			"apple": false, "azure": false, "github": false, "gitlab": false, "google": false},
		"disable_signup": false, "mailer_autoconfirm": true, "phone_autoconfirm": false, "sms_provider": "",
		"saml_enabled": false,
	})
}

// GET /health
func (i *Issuer) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": "local", "name": "GoTrue",
		"description": "GoTrue is a user registration and authentication API (Portfolio Tracker's local stand-in)"})
}

// requireAdmin lets through a bearer token with the service role, as
// GoTrue's admin routes do.
func (i *Issuer) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	c, ok := i.bearer(w, r)
	if !ok {
		return false
	}
	if c.Role != "service_role" && c.Role != "supabase_admin" {
		writeError(w, r, http.StatusForbidden, "not_admin", "User not allowed")
		return false
	}
	return true
}

// GET /admin/users?page=&per_page=
func (i *Issuer) adminListUsers(w http.ResponseWriter, r *http.Request) {
	if !i.requireAdmin(w, r) {
		return
	}
	page, perPage := 1, defaultPerPage
	q := r.URL.Query()
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				writeError(w, r, http.StatusBadRequest, "validation_failed", "Bad Pagination Parameters")
				return
			}
			*dst = n
		}
	}
	users, total, err := i.store.Users(r.Context(), page, perPage)
	if err != nil {
		i.internalError(w, r, err)
		return
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toJSON(u))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	last := max(1, (total+perPage-1)/perPage)
	link := fmt.Sprintf(`</admin/users?page=%d&per_page=%d>; rel="last"`, last, perPage)
	if page < last {
		link = fmt.Sprintf(`</admin/users?page=%d&per_page=%d>; rel="next", `, page+1, perPage) + link
	}
	w.Header().Set("Link", link)
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "aud": "authenticated"})
}

// adminUser loads the user of the path, answering 404 as GoTrue does.
func (i *Issuer) adminUser(w http.ResponseWriter, r *http.Request) (User, bool) {
	if !i.requireAdmin(w, r) {
		return User{}, false
	}
	id := strings.ToLower(r.PathValue("user_id"))
	if !uuid.Valid(id) {
		writeError(w, r, http.StatusNotFound, "validation_failed", "user_id must be an UUID")
		return User{}, false
	}
	u, err := i.store.User(r.Context(), id)
	if errors.Is(err, ErrUserNotFound) {
		writeError(w, r, http.StatusNotFound, "user_not_found", "User not found")
		return User{}, false
	}
	if err != nil {
		i.internalError(w, r, err)
		return User{}, false
	}
	return u, true
}

// GET /admin/users/{user_id}
func (i *Issuer) adminGetUser(w http.ResponseWriter, r *http.Request) {
	if u, ok := i.adminUser(w, r); ok {
		writeJSON(w, http.StatusOK, toJSON(u))
	}
}

// DELETE /admin/users/{user_id}: always a hard delete (should_soft_delete is
// not supported); the user's sessions go with it. 200 with {}, as GoTrue.
func (i *Issuer) adminDeleteUser(w http.ResponseWriter, r *http.Request) {
	u, ok := i.adminUser(w, r)
	if !ok {
		return
	}
	switch err := i.store.DeleteUser(r.Context(), u.ID); {
	case errors.Is(err, ErrUserNotFound): // deleted meanwhile
		writeError(w, r, http.StatusNotFound, "user_not_found", "User not found")
	case err != nil: // a foreign key to auth.users without a cascade, say
		i.internalError(w, r, err, "Database error deleting user")
	default:
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// nilUUID in a session_id claim means no session, as GoTrue reads it.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// nopLogger discards.
var nopLogger = slog.New(slog.DiscardHandler)
