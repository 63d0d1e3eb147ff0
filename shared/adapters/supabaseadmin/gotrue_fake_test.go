package supabaseadmin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keys the fake accepts. Like a hosted project, the gateway lets any project
// key through as apikey, and GoTrue's admin routes then want the service
// role's key as the bearer token.
const (
	serviceKey = "sb-service-role-key-0f3c9a7e5b1d4e2a8c6f0b9d7e5a3c1f"
	anonKey    = "sb-anon-key-5e1a0c8f4d2b6a9e7c3f1d5b8a0e4c2d"
)

// fakeUser is GoTrue's user object as GET /admin/users/{id} serialises it.
type fakeUser struct {
	ID               string         `json:"id"`
	Aud              string         `json:"aud"`
	Role             string         `json:"role"`
	Email            string         `json:"email"`
	EmailConfirmedAt *time.Time     `json:"email_confirmed_at,omitempty"`
	Phone            string         `json:"phone"`
	ConfirmedAt      *time.Time     `json:"confirmed_at,omitempty"`
	LastSignInAt     *time.Time     `json:"last_sign_in_at,omitempty"`
	AppMetadata      map[string]any `json:"app_metadata"`
	UserMetadata     map[string]any `json:"user_metadata"`
	Identities       []fakeIdentity `json:"identities"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	IsAnonymous      bool           `json:"is_anonymous"`
}

type fakeIdentity struct {
	IdentityID   string         `json:"identity_id"`
	ID           string         `json:"id"`
	UserID       string         `json:"user_id"`
	IdentityData map[string]any `json:"identity_data"`
	Provider     string         `json:"provider"`
	LastSignInAt *time.Time     `json:"last_sign_in_at,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Email        string         `json:"email"`
}

// fakeGoTrue speaks GoTrue's admin user routes under /auth/v1, as Supabase
// serves them behind its API gateway.
type fakeGoTrue struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]*fakeUser
	order    []string // creation order, as the list returns them
	requests []*http.Request
	// fault, when set, answers authorised requests instead of the routes.
	fault http.HandlerFunc
}

func newFakeGoTrue(t *testing.T) *fakeGoTrue {
	t.Helper()
	f := &fakeGoTrue{t: t, users: map[string]*fakeUser{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/v1/admin/users", f.listUsers)
	mux.HandleFunc("GET /auth/v1/admin/users/{user_id}", f.getUser)
	mux.HandleFunc("PUT /auth/v1/admin/users/{user_id}", f.updateUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "error_code": "not_found", "msg": "Not found"})
	})
	f.srv = httptest.NewServer(f.authorise(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authorise checks the two headers the way the gateway and GoTrue do.
func (f *fakeGoTrue) authorise(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(r.Context()))
		fault := f.fault
		f.mu.Unlock()

		switch apikey := r.Header.Get("apikey"); apikey {
		case serviceKey, anonKey:
		case "":
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."})
			return
		default:
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid API key", "hint": "Double check your Supabase `anon` or `service_role` API key."})
			return
		}
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || bearer == "":
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "error_code": "no_authorization", "msg": "This endpoint requires a Bearer token"})
			return
		case bearer == anonKey:
			writeJSON(w, http.StatusForbidden, map[string]any{"code": 403, "error_code": "not_admin", "msg": "User not allowed"})
			return
		case bearer != serviceKey:
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "error_code": "bad_jwt", "msg": "invalid JWT: unable to parse or verify signature, token is malformed"})
			return
		}
		if fault != nil {
			fault(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeGoTrue) getUser(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	u, ok := f.users[r.PathValue("user_id")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "error_code": "user_not_found", "msg": "User not found"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (f *fakeGoTrue) listUsers(w http.ResponseWriter, r *http.Request) {
	page, perPage := 1, 50
	if s := r.URL.Query().Get("page"); s != "" {
		page, _ = strconv.Atoi(s)
	}
	if s := r.URL.Query().Get("per_page"); s != "" {
		perPage, _ = strconv.Atoi(s)
	}
	if page < 1 || perPage < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error_code": "validation_failed", "msg": "Bad Pagination Parameters"})
		return
	}
	f.mu.Lock()
	users := []*fakeUser{}
	for i := (page - 1) * perPage; i < len(f.order) && i < page*perPage; i++ {
		users = append(users, f.users[f.order[i]])
	}
	total := len(f.order)
	f.mu.Unlock()
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	last := max(1, (total+perPage-1)/perPage)
	link := fmt.Sprintf(`</admin/users?page=%d&per_page=%d>; rel="last"`, last, perPage)
	if page < last {
		link = fmt.Sprintf(`</admin/users?page=%d&per_page=%d>; rel="next", `, page+1, perPage) + link
	}
	w.Header().Set("Link", link)
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "aud": "authenticated"})
}

// updateUser is PUT /admin/users/{id} for user_metadata (merged) and email.
func (f *fakeGoTrue) updateUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email        string         `json:"email"`
		UserMetadata map[string]any `json:"user_metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "error_code": "bad_json", "msg": "Could not parse request body as JSON"})
		return
	}
	f.mu.Lock()
	u, ok := f.users[r.PathValue("user_id")]
	if ok {
		if body.Email != "" {
			u.Email = body.Email
		}
		for k, v := range body.UserMetadata {
			u.UserMetadata[k] = v
		}
		u.UpdatedAt = u.UpdatedAt.Add(time.Minute)
	}
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "error_code": "user_not_found", "msg": "User not found"})
		return
	}
	f.getUser(w, r)
}

// add stores a user the way e-mail sign-up plus confirmation leaves it.
func (f *fakeGoTrue) add(id, email string, meta map[string]any) *fakeUser {
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(time.Duration(len(f.order)) * time.Hour)
	confirmed := created.Add(time.Minute)
	signIn := created.Add(2 * time.Minute)
	if meta == nil {
		meta = map[string]any{}
	}
	u := &fakeUser{
		ID: id, Aud: "authenticated", Role: "authenticated",
		Email: email, EmailConfirmedAt: &confirmed, ConfirmedAt: &confirmed,
		LastSignInAt: &signIn,
		AppMetadata:  map[string]any{"provider": "email", "providers": []string{"email"}},
		UserMetadata: meta,
		Identities: []fakeIdentity{{
			IdentityID: "9a0c1b1e-5d7f-4d3e-8c2b-0f6a4e2d1c3b", ID: id, UserID: id,
			IdentityData: map[string]any{"email": email, "email_verified": true, "phone_verified": false, "sub": id},
			Provider:     "email", LastSignInAt: &signIn, CreatedAt: created, UpdatedAt: created, Email: email,
		}},
		CreatedAt: created, UpdatedAt: signIn,
	}
	f.mu.Lock()
	f.users[id] = u
	f.order = append(f.order, id)
	f.mu.Unlock()
	return u
}

func (f *fakeGoTrue) setFault(h http.HandlerFunc) {
	f.mu.Lock()
	f.fault = h
	f.mu.Unlock()
}

func (f *fakeGoTrue) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
