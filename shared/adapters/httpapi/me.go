package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// Error codes of the /me routes.
const (
	CodeAccountDeleted       = "account_deleted"
	CodePhoneRequired        = "phone_required"
	CodePhoneVerified        = "phone_already_verified"
	CodeNoPendingCode        = "no_pending_code"
	CodeCodeExpired          = "code_expired"
	CodeWrongCode            = "wrong_code"
	CodeCodeAttemptsExceeded = "code_attempts_exceeded"
)

// MeResponse is the caller's profile (GET/PATCH /me). Email and its
// verification come from Supabase Auth and cannot be patched.
type MeResponse struct {
	UserID        string                  `json:"userId"`
	Email         string                  `json:"email"`
	EmailVerified bool                    `json:"emailVerified"`
	Phone         *string                 `json:"phone"`
	PhoneVerified bool                    `json:"phoneVerified"`
	DisplayName   string                  `json:"displayName"`
	TimeZone      string                  `json:"timeZone"`
	Locale        string                  `json:"locale"`
	BaseCurrency  string                  `json:"baseCurrency"`
	Notifications NotificationPreferences `json:"notifications"`
	CreatedAt     time.Time               `json:"createdAt"`
	UpdatedAt     time.Time               `json:"updatedAt"`
}

// NotificationPreferences is notify.Preferences as the API shows them.
type NotificationPreferences struct {
	Channels      []string            `json:"channels"`
	ByKind        map[string][]string `json:"byKind"`
	QuietHours    *QuietHoursView     `json:"quietHours"`
	Digest        string              `json:"digest"`
	DigestAt      string              `json:"digestAt"`
	WeeklySummary bool                `json:"weeklySummary"`
}

// QuietHoursView is the window, in the user's time zone, when e-mail and SMS wait.
type QuietHoursView struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func meResponse(p user.Profile) MeResponse {
	r := MeResponse{UserID: p.UserID, Email: p.Email, EmailVerified: p.EmailVerified, PhoneVerified: p.PhoneVerified,
		DisplayName: p.DisplayName, TimeZone: p.TimeZone, Locale: p.Locale, BaseCurrency: p.BaseCurrency,
		Notifications: preferencesView(p.Notifications), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
	if p.Phone != "" {
		r.Phone = &p.Phone
	}
	return r
}

func preferencesView(p notify.Preferences) NotificationPreferences {
	v := NotificationPreferences{Channels: channelNames(p.Channels), ByKind: map[string][]string{}, Digest: string(p.Digest),
		DigestAt: string(p.DigestAt), WeeklySummary: p.WeeklySummary}
	if v.DigestAt == "" {
		v.DigestAt = string(notify.DefaultDigestAt)
	}
	for k, cs := range p.ByKind {
		v.ByKind[k] = channelNames(cs)
	}
	if q := p.QuietHours; q != nil {
		v.QuietHours = &QuietHoursView{Start: string(q.Start), End: string(q.End)}
	}
	return v
}

func (v NotificationPreferences) domain() notify.Preferences {
	p := notify.Preferences{Channels: channels(v.Channels), Digest: notify.Digest(v.Digest), DigestAt: notify.ClockTime(v.DigestAt),
		WeeklySummary: v.WeeklySummary}
	if len(v.ByKind) > 0 {
		p.ByKind = make(map[string][]notify.Channel, len(v.ByKind))
		for k, cs := range v.ByKind {
			p.ByKind[k] = channels(cs)
		}
	}
	if q := v.QuietHours; q != nil {
		p.QuietHours = &notify.QuietHours{Start: notify.ClockTime(q.Start), End: notify.ClockTime(q.End)}
	}
	return p
}

func channelNames(cs []notify.Channel) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func channels(names []string) []notify.Channel {
	out := make([]notify.Channel, len(names))
	for i, n := range names {
		out[i] = notify.Channel(n)
	}
	return out
}

// createsData are the operations that store something of the caller's under a
// new key (a portfolio, a rule): an erased user's access token, valid until it
// expires, must not start new data (operations on an erased portfolio find
// nothing already).
var createsData = []string{"createPortfolio", "createAlert"}

// refuseErased answers 410 to a caller whose data was erased (one query; the
// routes it guards are rare).
func (s *Server) refuseErased(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.users != nil {
			if err := s.users.RefuseErased(r.Context(), userFrom(r.Context())); err != nil {
				return meError(err)
			}
		}
		return h(w, r)
	}
}

func (s *Server) usersService() (*users.Service, error) {
	if s.users == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "the user service is not available", nil)
	}
	return s.users, nil
}

// getMe answers the caller's profile, made from Supabase Auth on the first call
// of a user who has none.
func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.usersService()
	if err != nil {
		return err
	}
	p, err := svc.Profile(r.Context(), userFrom(r.Context()))
	if err != nil {
		return meError(err)
	}
	writeJSON(w, http.StatusOK, meResponse(p))
	return nil
}

