package notify

import (
	"reflect"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestPlan(t *testing.T) {
	berlin, newYork := mustLoad(t, "Europe/Berlin"), mustLoad(t, "America/New_York")
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi int) time.Time {
		return time.Date(y, mo, d, h, mi, 0, 0, loc)
	}
	both := Preferences{Channels: []Channel{ChannelWebSocket, ChannelEmail, ChannelSMS}, Digest: DigestOff}
	with := func(p Preferences, f func(*Preferences)) Preferences {
		f(&p)
		return p
	}
	night := &QuietHours{Start: "22:00", End: "07:00"}
	verified := Recipient{Email: "ada@example.test", EmailVerified: true, Phone: "+14155550100", PhoneVerified: true, Location: berlin, Preferences: both}
	recipient := func(f func(*Recipient)) Recipient {
		r := verified
		f(&r)
		return r
	}
	alert := Message{Source: SourceAlert, AlertKind: "price_above"}
	june := at(berlin, 2026, 6, 10, 12, 0) // a Wednesday, summer time

	type want struct {
		channel Channel
		action  Action
		at      time.Time
	}
	cases := []struct {
		name string
		msg  Message
		r    Recipient
		now  time.Time
		want []want
	}{
		{"defaults: the WebSocket only, recorded as sent", alert, Recipient{Preferences: DefaultPreferences()}, june,
			[]want{{ChannelWebSocket, ActionLive, june}}},
		{"every channel at once", alert, verified, june,
			[]want{{ChannelEmail, ActionSend, june}, {ChannelSMS, ActionSend, june}, {ChannelWebSocket, ActionLive, june}}},
		{"the rule's channels win", Message{Source: SourceAlert, AlertKind: "price_above", RuleChannels: []Channel{ChannelSMS}}, verified, june,
			[]want{{ChannelSMS, ActionSend, june}}},
		{"the kind's channels", alert, recipient(func(r *Recipient) {
			r.Preferences = with(both, func(p *Preferences) { p.ByKind = map[string][]Channel{"price_above": {ChannelEmail}} })
		}), june, []want{{ChannelEmail, ActionSend, june}}},
		{"unverified addresses are skipped", alert, recipient(func(r *Recipient) { r.EmailVerified, r.PhoneVerified = false, false }), june,
			[]want{{ChannelEmail, ActionSkip, june}, {ChannelSMS, ActionSkip, june}, {ChannelWebSocket, ActionLive, june}}},
		{"a bounced address is suppressed", alert, recipient(func(r *Recipient) { r.EmailSuppressed = true }), june,
			[]want{{ChannelEmail, ActionSuppressed, june}, {ChannelSMS, ActionSend, june}, {ChannelWebSocket, ActionLive, june}}},
		{"an unsubscribed user gets no e-mail", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.EmailUnsubscribed = true }), june, []want{{ChannelEmail, ActionSuppressed, june}}},
		{"quiet hours before midnight hold until the morning", alert,
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.QuietHours = night }) }),
			at(berlin, 2026, 6, 10, 23, 30),
			[]want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 11, 7, 0)}, {ChannelSMS, ActionHold, at(berlin, 2026, 6, 11, 7, 0)},
				{ChannelWebSocket, ActionLive, at(berlin, 2026, 6, 10, 23, 30)}}},
		{"quiet hours after midnight hold until the same morning", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.QuietHours = night }) }),
			at(berlin, 2026, 6, 11, 3, 0), []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 11, 7, 0)}}},
		{"the end of quiet hours is not in them", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.QuietHours = night }) }),
			at(berlin, 2026, 6, 11, 7, 0), []want{{ChannelEmail, ActionSend, at(berlin, 2026, 6, 11, 7, 0)}}},
		{"quiet hours within a day", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = &QuietHours{Start: "12:00", End: "14:00"} })
			}),
			june, []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 10, 14, 0)}}},
		{"quiet hours in the user's zone, not UTC", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.QuietHours = night }) }),
			time.Date(2026, 6, 10, 21, 30, 0, 0, time.UTC), // 23:30 in Berlin
			[]want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 11, 7, 0)}}},
		{"a night that gains an hour (New York, 1 November 2026)", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location, r.Preferences = newYork, with(both, func(p *Preferences) { p.QuietHours = night })
			}),
			at(newYork, 2026, 10, 31, 23, 0),
			// 07:00 EST is 12:00 UTC, not the 11:00 UTC that 07:00 EDT would be.
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}},
		// Quiet hours ending in the hour repeated when the clocks go back
		// (01:00–02:00 EDT, then 01:00–02:00 EST) end at the later 01:30.
		{"an end in the repeated hour, from the evening (New York, 1 November 2026)", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location = newYork
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = &QuietHours{Start: "22:00", End: "01:30"} })
			}),
			at(newYork, 2026, 10, 31, 23, 0),
			// 01:30 EST is 06:30 UTC; 01:30 EDT (05:30 UTC) is an hour early.
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)}}},
		{"an end in the repeated hour, from its first pass", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location = newYork
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = &QuietHours{Start: "22:00", End: "01:30"} })
			}),
			time.Date(2026, 11, 1, 5, 10, 0, 0, time.UTC), // 01:10 EDT
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)}}},
		{"an end in the repeated hour, from its second pass", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location = newYork
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = &QuietHours{Start: "22:00", End: "01:30"} })
			}),
			time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), // 01:10 EST: still quiet
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)}}},
		{"an end the day the clocks go back, after the repeated hour", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location, r.Preferences = newYork, with(both, func(p *Preferences) { p.QuietHours = night })
			}),
			time.Date(2026, 11, 1, 6, 10, 0, 0, time.UTC), // 01:10 EST
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}},
		{"an end the clocks skip (New York, 8 March 2026, 02:30)", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Location = newYork
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = &QuietHours{Start: "22:00", End: "02:30"} })
			}),
			at(newYork, 2026, 3, 8, 1, 0),
			// The gap ends at 03:00 EDT, 07:00 UTC: the first instant the clock is past 02:30.
			[]want{{ChannelEmail, ActionHold, time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)}}},
		{"a daily digest, later today", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Preferences = with(both, func(p *Preferences) { p.Digest, p.DigestAt = DigestDaily, "18:30" })
			}),
			june, []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 10, 18, 30)}}},
		{"a daily digest at the default time, tomorrow", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.Digest = DigestDaily }) }),
			june, []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 11, 8, 0)}}},
		{"a weekly digest on Monday", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.Digest = DigestWeekly }) }),
			june, []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 15, 8, 0)}}},
		{"a weekly digest on Monday before its time", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) { r.Preferences = with(both, func(p *Preferences) { p.Digest = DigestWeekly }) }),
			at(berlin, 2026, 6, 15, 7, 59), []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 15, 8, 0)}}},
		{"a digest time inside quiet hours waits for their end", Message{Source: SourceAlert, RuleChannels: []Channel{ChannelEmail}},
			recipient(func(r *Recipient) {
				r.Preferences = with(both, func(p *Preferences) { p.Digest, p.DigestAt, p.QuietHours = DigestDaily, "06:00", night })
			}),
			june, []want{{ChannelEmail, ActionHold, at(berlin, 2026, 6, 11, 7, 0)}}},
		{"the weekly summary by e-mail, held by quiet hours", Message{Source: SourceWeeklySummary},
			recipient(func(r *Recipient) {
				r.Preferences = with(both, func(p *Preferences) { p.WeeklySummary, p.QuietHours, p.Digest = true, night, DigestWeekly })
			}),
			at(berlin, 2026, 6, 13, 23, 0),
			[]want{{ChannelWebSocket, ActionLive, at(berlin, 2026, 6, 13, 23, 0)}, {ChannelEmail, ActionHold, at(berlin, 2026, 6, 14, 7, 0)}}},
		{"no weekly summary e-mail unless asked", Message{Source: SourceWeeklySummary}, verified, june,
			[]want{{ChannelWebSocket, ActionLive, june}}},
		{"a phone code goes to the unverified number at once, quiet hours or not", Message{Source: SourcePhoneCode, Phone: "+4915112345678"},
			recipient(func(r *Recipient) {
				r.PhoneVerified = false
				r.Preferences = with(both, func(p *Preferences) { p.QuietHours = night })
			}),
			at(berlin, 2026, 6, 10, 23, 30), []want{{ChannelSMS, ActionSend, at(berlin, 2026, 6, 10, 23, 30)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			steps := Plan(c.msg, c.r, c.now)
			var got []want
			for _, s := range steps {
				got = append(got, want{s.Channel, s.Action, s.At})
				if s.At.Location() != time.UTC {
					t.Errorf("%s: At %v is not UTC", s.Channel, s.At)
				}
			}
			norm := func(ws []want) []want {
				out := make([]want, len(ws))
				for i, w := range ws {
					out[i] = want{w.channel, w.action, w.at.UTC()}
				}
				return out
			}
			if !reflect.DeepEqual(norm(got), norm(c.want)) {
				t.Fatalf("plan\n got %v\nwant %v", norm(got), norm(c.want))
			}
		})
	}
}

func TestPlanAddresses(t *testing.T) {
	r := Recipient{Email: "ada@example.test", EmailVerified: true, Phone: "+14155550100", PhoneVerified: true,
		Preferences: Preferences{Channels: []Channel{ChannelEmail, ChannelSMS}, Digest: DigestOff}}
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	for _, s := range Plan(Message{Source: SourceAlert}, r, now) {
		if want := map[Channel]string{ChannelEmail: r.Email, ChannelSMS: r.Phone}[s.Channel]; s.Address != want {
			t.Errorf("%s to %q, want %q", s.Channel, s.Address, want)
		}
	}
	if s := Plan(Message{Source: SourcePhoneCode, Phone: "+4915112345678"}, r, now); s[0].Address != "+4915112345678" {
		t.Errorf("phone code to %q, want the number being verified", s[0].Address)
	}
}
