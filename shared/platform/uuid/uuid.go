// Package uuid makes the UUIDs of every ID the system generates: random version
// 4 (events, transactions, Lambda request IDs, key IDs) and name-based version 8
// (IDs a retried command must derive again, such as a created portfolio's). It
// is the whole of what the project needs from a UUID library.
package uuid

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// New returns a random version 4 UUID in its canonical lower-case form.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms (Go 1.24+)
	return format(b, 0x40)
}

// FromNames returns the version 8 UUID named by the SHA-256 of names joined by
// NUL bytes: the same names always give the same ID.
func FromNames(names ...string) string {
	h := sha256.Sum256([]byte(strings.Join(names, "\x00")))
	return format([16]byte(h[:16]), 0x80)
}

// format sets the version and the RFC 4122 variant and writes the canonical
// lower-case form.
func format(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
