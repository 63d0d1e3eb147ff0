// Package symbolsearch answers GET /symbols?q=: a market-data provider's symbol
// search behind an in-process cache. Providers' searches are slow and scarce
// (Finnhub 60 calls a minute shared with the quotes, Alpha Vantage 25 a day),
// while users type the same few prefixes: the cache keeps each normalised
// query's answer for an hour, the most recently used 1,000 of them, per
// container. The provider's rate limit itself is the provider client's (a
// marketdata.WindowLimiter over the DynamoDB rate-limits table, shared by every
// container); its refusal comes back as a rate_limited *market.MarketDataError
// with RetryAfter, which the API answers with 429.
package symbolsearch

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Searcher is a provider's symbol search (marketdata's clients; the factory's
// Sources.Search). Errors are *market.MarketDataError.
type Searcher interface {
	Name() string
	Search(ctx context.Context, query string) ([]market.SymbolMatch, error)
}

// MaxQueryLen bounds a query, in characters.
const MaxQueryLen = 50

// ErrInvalidQuery is returned for a query that is empty, longer than
// MaxQueryLen characters, or holds a character that is not printable.
var ErrInvalidQuery = errors.New("symbol search: invalid query")

// Options tunes a Service. Zero values take the defaults.
type Options struct {
	TTL     time.Duration // how long an answer is kept; default 1 h
	Entries int           // how many answers are kept; default 1,000
	Now     func() time.Time
}

// Service searches symbols through a Searcher, caching answers.
type Service struct {
	searcher Searcher
	ttl      time.Duration
	max      int
	now      func() time.Time

	mu      sync.Mutex
	order   *list.List               // most recently used first; values are *entry
	entries map[string]*list.Element // by normalised query
}

type entry struct {
	key     string
	matches []market.SymbolMatch
	expires time.Time
}

// New returns a Service over searcher.
func New(searcher Searcher, opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = time.Hour
	}
	if opts.Entries <= 0 {
		opts.Entries = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{searcher: searcher, ttl: opts.TTL, max: opts.Entries, now: opts.Now,
		order: list.New(), entries: map[string]*list.Element{}}
}

// Normalize returns the cache key of query: trimmed, inner runs of white space
// as one space, upper case (providers match symbols and names without case).
// ErrInvalidQuery when it is empty, longer than MaxQueryLen characters, or
// holds a character that is not printable.
func Normalize(query string) (string, error) {
	if !utf8.ValidString(query) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidQuery)
	}
	for _, r := range query {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("%w: %q is not printable", ErrInvalidQuery, r)
		}
	}
	key := strings.ToUpper(strings.Join(strings.Fields(query), " "))
	if n := utf8.RuneCountInString(key); n == 0 || n > MaxQueryLen {
		return "", fmt.Errorf("%w: 1 to %d characters", ErrInvalidQuery, MaxQueryLen)
	}
	return key, nil
}

// Search returns the provider's matches of query, from the cache when a
// search of the same normalised query is younger than the TTL. Errors:
// ErrInvalidQuery, or the provider's (*market.MarketDataError), never cached.
// A provider that answers not-found has no match: an empty answer, cached.
func (s *Service) Search(ctx context.Context, query string) ([]market.SymbolMatch, error) {
	key, err := Normalize(query)
	if err != nil {
		return nil, err
	}
	if m, ok := s.cached(key); ok {
		return m, nil
	}
	matches, err := s.searcher.Search(ctx, key)
	if errors.Is(err, market.KindNotFound) {
		matches, err = []market.SymbolMatch{}, nil
	}
	if err != nil {
		return nil, err
	}
	if matches == nil {
		matches = []market.SymbolMatch{}
	}
	s.keep(key, matches)
	return clone(matches), nil
}

// cached returns the live answer kept for key, as most recently used.
func (s *Service) cached(key string) ([]market.SymbolMatch, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !s.now().Before(e.expires) {
		s.order.Remove(el)
		delete(s.entries, key)
		return nil, false
	}
	s.order.MoveToFront(el)
	return clone(e.matches), true
}

// keep stores key's answer, dropping the least recently used beyond the bound.
func (s *Service) keep(key string, matches []market.SymbolMatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &entry{key: key, matches: clone(matches), expires: s.now().Add(s.ttl)}
	if el, ok := s.entries[key]; ok {
		el.Value = e
		s.order.MoveToFront(el)
		return
	}
	s.entries[key] = s.order.PushFront(e)
	for s.order.Len() > s.max {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.entries, oldest.Value.(*entry).key)
	}
}

// Len is how many answers are kept.
func (s *Service) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// clone copies matches, so that no caller shares the cache's slice.
func clone(matches []market.SymbolMatch) []market.SymbolMatch {
	return append([]market.SymbolMatch{}, matches...)
}
