package uuid

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// Namespace is the namespace of name-based version 5 UUIDs (RFC 4122 §4.3), the
// IDs of what is derived from what it names: the same quote fetched twice, or
// the same valuation computed by two containers, gets the same event ID.
type Namespace [16]byte

// MustNamespace parses a namespace in canonical form; it panics on anything
// else, since a namespace is a constant of the program.
func MustNamespace(s string) Namespace {
	var ns Namespace
	if !Valid(s) {
		panic("uuid: namespace " + s + " is not a UUID")
	}
	if _, err := hex.Decode(ns[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		panic("uuid: namespace " + s + ": " + err.Error())
	}
	return ns
}

// Name returns the version 5 UUID of name in the namespace: SHA-1 of the
// namespace's bytes and the name, with the version and variant set.
func (ns Namespace) Name(name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	return format([16]byte(h.Sum(nil)[:16]), 0x50)
}
