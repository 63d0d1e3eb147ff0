package notify

import (
	"slices"
	"time"
)

// Source is what put a message in the outbox.
type Source string

// The outbox's sources (notification_outbox.source).
const (
	SourceAlert         Source = "alert"
	SourceWeeklySummary Source = "weekly_summary"
	SourcePhoneCode     Source = "phone_code"
)

// Message is what the plan needs to know of an outbox entry.
type Message struct {
	Source Source
	// AlertKind and RuleChannels, for an alert: the rule's kind and the
	// channels it names (empty: the user's preferences decide).
	AlertKind    string
	RuleChannels []Channel
	// Phone, for a phone code: the number being verified (the only SMS that
	// goes to an unverified number).
	Phone string
}

// Recipient is what the plan needs to know of the user at the instant of
// planning.
type Recipient struct {
	Email         string
	EmailVerified bool
	// EmailSuppressed: the address bounced or complained (email_suppressions).
	EmailSuppressed bool
	// EmailUnsubscribed: the user followed an unsubscribe link and has not
	// turned e-mail on again in their preferences since.
	EmailUnsubscribed bool
	Phone             string
	PhoneVerified     bool
	Location          *time.Location // nil: UTC
	Preferences       Preferences
}

// Action is what happens to one channel of a message.
type Action string

// The actions, each a delivery's first status.
const (
	ActionSend       Action = "pending"    // send at once
	ActionHold       Action = "held"       // send with the user's other held messages at Step.At
	ActionLive       Action = "sent"       // the WebSocket: pushed live by the producer at firing time
	ActionSkip       Action = "skipped"    // no verified address
	ActionSuppressed Action = "suppressed" // bounced, complained or unsubscribed address
)

// Step is the plan for one channel.
type Step struct {
	Channel Channel
	Action  Action
	// At is when the delivery is due: the instant of planning for ActionSend,
	// the end of the quiet hours or the next digest for ActionHold.
	At      time.Time
	Address string // the e-mail address or phone number, when there is one
	Reason  string // why it is held, skipped or suppressed
}

// Plan says, for each channel of msg, whether it goes out now, waits, or not
// at all, for recipient r at instant now.
//
//   - An alert uses the rule's channels, else the preferences' for its kind.
//     The WebSocket was pushed by the producer: it is recorded as sent. E-mail
//     goes only to a verified address that neither bounced, complained nor
//     unsubscribed; SMS only to a verified phone. A daily or weekly digest
//     holds them until the next digest time, and quiet hours hold them until
//     they end (a digest time inside quiet hours waits for their end too).
//   - A weekly summary goes by e-mail when the preferences ask for it (the
//     WebSocket push is the producer's, recorded as sent); quiet hours hold it,
//     digests do not (it is one already).
//   - A phone code goes by SMS to the number being verified, at once: the
//     user is waiting for it.
func Plan(msg Message, r Recipient, now time.Time) []Step {
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	now = now.UTC()
	switch msg.Source {
	case SourcePhoneCode:
		return []Step{{Channel: ChannelSMS, Action: ActionSend, At: now, Address: msg.Phone}}
	case SourceWeeklySummary:
		steps := []Step{{Channel: ChannelWebSocket, Action: ActionLive, At: now}}
		if r.Preferences.WeeklySummary {
			steps = append(steps, r.emailStep(now, quietEnd(r.Preferences.QuietHours, now, loc)))
		}
		return steps
	}
	due := now
	if r.Preferences.Digest == DigestDaily || r.Preferences.Digest == DigestWeekly {
		due = NextDigest(r.Preferences, now, loc)
	}
	due = quietEnd(r.Preferences.QuietHours, due, loc)
	channels := r.Preferences.ChannelsFor(msg.AlertKind, msg.RuleChannels)
	steps := make([]Step, 0, len(channels))
	for _, c := range Channels { // in the one order, whatever the rule's
		if !slices.Contains(channels, c) {
			continue
		}
		switch c {
		case ChannelWebSocket:
			steps = append(steps, Step{Channel: c, Action: ActionLive, At: now})
		case ChannelEmail:
			steps = append(steps, r.emailStep(now, due))
		case ChannelSMS:
			steps = append(steps, r.smsStep(now, due))
		}
	}
	return steps
}

