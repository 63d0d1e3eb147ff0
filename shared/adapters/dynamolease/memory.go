package dynamolease

import (
	"context"
	"sync"
	"time"
)

// Memory is the leases of one process, with Store's semantics (expiries to the
// millisecond, compared against now): tests and the local stack.
type Memory struct {
	now    func() time.Time
	mu     sync.Mutex
	leases map[string]memoryLease
}

type memoryLease struct {
	holder string
	until  int64 // Unix milliseconds, as Store keeps it
}

// NewMemory returns no leases; now is the clock (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, leases: map[string]memoryLease{}}
}

// Acquire implements Store.Acquire.
func (m *Memory) Acquire(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := check(name, holder, ttl); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.leases[name]; ok && l.until > now.UnixMilli() && l.holder != holder {
		return false, nil
	}
	m.leases[name] = memoryLease{holder: holder, until: now.Add(ttl).UnixMilli()}
	return true, nil
}

// Renew implements Store.Renew.
func (m *Memory) Renew(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := check(name, holder, ttl); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; !ok || l.holder != holder {
		return false, nil
	}
	m.leases[name] = memoryLease{holder: holder, until: m.now().Add(ttl).UnixMilli()}
	return true, nil
}

// Release implements Store.Release.
func (m *Memory) Release(_ context.Context, name, holder string) (bool, error) {
	if err := check(name, holder, time.Nanosecond); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; !ok || l.holder != holder {
		return false, nil
	}
	delete(m.leases, name)
	return true, nil
}
