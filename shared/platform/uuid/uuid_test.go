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
