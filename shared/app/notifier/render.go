package notifier

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

//go:embed templates
var templateFiles embed.FS

// Renderer turns deliveries into messages: e-mail from the embedded HTML and
// text templates, SMS from text ones. Every e-mail carries a signed one-click
// unsubscribe link (RFC 8058) in its body and its List-Unsubscribe headers.
type Renderer struct {
	html      *htmltemplate.Template
	text      *texttemplate.Template
	publicURL string // the API's base URL: the unsubscribe link is <publicURL>/unsubscribe?token=…
	key       []byte // the unsubscribe links' HMAC key
	product   string
}

// NewRenderer parses the templates. publicURL is the API's public base URL,
// key the unsubscribe links' signing key (topology.NotificationKey).
func NewRenderer(publicURL string, key []byte) (*Renderer, error) {
	if len(key) == 0 {
		return nil, errors.New("notifier: the unsubscribe signing key is empty")
	}
	h, err := htmltemplate.New("").ParseFS(templateFiles, "templates/*.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("notifier: parse HTML templates: %w", err)
	}
	t, err := texttemplate.New("").ParseFS(templateFiles, "templates/*.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("notifier: parse text templates: %w", err)
	}
	return &Renderer{html: h, text: t, publicURL: strings.TrimRight(publicURL, "/"), key: key, product: "Portfolio Tracker"}, nil
}

// UnsubscribeURL is the one-click unsubscribe link of userID's e-mail.
func (r *Renderer) UnsubscribeURL(userID string) string {
	return r.publicURL + "/unsubscribe?token=" + url.QueryEscape(notify.UnsubscribeToken(r.key, userID, notify.ScopeEmail))
}

// AlertPayload is an alert's outbox payload (the trigger on alert_history
// writes it, migration 0021).
type AlertPayload struct {
	FiringKey   string          `json:"firingKey"`
	RuleID      string          `json:"ruleId"`
	Kind        string          `json:"kind"`
	Symbol      string          `json:"symbol"`
	PortfolioID string          `json:"portfolioId"`
	Observed    decimal.Decimal `json:"observed"`
	Threshold   decimal.Decimal `json:"threshold"`
	FiredAt     time.Time       `json:"firedAt"`
}

// PhoneCodePayload is a phone code's outbox payload (the user service writes
// it; the notifier deletes the code once sent).
type PhoneCodePayload struct {
	Phone string `json:"phone"`
	Code  string `json:"code"`
}

// alertView is one firing as the templates show it.
type alertView struct {
	Headline  string // "AAPL rose above 200"
	Symbol    string
	Kind      string
	Observed  string
	Threshold string
	Portfolio string
	FiredAt   string // in the user's time zone
}

// mailData is what the e-mail templates see.
type mailData struct {
	Product        string
	Name           string
	Alerts         []alertView
	Weekly         *weeklyView
	UnsubscribeURL string
}

// Email renders the e-mail of ds: one alert, a digest of several, or a weekly
// summary. To is left to the caller.
func (r *Renderer) Email(ds []Delivery) (Email, error) {
	if len(ds) == 0 {
		return Email{}, errors.New("nothing to render")
	}
	d := ds[0]
	data := mailData{Product: r.product, Name: d.DisplayName, UnsubscribeURL: r.UnsubscribeURL(d.UserID)}
	var subject, name string
	switch d.Source {
	case notify.SourceAlert:
		views, err := alertViews(ds)
		if err != nil {
			return Email{}, err
		}
		data.Alerts, name = views, "alert"
		subject = views[0].Headline
		if len(views) > 1 {
			subject, name = fmt.Sprintf("%d alerts while you were away", len(views)), "digest"
		}
	case notify.SourceWeeklySummary:
		w, err := weekly(d)
		if err != nil {
			return Email{}, err
		}
		data.Weekly, name = &w, "weekly"
		subject = "Your week in " + r.product + ", to " + w.Day
	default:
		return Email{}, fmt.Errorf("no e-mail for a %s", d.Source)
	}
	var html, text bytes.Buffer
	if err := r.html.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		return Email{}, fmt.Errorf("render %s (HTML): %w", name, err)
	}
	if err := r.text.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		return Email{}, fmt.Errorf("render %s (text): %w", name, err)
	}
	return Email{Subject: subject, HTML: html.String(), Text: text.String(), Headers: map[string]string{
		"List-Unsubscribe":      "<" + data.UnsubscribeURL + ">",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	}}, nil
}

// smsDigestShown is how many alerts an SMS digest names.
const smsDigestShown = 3

// smsData is an alert SMS's template data.
type smsData struct {
	Product string
	Alerts  []alertView // the first smsDigestShown
	Total   int
	More    int // Total less those shown
}

// SMS limits: two concatenated segments, of the GSM 7-bit alphabet (153
// septets each, an extension character counting two) or, when a character is
// outside it, of UCS-2 (67 characters each).
const (
	smsMaxSeptets = 2 * 153
	smsMaxUCS2    = 2 * 67
)

