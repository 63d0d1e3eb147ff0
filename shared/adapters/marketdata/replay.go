package marketdata

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// ReplayOptions configure a Replay.
type ReplayOptions struct {
	// Speed scales pacing: 1 replays at the recorded pace, 10 ten times faster. 0
	// (the default) emits as fast as emit accepts.
	Speed float64
	// Source is set on quotes whose line names none (every CSV line). Default "replay".
	Source string
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
}

// Replay is a Feed reading recorded quotes, one per line, in either format (told
// apart by the first non-blank line):
//
//   - JSON lines: a Quote as this package marshals it,
//     {"symbol":"AAPL","price":"189.98","volume":"100","timestamp":"2024-03-01T14:30:00Z","source":"finnhub"};
//     price and volume may also be bare JSON numbers, which are read exactly.
//   - CSV: timestamp,symbol,price[,volume], with an optional header line starting
//     "timestamp". Timestamps are RFC 3339, or Unix seconds, or Unix milliseconds
//     (13 or more digits).
//
// Blank lines and lines starting with '#' are skipped. A line that does not parse
// stops the replay with an error naming the line. Quotes are emitted in file order;
// with Speed > 0, each waits for the gap since the previous quote (earlier
// timestamps do not wait).
type Replay struct {
	open func() (io.ReadCloser, error)
	opts ReplayOptions
}

// NewReplay replays r (read once, by the first Run).
func NewReplay(r io.Reader, opts ReplayOptions) *Replay {
	used := false
	return newReplay(func() (io.ReadCloser, error) {
		if used {
			return nil, fmt.Errorf("replay: reader already consumed")
		}
		used = true
		return io.NopCloser(r), nil
	}, opts)
}

// OpenReplay replays the file at path; each Run reads it from the start.
func OpenReplay(path string, opts ReplayOptions) (*Replay, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return newReplay(func() (io.ReadCloser, error) { return os.Open(path) }, opts), nil
}

func newReplay(open func() (io.ReadCloser, error), opts ReplayOptions) *Replay {
	if opts.Source == "" {
		opts.Source = SourceReplay
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Sleep
	}
	return &Replay{open: open, opts: opts}
}

// Name is the default source name.
func (r *Replay) Name() string { return r.opts.Source }

// Run implements Feed; it returns nil at the end of the file.
func (r *Replay) Run(ctx context.Context, emit func(Quote) error) error {
	rc, err := r.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		format  byte // 'j' or 'c', fixed by the first data line
		prev    time.Time
		lineNo  int
		started bool
	)
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if format == 0 {
			format = 'c'
			if line[0] == '{' {
				format = 'j'
			} else if isCSVHeader(line) {
				continue
			}
		}
		var q Quote
		if format == 'j' {
			q, err = parseReplayJSON(line, r.opts.Source)
		} else {
			q, err = parseReplayCSV(line, r.opts.Source)
		}
		if err != nil {
			return fmt.Errorf("replay line %d: %w", lineNo, err)
		}
		if r.opts.Speed > 0 && started && q.Timestamp.After(prev) {
			wait := time.Duration(float64(q.Timestamp.Sub(prev)) / r.opts.Speed)
			if err := r.opts.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !started || q.Timestamp.After(prev) {
			prev = q.Timestamp
		}
		started = true
		if err := emit(q); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("replay line %d: %w", lineNo+1, err)
	}
	return nil
}

func isCSVHeader(line []byte) bool {
	return bytes.HasPrefix(bytes.ToLower(line), []byte("timestamp"))
}

// parseReplayJSON reads one JSON-lines quote.
func parseReplayJSON(line []byte, source string) (Quote, error) {
	var q Quote
	if err := decodeStrict(line, &q); err != nil {
		return Quote{}, fmt.Errorf("not a quote: %w", err)
	}
	for _, d := range []decimal.Decimal{q.Price, q.Volume, q.PreviousClose} {
		if err := checkDecimal(d); err != nil {
			return Quote{}, err
		}
	}
	q.Timestamp = q.Timestamp.UTC()
	if q.Source == "" {
		q.Source = source
	}
	return q, q.Validate()
}

