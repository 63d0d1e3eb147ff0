package notify

import (
	"errors"
	"testing"
)

func TestUnsubscribeTokens(t *testing.T) {
	key := []byte("k1")
	const user = "0b7e2f41-3c9d-4a55-8e1f-7d2c6b9a4e10"
	tok := UnsubscribeToken(key, user, ScopeEmail)
	if u, s, err := VerifyUnsubscribeToken(key, tok); err != nil || u != user || s != ScopeEmail {
		t.Fatalf("verify = %q %q %v", u, s, err)
	}
	other := UnsubscribeToken(key, "11111111-1111-4111-8111-111111111111", ScopeEmail)
	for name, bad := range map[string]string{
		"empty":         "",
		"another key":   UnsubscribeToken([]byte("k2"), user, ScopeEmail),
		"user swapped":  "v1.11111111-1111-4111-8111-111111111111.email." + tok[len(tok)-43:],
		"mac swapped":   tok[:len(tok)-43] + other[len(other)-43:],
		"old version":   "v0" + tok[2:],
		"unknown scope": UnsubscribeToken(key, user, "sms"),
		"truncated":     tok[:len(tok)-1],
	} {
		if _, _, err := VerifyUnsubscribeToken(key, bad); !errors.Is(err, ErrBadUnsubscribeToken) {
			t.Errorf("%s: err = %v, want ErrBadUnsubscribeToken", name, err)
		}
	}
	if _, _, err := VerifyUnsubscribeToken(nil, tok); err == nil {
		t.Error("an empty key verified a token")
	}
}

func TestWithoutEmail(t *testing.T) {
	p := Preferences{Channels: []Channel{ChannelEmail, ChannelWebSocket}, ByKind: map[string][]Channel{"drawdown": {ChannelEmail, ChannelSMS}},
		Digest: DigestDaily, WeeklySummary: true}
	if !p.WantsEmail() {
		t.Fatal("WantsEmail = false")
	}
	q := p.WithoutEmail()
	if q.WantsEmail() || len(q.Channels) != 1 || len(q.ByKind["drawdown"]) != 1 || q.WeeklySummary || q.Digest != DigestDaily {
		t.Fatalf("WithoutEmail = %+v", q)
	}
	if len(p.ByKind["drawdown"]) != 2 {
		t.Fatal("WithoutEmail changed its receiver")
	}
}