const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€"
)

// CapSMS cuts body to two segments (see smsMaxSeptets), ending a cut one
// with "...".
func CapSMS(body string) string {
	gsm := true
	septets := 0
	for _, c := range body {
		switch {
		case strings.ContainsRune(gsmBasic, c):
			septets++
		case strings.ContainsRune(gsmExtension, c):
			septets += 2
		default:
			gsm = false
		}
	}
	runes := []rune(body)
	if !gsm {
		if len(runes) <= smsMaxUCS2 {
			return body
		}
		return string(runes[:smsMaxUCS2-3]) + "..."
	}
	if septets <= smsMaxSeptets {
		return body
	}
	n := 0
	for i, c := range runes {
		w := 1
		if strings.ContainsRune(gsmExtension, c) {
			w = 2
		}
		if n+w > smsMaxSeptets-3 {
			return string(runes[:i]) + "..."
		}
		n += w
	}
	return body
}

// SMS renders the text message of ds: a phone code, one alert or a digest.
func (r *Renderer) SMS(ds []Delivery) (string, error) {
	if len(ds) == 0 {
		return "", errors.New("nothing to render")
	}
	var data any
	name := "sms_alert"
	switch ds[0].Source {
	case notify.SourcePhoneCode:
		var p PhoneCodePayload
		if err := json.Unmarshal(ds[0].Payload, &p); err != nil {
			return "", fmt.Errorf("phone code payload: %w", err)
		}
		if p.Code == "" {
			return "", errors.New("the phone code was sent already (its code is gone)")
		}
		data, name = map[string]string{"Product": r.product, "Code": p.Code}, "sms_phone_code"
	case notify.SourceAlert:
		views, err := alertViews(ds)
		if err != nil {
			return "", err
		}
		// A digest names its first few alerts: SNS refuses a message over
		// 1,600 bytes for good, and each 153 characters is a paid segment.
		shown := views[:min(len(views), smsDigestShown)]
		data = smsData{Product: r.product, Alerts: shown, Total: len(views), More: len(views) - len(shown)}
	default:
		return "", fmt.Errorf("no SMS for a %s", ds[0].Source)
	}
	var b bytes.Buffer
	if err := r.text.ExecuteTemplate(&b, name+".txt.tmpl", data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return CapSMS(strings.TrimSpace(b.String())), nil
}

func alertViews(ds []Delivery) ([]alertView, error) {
	out := make([]alertView, 0, len(ds))
	for _, d := range ds {
		var p AlertPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return nil, fmt.Errorf("alert payload of delivery %d: %w", d.ID, err)
		}
		loc, err := time.LoadLocation(d.TimeZone)
		if err != nil || d.TimeZone == "" {
			loc = time.UTC
		}
		out = append(out, alertView{Headline: headline(p), Symbol: p.Symbol, Kind: p.Kind, Observed: figure(p.Kind, p.Observed),
			Threshold: figure(p.Kind, p.Threshold), Portfolio: d.PortfolioName, FiredAt: p.FiredAt.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")})
	}
	return out, nil
}

// headlines say what each kind's firing means; a kind without one (a new
// kind) reads "<kind> alert" until it gets one (TestEveryKindHasAHeadline).
var headlines = map[alerts.Kind]string{
	alerts.KindPriceAbove:    "%[1]s rose above %[2]s",
	alerts.KindPriceBelow:    "%[1]s fell below %[2]s",
	alerts.KindPercentMove:   "%[1]s moved %[2]s or more today",
	alerts.KindWeightDrift:   "%[1]s drifted %[2]s from its target weight",
	alerts.KindValueDrop:     "Your portfolio fell %[2]s from its recent high",
	alerts.KindDrawdown:      "Your portfolio is %[2]s below its peak",
	alerts.KindVaRBreach:     "Your portfolio's value at risk passed %[2]s",
	alerts.KindConcentration: "One position is over %[2]s of your portfolio",
}

func headline(p AlertPayload) string {
	f, ok := headlines[alerts.Kind(p.Kind)]
	if !ok {
		return strings.TrimSpace(p.Symbol + " " + strings.ReplaceAll(p.Kind, "_", " ") + " alert")
	}
	return strings.TrimSpace(fmt.Sprintf(f, p.Symbol, figure(p.Kind, p.Threshold)))
}

// figure shows a price as it is and every other kind's figure, a fraction,
// as a percentage.
func figure(kind string, v decimal.Decimal) string {
	if alerts.Kind(kind) == alerts.KindPriceAbove || alerts.Kind(kind) == alerts.KindPriceBelow {
		return v.String()
	}
	return signedPercent(v)
}

func signedPercent(v decimal.Decimal) string {
	return v.Shift(2).StringFixed(2) + "%"
}
