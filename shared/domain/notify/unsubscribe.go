package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// UnsubscribeScope is what an unsubscribe link turns off.
type UnsubscribeScope string

// ScopeEmail turns off every e-mail of the user: alerts of every kind, digests
// and the weekly summary. It is the only scope the links carry today; the
// scope is signed so that a narrower one can be added without a new version.
const ScopeEmail UnsubscribeScope = "email"

// unsubscribeVersion prefixes every token: a new key or format gets a new
// version, and tokens of an old one can be refused or still honoured by choice.
const unsubscribeVersion = "v1"

// ErrBadUnsubscribeToken is returned for a token this key did not sign.
var ErrBadUnsubscribeToken = errors.New("notify: invalid unsubscribe token")

// UnsubscribeToken signs (userID, scope) with key: "v1.<user>.<scope>.<mac>",
// the mac an HMAC-SHA256 over the version, user and scope. It has no expiry: an
// unsubscribe link must work as long as the message is in someone's inbox
// (RFC 8058), and all it can do is turn mail off.
func UnsubscribeToken(key []byte, userID string, scope UnsubscribeScope) string {
	return unsubscribeVersion + "." + userID + "." + string(scope) + "." + unsubscribeMAC(key, userID, scope)
}

// VerifyUnsubscribeToken returns the user and scope a token of key names, or
// ErrBadUnsubscribeToken.
func VerifyUnsubscribeToken(key []byte, token string) (userID string, scope UnsubscribeScope, err error) {
	parts := strings.Split(token, ".")
	if len(key) == 0 || len(parts) != 4 || parts[0] != unsubscribeVersion || parts[1] == "" || UnsubscribeScope(parts[2]) != ScopeEmail {
		return "", "", ErrBadUnsubscribeToken
	}
	userID, scope = parts[1], UnsubscribeScope(parts[2])
	if !hmac.Equal([]byte(parts[3]), []byte(unsubscribeMAC(key, userID, scope))) {
		return "", "", ErrBadUnsubscribeToken
	}
	return userID, scope, nil
}

func unsubscribeMAC(key []byte, userID string, scope UnsubscribeScope) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(unsubscribeVersion + "\x00" + userID + "\x00" + string(scope)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// WithoutEmail returns p with e-mail turned off everywhere: the default and
// per-kind channels and the weekly summary (what an unsubscribe does).
func (p Preferences) WithoutEmail() Preferences {
	out := p
	out.Channels = without(p.Channels, ChannelEmail)
	if p.ByKind != nil {
		out.ByKind = make(map[string][]Channel, len(p.ByKind))
		for k, cs := range p.ByKind {
			out.ByKind[k] = without(cs, ChannelEmail)
		}
	}
	out.WeeklySummary = false
	return out
}

// WantsEmail reports whether p sends anything by e-mail: after an unsubscribe
// it does not, until the user turns e-mail on again.
func (p Preferences) WantsEmail() bool {
	if p.WeeklySummary || contains(p.Channels, ChannelEmail) {
		return true
	}
	for _, cs := range p.ByKind {
		if contains(cs, ChannelEmail) {
			return true
		}
	}
	return false
}

func contains(cs []Channel, c Channel) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func without(cs []Channel, c Channel) []Channel {
	out := make([]Channel, 0, len(cs))
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}