// emailStep is the e-mail channel's step, due at due (now: send at once).
func (r Recipient) emailStep(now, due time.Time) Step {
	s := Step{Channel: ChannelEmail, At: now, Address: r.Email}
	switch {
	case r.Email == "" || !r.EmailVerified:
		s.Action, s.Reason = ActionSkip, "no verified e-mail address"
	case r.EmailSuppressed:
		s.Action, s.Reason = ActionSuppressed, "the address bounced or complained"
	case r.EmailUnsubscribed:
		s.Action, s.Reason = ActionSuppressed, "unsubscribed"
	default:
		s.Action, s.At = timed(now, due)
		if s.Action == ActionHold {
			s.Reason = "quiet hours or digest"
		}
	}
	return s
}

func (r Recipient) smsStep(now, due time.Time) Step {
	s := Step{Channel: ChannelSMS, At: now, Address: r.Phone}
	if r.Phone == "" || !r.PhoneVerified {
		s.Action, s.Reason = ActionSkip, "no verified phone"
		return s
	}
	s.Action, s.At = timed(now, due)
	if s.Action == ActionHold {
		s.Reason = "quiet hours or digest"
	}
	return s
}

func timed(now, due time.Time) (Action, time.Time) {
	if due.After(now) {
		return ActionHold, due
	}
	return ActionSend, now
}

// InQuietHours reports whether t falls in q (in loc), and when they end.
func (q QuietHours) InQuietHours(t time.Time, loc *time.Location) (bool, time.Time) {
	start, err1 := q.Start.Minutes()
	end, err2 := q.End.Minutes()
	if err1 != nil || err2 != nil || start == end {
		return false, time.Time{}
	}
	local := t.In(loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	switch {
	case start < end && m >= start && m < end: // 01:00–06:00
		return true, lastWallClock(y, mo, d, end, loc)
	case start > end && m >= start: // 22:00–07:00, before midnight
		return true, lastWallClock(y, mo, d+1, end, loc)
	case start > end && m < end: // after midnight
		return true, lastWallClock(y, mo, d, end, loc)
	}
	return false, time.Time{}
}

// lastWallClock is wallClock, but of a time the clocks show twice (the hour
// repeated when they go back) the later instant: quiet hours that span the
// repeated hour last until the end the user's clock shows last, not an hour
// early (nor, for an instant in the second pass, already over).
func lastWallClock(y int, mo time.Month, d, minutes int, loc *time.Location) time.Time {
	t := wallClock(y, mo, d, minutes, loc)
	_, zoneEnd := t.ZoneBounds()
	if zoneEnd.IsZero() {
		return t
	}
	_, before := t.Zone()
	_, after := zoneEnd.Zone()
	if back := time.Duration(before-after) * time.Second; back > 0 {
		if later := t.Add(back); !later.Before(zoneEnd) {
			return later // the same wall-clock time in the next zone
		}
	}
	return t
}

// quietEnd is t, or the end of the quiet hours t falls in.
func quietEnd(q *QuietHours, t time.Time, loc *time.Location) time.Time {
	if q == nil {
		return t
	}
	if in, end := q.InQuietHours(t, loc); in && end.After(t) {
		return end.UTC()
	}
	return t
}

// NextDigest is the first digest time of p strictly after now: each day (daily)
// or each Monday (weekly) at p.DigestAt (DefaultDigestAt when empty) in loc.
// With no digest it is now.
func NextDigest(p Preferences, now time.Time, loc *time.Location) time.Time {
	if p.Digest != DigestDaily && p.Digest != DigestWeekly {
		return now
	}
	at := p.DigestAt
	if at == "" {
		at = DefaultDigestAt
	}
	minutes, err := at.Minutes()
	if err != nil {
		minutes, _ = DefaultDigestAt.Minutes()
	}
	local := now.In(loc)
	y, mo, d := local.Date()
	for i := 0; i <= 8; i++ {
		t := wallClock(y, mo, d+i, minutes, loc)
		if !t.After(now) {
			continue
		}
		if p.Digest == DigestWeekly && t.In(loc).Weekday() != time.Monday {
			continue
		}
		return t.UTC()
	}
	return now // unreachable: a Monday is at most a week away
}

// wallClock is the instant the clocks of loc show minutes after midnight on
// that day. A time the clocks skip (02:30 on the day summer time starts) is the
// first instant after the gap, so a held message is never sent before the
// user's clock reached the time they chose; a time they show twice is the first.
func wallClock(y int, mo time.Month, d, minutes int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, minutes/60, minutes%60, 0, 0, loc)
	if lt := t.In(loc); lt.Hour()*60+lt.Minute() != minutes {
		// In a gap, time.Date lands on one side of it: the transition nearest
		// to t is the gap's end, in whichever zone t came out.
		start, end := t.ZoneBounds()
		if !start.IsZero() && (end.IsZero() || t.Sub(start) <= end.Sub(t)) {
			return start
		}
		return end
	}
	return t
}
