package httpapi

import (
	"context"
	"errors"
	htmltemplate "html/template"
	"net/http"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Notifications is the caller's notification history and the unsubscribe of
// a signed link; *readmodel.NotificationHistory implements it.
type Notifications interface {
	Deliveries(ctx context.Context, userID string, limit int, cursor string) ([]readmodel.NotificationDelivery, string, error)
	Unsubscribe(ctx context.Context, userID string, scope notify.UnsubscribeScope, at time.Time) error
}

var _ Notifications = (*readmodel.NotificationHistory)(nil)

const defaultNotificationPage = 50

// notificationView is one delivery of GET /notifications.
type notificationView struct {
	ID            int64                     `json:"id"`
	Source        string                    `json:"source"`
	Channel       string                    `json:"channel"`
	Status        string                    `json:"status"`
	Address       string                    `json:"address,omitempty"`
	Kind          string                    `json:"kind,omitempty"`
	Symbol        string                    `json:"symbol,omitempty"`
	PortfolioID   string                    `json:"portfolioId,omitempty"`
	FiringKey     string                    `json:"firingKey,omitempty"`
	RuleID        string                    `json:"ruleId,omitempty"`
	Day           string                    `json:"day,omitempty"`
	Attempts      int                       `json:"attempts"`
	HeldUntil     *time.Time                `json:"heldUntil,omitempty"`
	NextAttemptAt *time.Time                `json:"nextAttemptAt,omitempty"`
	SentAt        *time.Time                `json:"sentAt,omitempty"`
	DigestID      string                    `json:"digestId,omitempty"`
	LastError     string                    `json:"lastError,omitempty"`
	CreatedAt     time.Time                 `json:"createdAt"`
	AttemptLog    []notificationAttemptView `json:"attemptLog"`
}

type notificationAttemptView struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Error   string    `json:"error,omitempty"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) notificationsStore() (Notifications, error) {
	if s.notifications == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "notifications are not available", nil)
	}
	return s.notifications, nil
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) error {
	store, err := s.notificationsStore()
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", defaultNotificationPage, 1, readmodel.MaxNotificationPage)
	if err != nil {
		return err
	}
	page, next, err := store.Deliveries(r.Context(), userFrom(r.Context()), int(limit), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	items := make([]notificationView, 0, len(page))
	for _, d := range page {
		v := notificationView{ID: d.ID, Source: d.Source, Channel: d.Channel, Status: d.Status, Address: d.Address, Kind: d.Kind,
			Symbol: d.Symbol, PortfolioID: d.PortfolioID, FiringKey: d.FiringKey, RuleID: d.RuleID, Day: d.Day, Attempts: d.Attempts,
			HeldUntil: optionalTime(d.HeldUntil), NextAttemptAt: optionalTime(d.NextAttemptAt), SentAt: optionalTime(d.SentAt),
			DigestID: d.DigestID, LastError: d.LastError, CreatedAt: d.CreatedAt, AttemptLog: make([]notificationAttemptView, 0, len(d.AttemptLog))}
		for _, a := range d.AttemptLog {
			v.AttemptLog = append(v.AttemptLog, notificationAttemptView(a))
		}
		items = append(items, v)
	}
	body := map[string]any{"items": items}
	if next != "" {
		body["nextCursor"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// The unsubscribe pages. GET only asks (a link scanner that follows every link
// of a message must not unsubscribe anyone); its one button, and a mail
// client's RFC 8058 one-click POST, unsubscribe.
var unsubscribePage = htmltemplate.Must(htmltemplate.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Portfolio Tracker e-mail</title></head>
<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b2430">
<h1 style="font-size:1.4rem">{{.Title}}</h1><p>{{.Message}}</p>
{{if .Ask}}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="font-size:1rem;padding:.6rem 1.2rem">Unsubscribe from all e-mail</button></form>{{end}}
</body></html>`))

type unsubscribePageData struct {
	Title, Message string
	Ask            bool
}

func writePage(w http.ResponseWriter, status int, d unsubscribePageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
	w.WriteHeader(status)
	_ = unsubscribePage.Execute(w, d)
}

var errBadUnsubscribe = unsubscribePageData{Title: "This link does not work",
	Message: "The unsubscribe link is incomplete or was not made by Portfolio Tracker. Use the link of a recent e-mail, or change your notification settings in the app."}

// unsubscribeUser verifies the request's token and returns the user it names.
func (s *Server) unsubscribeUser(r *http.Request) (string, notify.UnsubscribeScope, bool) {
	if len(s.unsubscribeKey) == 0 {
		return "", "", false
	}
	user, scope, err := notify.VerifyUnsubscribeToken(s.unsubscribeKey, r.URL.Query().Get("token"))
	return user, scope, err == nil
}

// unsubscribe is GET /unsubscribe?token=: a page that asks.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	if _, _, ok := s.unsubscribeUser(r); !ok {
		writePage(w, http.StatusBadRequest, errBadUnsubscribe)
		return nil
	}
	writePage(w, http.StatusOK, unsubscribePageData{Title: "Unsubscribe from Portfolio Tracker e-mail?",
		Message: "You will get no more alert, digest or weekly summary e-mails. Alerts in the app are not affected.", Ask: true})
	return nil
}

// unsubscribeOneClick is POST /unsubscribe?token= with the body
// List-Unsubscribe=One-Click (RFC 8058): turns the user's e-mail off.
func (s *Server) unsubscribeOneClick(w http.ResponseWriter, r *http.Request) error {
	user, scope, ok := s.unsubscribeUser(r)
	if !ok {
		writePage(w, http.StatusBadRequest, errBadUnsubscribe)
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("List-Unsubscribe") != "One-Click" {
		writePage(w, http.StatusBadRequest, unsubscribePageData{Title: "Nothing changed",
			Message: "An unsubscribe request carries List-Unsubscribe=One-Click (RFC 8058)."})
		return nil
	}
	store, err := s.notificationsStore()
	if err != nil {
		return err
	}
	if err := store.Unsubscribe(r.Context(), user, scope, time.Now().UTC()); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		s.logger(r).ErrorContext(r.Context(), "unsubscribe failed", "error", err.Error())
		writePage(w, http.StatusServiceUnavailable, unsubscribePageData{Title: "Please try again",
			Message: "We could not record your request just now. The link keeps working: try it again in a moment."})
		return nil
	}
	writePage(w, http.StatusOK, unsubscribePageData{Title: "You are unsubscribed",
		Message: "Portfolio Tracker will send you no more e-mail. You can turn e-mail on again in your notification settings."})
	return nil
}
