package providerstub

import (
	"sort"
	"sync"
)

// subscriptions is one WebSocket connection's subscribed symbols.
type subscriptions struct {
	mu  sync.Mutex
	set map[string]bool
}

func newSubscriptions() *subscriptions { return &subscriptions{set: map[string]bool{}} }

func (s *subscriptions) add(sym string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set[sym] = true
}

func (s *subscriptions) remove(sym string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, sym)
}

func (s *subscriptions) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.set))
	for sym := range s.set {
		out = append(out, sym)
	}
	sort.Strings(out)
	return out
}