// The fields PATCH /me may set, and those it shows but never takes.
var (
	mePatchable = []string{"displayName", "timeZone", "locale", "baseCurrency", "phone", "notifications"}
	meReadOnly  = []string{"userId", "email", "emailVerified", "phoneVerified", "createdAt", "updatedAt"}
)

// updateMe applies a JSON merge patch (RFC 7396) to the caller's profile: a
// field absent is kept, null resets it (the default; no phone), notifications
// merge field by field. The whole profile is validated (422 naming the field);
// a changed phone is no longer verified.
func (s *Server) updateMe(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.usersService()
	if err != nil {
		return err
	}
	patch, err := decodeMePatch(w, r)
	if err != nil {
		return err
	}
	p, err := svc.Update(r.Context(), userFrom(r.Context()), patch)
	if err != nil {
		return meError(err)
	}
	writeJSON(w, http.StatusOK, meResponse(p))
	return nil
}

// decodeMePatch reads the merge patch into a users.Patch.
func decodeMePatch(w http.ResponseWriter, r *http.Request) (users.Patch, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
			return users.Patch{}, newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as application/merge-patch+json or application/json", nil)
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return users.Patch{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return users.Patch{}, newError(http.StatusBadRequest, CodeInvalidJSON, "the body must be a JSON object", nil)
	}
	var patch users.Patch
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[name]
		switch {
		case slices.Contains(meReadOnly, name):
			return users.Patch{}, validation(name, "read-only")
		case !slices.Contains(mePatchable, name):
			return users.Patch{}, newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("unknown field %q", name), map[string]string{"field": name})
		case name == "notifications":
			merge := raw
			patch.Notifications = func(cur notify.Preferences) (notify.Preferences, error) { return mergePreferences(cur, merge) }
			continue
		}
		v, err := nullableString(name, raw)
		if err != nil {
			return users.Patch{}, err
		}
		switch name {
		case "displayName":
			patch.DisplayName = orDefault(v, "")
		case "timeZone":
			patch.TimeZone = orDefault(v, user.DefaultTimeZone)
		case "locale":
			patch.Locale = orDefault(v, user.DefaultLocale)
		case "baseCurrency":
			patch.BaseCurrency = orDefault(v, user.DefaultBaseCurrency)
		case "phone":
			patch.Phone = orDefault(v, "")
		}
	}
	return patch, nil
}

// nullableString decodes a string or null (nil).
func nullableString(field string, raw json.RawMessage) (*string, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("field %q must be a string or null", field), map[string]string{"field": field})
	}
	return &v, nil
}

func orDefault(v *string, def string) *string {
	if v == nil {
		return &def
	}
	return v
}

// mergePreferences applies a merge patch to the current preferences: null
// resets them to the defaults, an object merges into them (its nulls remove).
func mergePreferences(cur notify.Preferences, patch json.RawMessage) (notify.Preferences, error) {
	if bytes.Equal(bytes.TrimSpace(patch), []byte("null")) {
		return notify.DefaultPreferences(), nil
	}
	doc, err := json.Marshal(preferencesView(cur))
	if err != nil {
		return notify.Preferences{}, err
	}
	var target, p any
	if err := json.Unmarshal(doc, &target); err != nil {
		return notify.Preferences{}, err
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return notify.Preferences{}, newError(http.StatusBadRequest, CodeInvalidJSON, "notifications must be a JSON object or null", map[string]string{"field": "notifications"})
	}
	if _, ok := p.(map[string]any); !ok {
		return notify.Preferences{}, newError(http.StatusBadRequest, CodeInvalidJSON, "notifications must be a JSON object or null", map[string]string{"field": "notifications"})
	}
	merged, err := json.Marshal(mergePatch(target, p))
	if err != nil {
		return notify.Preferences{}, err
	}
	var v NotificationPreferences
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		ae := classify(jsonError(err))
		ae.message = "notifications: " + ae.message
		if d, ok := ae.details.(map[string]string); ok {
			d["field"] = "notifications." + d["field"]
		}
		return notify.Preferences{}, ae
	}
	return v.domain(), nil
}

// mergePatch is RFC 7396's MergePatch(target, patch).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func validation(field, reason string) *apiError {
	return newError(http.StatusUnprocessableEntity, CodeValidation, field+": "+reason, map[string]string{"field": field, "reason": reason})
}