// parseReplayCSV reads one line timestamp,symbol,price[,volume].
func parseReplayCSV(line []byte, source string) (Quote, error) {
	cr := csv.NewReader(bytes.NewReader(line))
	cr.FieldsPerRecord = -1
	fields, err := cr.Read()
	if err != nil {
		return Quote{}, fmt.Errorf("not CSV: %w", err)
	}
	if len(fields) < 3 || len(fields) > 4 {
		return Quote{}, fmt.Errorf("want timestamp,symbol,price[,volume], got %d fields", len(fields))
	}
	ts, err := parseReplayTime(strings.TrimSpace(fields[0]))
	if err != nil {
		return Quote{}, err
	}
	price, err := parseDecimal(strings.TrimSpace(fields[2]))
	if err != nil {
		return Quote{}, fmt.Errorf("price: %w", err)
	}
	q := Quote{Symbol: strings.TrimSpace(fields[1]), Price: price, Volume: decimal.Zero, Timestamp: ts, Source: source}
	if len(fields) == 4 && strings.TrimSpace(fields[3]) != "" {
		if q.Volume, err = parseDecimal(strings.TrimSpace(fields[3])); err != nil {
			return Quote{}, fmt.Errorf("volume: %w", err)
		}
	}
	return q, q.Validate()
}

func parseReplayTime(s string) (time.Time, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return time.Time{}, fmt.Errorf("timestamp %q is out of range", s)
		}
		if len(s) >= 13 {
			if n > maxUnixSeconds*1000 {
				return time.Time{}, fmt.Errorf("timestamp %q is out of range", s)
			}
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor Unix seconds/milliseconds", s)
	}
	return t.UTC(), nil
}

// MarshalQuotesJSONL writes quotes in the replay's JSON-lines format.
func MarshalQuotesJSONL(w io.Writer, quotes []Quote) error {
	enc := json.NewEncoder(w)
	for _, q := range quotes {
		if err := enc.Encode(q); err != nil {
			return err
		}
	}
	return nil
}

// ReplayQuotes is a recorded session as a QuoteProvider, for a stateless caller
// polled every minute (the ingest): the recording loops forever, aligned to the
// Unix epoch, and Quote answers a symbol's latest recorded tick at the current
// point of the loop, its timestamp moved to now's side of the loop (so quotes are
// always recent). Every container of every run gives the same answer at the same
// instant. A symbol the recording lacks is KindNotFound.
type ReplayQuotes struct {
	ticks  map[string][]Quote // per symbol, in time order
	start  time.Time
	length time.Duration
	now    func() time.Time
}

// LoadReplayQuotes reads the recorded session at path (either Replay format).
func LoadReplayQuotes(path string, now func() time.Time) (*ReplayQuotes, error) {
	r, err := OpenReplay(path, ReplayOptions{})
	if err != nil {
		return nil, err
	}
	rq := &ReplayQuotes{ticks: map[string][]Quote{}, now: now}
	if rq.now == nil {
		rq.now = time.Now
	}
	var first, last time.Time
	err = r.Run(context.Background(), func(q Quote) error {
		if first.IsZero() || q.Timestamp.Before(first) {
			first = q.Timestamp
		}
		if q.Timestamp.After(last) {
			last = q.Timestamp
		}
		rq.ticks[q.Symbol] = append(rq.ticks[q.Symbol], q)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	if len(rq.ticks) == 0 {
		return nil, fmt.Errorf("replay %s: no quotes", path)
	}
	for _, ts := range rq.ticks {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Timestamp.Before(ts[j].Timestamp) })
	}
	// One second past the last tick, so the loop's seam is not a duplicate instant.
	rq.start, rq.length = first, last.Sub(first)+time.Second
	return rq, nil
}

// Name implements QuoteProvider.
func (r *ReplayQuotes) Name() string { return SourceReplay }

// Symbols lists the recorded symbols, sorted.
func (r *ReplayQuotes) Symbols() []string {
	out := make([]string, 0, len(r.ticks))
	for s := range r.ticks {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Quote implements QuoteProvider.
func (r *ReplayQuotes) Quote(_ context.Context, symbol string) (Quote, error) {
	now := r.now().UTC()
	ticks, ok := r.ticks[symbol]
	if !ok {
		return Quote{}, &MarketDataError{Provider: SourceReplay, Symbol: symbol, Kind: KindNotFound,
			Message: "symbol is not in the recorded session", At: now}
	}
	offset := time.Duration(now.UnixNano() % int64(r.length))
	at := r.start.Add(offset)
	// The latest tick at or before at; before the symbol's first tick of the
	// loop, its last tick of the previous loop.
	i := sort.Search(len(ticks), func(i int) bool { return ticks[i].Timestamp.After(at) }) - 1
	var age time.Duration
	if i < 0 {
		i = len(ticks) - 1
		age = offset + r.start.Add(r.length).Sub(ticks[i].Timestamp)
	} else {
		age = at.Sub(ticks[i].Timestamp)
	}
	q := ticks[i]
	q.Timestamp = now.Add(-age).Truncate(time.Millisecond)
	q.Source = SourceReplay
	return q, nil
}
