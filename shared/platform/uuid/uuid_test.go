package uuid

import (
	"regexp"
	"testing"
)

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewIsARandomVersion4UUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !v4.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("%q twice", id)
		}
		seen[id] = true
	}
}

// The portfolio IDs already stored were derived with this formula: it must not
// move (a retried create would open a second portfolio).
func TestFromNamesIsStableVersion8(t *testing.T) {
	const want = "6af8b667-af67-86e1-aee6-d29d10131c2e"
	if got := FromNames("portfolio", "user-1", "key-1"); got != want {
		t.Fatalf("FromNames = %s, want %s", got, want)
	}
	if FromNames("portfolio", "user-1", "key-2") == want || FromNames("portfolio", "user-1\x00key-1") != want {
		t.Fatal("the names, joined by NUL, and nothing else decide the ID")
	}
}

// Version 5 IDs are RFC 4122's: the expected values are Python's uuid.uuid5 (and
// what google/uuid's NewSHA1 gave the event IDs already published).
func TestNamespaceNameIsRFC4122Version5(t *testing.T) {
	for _, c := range []struct{ ns, name, want string }{
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d"},
		{"6f1d5c2e-8a43-4b8e-9d0b-3f2a7c1e5b90", "simulated|AAPL|2026-03-02T15:00:00Z|189.92", "11237e8e-12d0-5b1d-94c6-ce09d0bd353f"},
	} {
		if got := MustNamespace(c.ns).Name(c.name); got != c.want {
			t.Errorf("%s in %s = %s, want %s", c.name, c.ns, got, c.want)
		}
	}
}