// meError maps the user service's errors.
func meError(err error) error {
	var fe *user.FieldError
	var ne *notify.FieldError
	var rl *users.RateLimitedError
	switch {
	case errors.As(err, &fe):
		return validation(fe.Field, fe.Reason)
	case errors.As(err, &ne):
		return validation("notifications."+ne.Field, ne.Reason)
	case errors.As(err, &rl):
		return &apiError{status: http.StatusTooManyRequests, code: CodeTooManyRequests, message: rl.Error(),
			details: map[string]string{"retryAfter": strconv.Itoa(retryAfterSeconds(rl.RetryAfter))}}
	case errors.Is(err, users.ErrErased):
		return newError(http.StatusGone, CodeAccountDeleted, "this account was deleted", nil)
	case errors.Is(err, users.ErrNoProfile), errors.Is(err, users.ErrAuthUserNotFound):
		return newError(http.StatusNotFound, CodeNotFound, "no profile for this user", nil)
	case errors.Is(err, users.ErrProfileChanged):
		return newError(http.StatusConflict, CodeConflict, "the profile kept changing; retry", nil)
	case errors.Is(err, users.ErrUnavailable):
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "not available in this deployment", nil)
	case errors.Is(err, users.ErrNoPhone):
		return newError(http.StatusUnprocessableEntity, CodePhoneRequired, "set a phone number first", map[string]string{"field": "phone"})
	case errors.Is(err, users.ErrPhoneVerified):
		return newError(http.StatusConflict, CodePhoneVerified, "this phone number is already verified", nil)
	case errors.Is(err, users.ErrNoPendingCode):
		return newError(http.StatusUnprocessableEntity, CodeNoPendingCode, "no code is pending: ask for one (POST /me/phone)", nil)
	case errors.Is(err, users.ErrCodeExpired):
		return newError(http.StatusUnprocessableEntity, CodeCodeExpired, "the code has expired: ask for a new one", nil)
	case errors.Is(err, users.ErrTooManyAttempts):
		return newError(http.StatusUnprocessableEntity, CodeCodeAttemptsExceeded, "too many wrong codes: ask for a new one", nil)
	case errors.Is(err, users.ErrWrongCode):
		return newError(http.StatusUnprocessableEntity, CodeWrongCode, "wrong code", map[string]string{"field": "code"})
	case errors.Is(err, users.ErrBadCode):
		return validation("code", "want the 6 digits sent by SMS")
	}
	return err
}

func retryAfterSeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// withRetryAfter is meError, setting Retry-After on a rate limit.
func withRetryAfter(w http.ResponseWriter, err error) error {
	var rl *users.RateLimitedError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(rl.RetryAfter)))
	}
	return meError(err)
}

type startPhoneRequest struct {
	// Phone, if given, replaces the profile's first (E.164).
	Phone string `json:"phone"`
}

// PhoneCodeResponse says where the code went and until when it is valid.
type PhoneCodeResponse struct {
	Phone     string    `json:"phone"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// startPhoneVerification sends a 6-digit code by SMS to the profile's phone
// (or to the one in the body, which becomes the profile's). 202: the SMS is
// queued, the notifier sends it.
func (s *Server) startPhoneVerification(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.usersService()
	if err != nil {
		return err
	}
	var body startPhoneRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &body); err != nil {
			return err
		}
	}
	sent, err := svc.StartPhoneVerification(r.Context(), userFrom(r.Context()), body.Phone)
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusAccepted, PhoneCodeResponse{Phone: sent.Phone, ExpiresAt: sent.ExpiresAt.UTC()})
	return nil
}

type verifyPhoneRequest struct {
	Code string `json:"code"`
}

// verifyPhone checks the code and answers the profile, its phone verified.
func (s *Server) verifyPhone(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.usersService()
	if err != nil {
		return err
	}
	var body verifyPhoneRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	p, err := svc.VerifyPhone(r.Context(), userFrom(r.Context()), body.Code)
	if err != nil {
		return meError(err)
	}
	writeJSON(w, http.StatusOK, meResponse(p))
	return nil
}

// ErasureResponse is what DELETE /me erased: items per store ("dynamodb.events",
// "postgres.transactions", "auth.users", ...).
type ErasureResponse struct {
	UserID   string           `json:"userId"`
	ErasedAt time.Time        `json:"erasedAt"`
	Erased   map[string]int64 `json:"erased"`
	Total    int64            `json:"total"`
}

// deleteMe erases everything of the caller, the Supabase Auth user last, and
// reports it. Safe to retry: a retry finishes an erasure cut short, and one of
// a finished erasure reports zeros.
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.usersService()
	if err != nil {
		return err
	}
	rep, err := svc.Erase(r.Context(), userFrom(r.Context()))
	if err != nil {
		return meError(err)
	}
	res := ErasureResponse{UserID: rep.UserID, ErasedAt: rep.ErasedAt.UTC(), Erased: make(map[string]int64, len(rep.Counts)), Total: rep.Total()}
	for _, c := range rep.Counts {
		res.Erased[c.Store] += c.Items
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
