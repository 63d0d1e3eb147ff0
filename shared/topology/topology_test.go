package topology

import "testing"

func TestTablesAreWellFormed(t *testing.T) {
	seenName, seenEnv := map[string]bool{}, map[string]bool{}
	for _, tb := range Tables() {
		if tb.Name == "" || tb.PartitionKey.Name == "" || tb.EnvVar == "" || tb.Purpose == "" {
			t.Errorf("table %+v lacks a name, key, env var or purpose", tb)
		}
		if seenName[tb.Name] || seenEnv[tb.EnvVar] {
			t.Errorf("table %s or env var %s declared twice", tb.Name, tb.EnvVar)
		}
		seenName[tb.Name], seenEnv[tb.EnvVar] = true, true
		for _, k := range append([]Key{tb.PartitionKey}, keyOrNone(tb.SortKey)...) {
			if k.Type != String && k.Type != Number {
				t.Errorf("table %s key %s has type %q", tb.Name, k.Name, k.Type)
			}
		}
	}
	events, ok := TableByName(EventsTable)
	if !ok || events.Stream != NewImage || events.SortKey == nil || events.SortKey.Type != Number || !events.PointInTimeRecovery {
		t.Fatalf("events table must have a numeric sort key, a NEW_IMAGE stream and PITR: %+v", events)
	}
}

func keyOrNone(k *Key) []Key {
	if k == nil {
		return nil
	}
	return []Key{*k}
}
