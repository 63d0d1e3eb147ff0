// Package notify is what a user asked to be told and how: the channels, quiet
// hours and digests of their notification preferences, and the plan that turns
// a firing or a summary into deliveries per channel. It knows no transport:
// the notifier use case (shared/app/notifier) sends what the plan says.
package notify

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Channel is a way to reach a person.
type Channel string

// The channels. The string values are stored with rules, preferences and
// deliveries.
const (
	ChannelEmail     Channel = "email"
	ChannelSMS       Channel = "sms"
	ChannelWebSocket Channel = "websocket" // live, to the open connections, at firing time
)

// Channels is the one list of channels (validation, the API's enum, the
// delivery history's filter derive from it).
var Channels = []Channel{ChannelEmail, ChannelSMS, ChannelWebSocket}

// Known reports whether c is one of Channels.
func (c Channel) Known() bool { return slices.Contains(Channels, c) }

// Digest is how often held messages go out together instead of one by one.
type Digest string

// Digest cadences. DigestOff sends each message on its own (quiet hours still
// hold them until they end, then send them as one digest).
const (
	DigestOff    Digest = "off"
	DigestDaily  Digest = "daily"
	DigestWeekly Digest = "weekly" // on Mondays
)

// Digests is the one list of cadences.
var Digests = []Digest{DigestOff, DigestDaily, DigestWeekly}

// ClockTime is a time of day "HH:MM" (24 h) in the user's time zone.
type ClockTime string

// Minutes returns the minutes after midnight, or an error.
func (t ClockTime) Minutes() (int, error) {
	v, err := time.Parse("15:04", string(t))
	if err != nil || len(t) != 5 {
		return 0, fmt.Errorf("time of day %q: want HH:MM (24 h)", string(t))
	}
	return v.Hour()*60 + v.Minute(), nil
}

// QuietHours is a daily span in the user's time zone during which nothing is
// sent: what arrives is held and goes out as one digest when it ends. Start
// after End spans midnight (22:00–07:00). Start equal to End is refused.
type QuietHours struct {
	Start ClockTime `json:"start"`
	End   ClockTime `json:"end"`
}

// Preferences are a user's notification settings, stored with their profile
// (profiles.notification_preferences, JSON in this shape).
type Preferences struct {
	// Channels are the channels alerts use unless a rule names its own or ByKind
	// names the kind's. Empty means websocket only.
	Channels []Channel `json:"channels"`
	// ByKind overrides Channels for an alert kind (alerts.Kind values).
	ByKind map[string][]Channel `json:"byKind,omitempty"`
	// QuietHours, if set, hold email and SMS until they end.
	QuietHours *QuietHours `json:"quietHours,omitempty"`
	// Digest sends alerts together, daily or weekly, at DigestAt.
	Digest   Digest    `json:"digest"`
	DigestAt ClockTime `json:"digestAt,omitempty"` // default 08:00
	// WeeklySummary sends the weekly summary by email too (it always goes over
	// the WebSocket).
	WeeklySummary bool `json:"weeklySummary"`
}

// DefaultDigestAt is when digests go out when DigestAt is empty.
const DefaultDigestAt ClockTime = "08:00"

// DefaultPreferences are a new user's: alerts live only, no digest, the weekly
// summary by email (a user without a verified address gets none).
func DefaultPreferences() Preferences {
	return Preferences{Channels: []Channel{ChannelWebSocket}, Digest: DigestOff, WeeklySummary: true}
}

// Preference validation sentinels; *FieldError wraps one of them.
var (
	ErrInvalidPreferences = errors.New("invalid notification preferences")
)

// FieldError names the field of a refused setting and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a *FieldError match ErrInvalidPreferences.
func (e *FieldError) Unwrap() error { return ErrInvalidPreferences }

// MaxByKind bounds the per-kind overrides (there are fewer kinds than this).
const MaxByKind = 32

// Validate checks p; kindKnown says whether a ByKind key is an alert kind (the
// alerts package's table; notify does not import it).
func (p Preferences) Validate(kindKnown func(string) bool) error {
	if err := checkChannels("channels", p.Channels); err != nil {
		return err
	}
	if len(p.ByKind) > MaxByKind {
		return &FieldError{"byKind", fmt.Sprintf("at most %d kinds", MaxByKind)}
	}
	for k, cs := range p.ByKind {
		if kindKnown == nil || !kindKnown(k) {
			return &FieldError{"byKind." + k, "unknown alert kind"}
		}
		if err := checkChannels("byKind."+k, cs); err != nil {
			return err
		}
	}
	if q := p.QuietHours; q != nil {
		s, err := q.Start.Minutes()
		if err != nil {
			return &FieldError{"quietHours.start", err.Error()}
		}
		e, err := q.End.Minutes()
		if err != nil {
			return &FieldError{"quietHours.end", err.Error()}
		}
		if s == e {
			return &FieldError{"quietHours", "start and end must differ"}
		}
	}
	if !slices.Contains(Digests, p.Digest) {
		return &FieldError{"digest", fmt.Sprintf("want one of %v", Digests)}
	}
	if p.DigestAt != "" {
		if _, err := p.DigestAt.Minutes(); err != nil {
			return &FieldError{"digestAt", err.Error()}
		}
	}
	return nil
}

// ChannelsFor is the channels a firing of kind uses: the rule's own when it
// names any, else the kind's override, else the defaults.
func (p Preferences) ChannelsFor(kind string, ruleChannels []Channel) []Channel {
	switch {
	case len(ruleChannels) > 0:
		return ruleChannels
	case len(p.ByKind[kind]) > 0:
		return p.ByKind[kind]
	case len(p.Channels) > 0:
		return p.Channels
	}
	return []Channel{ChannelWebSocket}
}

func checkChannels(field string, cs []Channel) error {
	if len(cs) > len(Channels) {
		return &FieldError{field, "too many channels"}
	}
	for i, c := range cs {
		if !c.Known() {
			return &FieldError{field, fmt.Sprintf("unknown channel %q (want one of %v)", c, Channels)}
		}
		if slices.Contains(cs[:i], c) {
			return &FieldError{field, fmt.Sprintf("channel %q twice", c)}
		}
	}
	return nil
}
