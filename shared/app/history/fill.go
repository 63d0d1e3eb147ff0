package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// minUnknownSpan is the shortest range whose emptiness, on a symbol's first
// chunk, means the provider does not know the symbol (Polygon answers an unknown
// ticker with no bars): two weeks hold sessions whatever the holidays.
const minUnknownSpan = 14

// chunk is a range of days to fetch.
type chunk struct{ from, to calendar.Date }

func (c chunk) days() int { return c.to.DaysSince(c.from) + 1 }

// nextChunk is the next range rec lacks, newest first, up to end (the last
// closed session's day); ok is false when nothing from NeededFrom is missing.
//
// Newest first because the recent past is what the figures and the chart show
// first (the trailing year's returns, volatility and beta), and because a
// symbol's history ends, going back, where a provider's answer turns empty (a
// recent listing, a plan's depth): the backfill stops there instead of asking
// for years that do not exist. The filled range stays one contiguous range,
// extended at its older end.
func (s *Service) nextChunk(rec Record, end calendar.Date) (chunk, bool) {
	if rec.FilledTo == nil {
		if rec.NeededFrom.After(end) {
			return chunk{}, false
		}
		return chunk{from: max(rec.NeededFrom, end.AddDays(1-s.cfg.ChunkDays)), to: end}, true
	}
	if !rec.FilledFrom.After(rec.NeededFrom) {
		return chunk{}, false
	}
	to := rec.FilledFrom.AddDays(-1)
	return chunk{from: max(rec.NeededFrom, to.AddDays(1-s.cfg.ChunkDays)), to: to}, true
}

// fill fetches what rec lacks, a chunk at a time, and completes it; stop is true
// when the provider's limit ended the run. err is the store failing (the run
// stops; the record's lease runs out and the next run resumes it).
func (s *Service) fill(ctx context.Context, rec Record, out *Output) (stop bool, err error) {
	for {
		now := s.cfg.Now()
		end := today(now).AddDays(-1)
		c, ok := s.nextChunk(rec, end)
		if !ok {
			return false, s.complete(ctx, rec, now, out)
		}
		if !s.timeLeft(ctx) {
			return true, s.release(ctx, rec, now, now)
		}
		bars, err := s.cfg.Bars.DailyBars(ctx, rec.Symbol, c.from, c.to)
		if err != nil {
			return s.failed(ctx, rec, err, out)
		}
		if len(bars) == 0 {
			if done, err := s.noBars(ctx, rec, c, now, out); done || err != nil {
				return false, err
			}
		}
		if err := s.store(ctx, rec.Symbol, c, bars, now, out); err != nil {
			return true, errors.Join(err, s.release(ctx, rec, now, now))
		}
		if rec, err = s.progress(ctx, rec, c, now); err != nil {
			return true, err
		}
		out.Chunks++
	}
}

// noBars handles a chunk the provider has no bar for: on a symbol's first chunk
// of two weeks or more, the provider does not know the symbol (it fails, and is
// flagged); on an older chunk, the symbol's history starts after it (it is
// complete). done is false for a short first chunk (a few holidays), which is
// recorded as fetched like any other.
func (s *Service) noBars(ctx context.Context, rec Record, c chunk, now time.Time, out *Output) (done bool, err error) {
	switch {
	case rec.FilledTo != nil:
		return true, s.complete(ctx, rec, now, out)
	case c.days() >= minUnknownSpan:
		reason := fmt.Sprintf("unknown symbol: %s has no daily bars from %s to %s", s.cfg.Bars.Name(), c.from, c.to)
		return true, s.unknown(ctx, rec, reason, now, out)
	}
	return false, nil
}

// actions fetches the symbol's corporate actions over c's days. A refusal
// other than the rate limit is logged and answers none (the symbol waits for
// its next turn).
func (s *Service) actions(ctx context.Context, symbol string, c chunk) ([]market.CorporateAction, error) {
	if s.cfg.Actions == nil || s.cfg.Offers == nil {
		return nil, nil
	}
	actions, err := s.cfg.Actions.CorporateActions(ctx, symbol, c.from, c.to)
	if errors.Is(err, market.KindRateLimited) || ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "history: corporate actions not fetched", "symbol", symbol, "from", c.from.String(),
			"to", c.to.String(), "error", err.Error())
		return nil, nil
	}
	return actions, nil
}

// store writes the chunk's closes, newer wins.
func (s *Service) store(ctx context.Context, symbol string, c chunk, bars []market.DailyBar, now time.Time, out *Output) error {
	closes, invalid, _ := market.ClosesFromBars(symbol, c.from, c.to, bars, now)
	if invalid > 0 {
		s.cfg.Logger.WarnContext(ctx, "history: bars left out", "symbol", symbol, "invalid", invalid, "bars", len(bars))
	}
	n, err := s.cfg.Closes.UpsertDailyCloses(ctx, closes)
	if err != nil {
		return fmt.Errorf("history: store closes of %s: %w", symbol, err)
	}
	out.Closes += n
	return nil
}

// offer passes the valid actions to the offerer. A failure is logged: the days
// are filled whatever becomes of the suggestions.
func (s *Service) offer(ctx context.Context, symbol string, actions []market.CorporateAction, out *Output) {
	valid := actions[:0:0]
	for _, a := range actions {
		if a.Validate() == nil && a.Symbol == symbol {
			valid = append(valid, a)
		}
	}
	if len(valid) == 0 || s.cfg.Offers == nil {
		return
	}
	n, err := s.cfg.Offers.Offer(ctx, valid)
	out.Offered += n
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "history: corporate actions not offered", "symbol", symbol, "actions", len(valid), "error", err.Error())
	}
}

// progress records the chunk as fetched and returns rec as it now stands.
func (s *Service) progress(ctx context.Context, rec Record, c chunk, now time.Time) (Record, error) {
	neededFrom, err := s.cfg.Store.Progress(ctx, rec.Symbol, c.from, c.to, s.cfg.Bars.Name(), now, now.Add(s.cfg.Lease))
	if err != nil {
		return rec, fmt.Errorf("history: progress of %s: %w", rec.Symbol, err)
	}
	from, to := c.from, c.to
	if rec.FilledFrom != nil {
		from, to = min(from, *rec.FilledFrom), max(to, *rec.FilledTo)
	}
	rec.FilledFrom, rec.FilledTo, rec.NeededFrom, rec.Attempts = &from, &to, neededFrom, 0
	return rec, nil
}

func (s *Service) complete(ctx context.Context, rec Record, now time.Time, out *Output) error {
	if err := s.cfg.Store.Complete(ctx, rec.Symbol, rec.NeededFrom, s.cfg.Bars.Name(), now); err != nil {
		return fmt.Errorf("history: complete %s: %w", rec.Symbol, err)
	}
	out.Completed++
	s.cfg.Logger.InfoContext(ctx, "history: symbol complete", "symbol", rec.Symbol, "neededFrom", rec.NeededFrom.String())
	return nil
}

func (s *Service) release(ctx context.Context, rec Record, at, now time.Time) error {
	// The run is stopping: the release must not die with its context.
	ctx = context.WithoutCancel(ctx)
	if err := s.cfg.Store.Release(ctx, rec.Symbol, at, now); err != nil {
		return fmt.Errorf("history: release %s: %w", rec.Symbol, err)
	}
	return nil
}

// failed handles a provider's failure for rec: the rate limit releases it and
// stops the run; an unknown symbol and any other refusal fail it; anything else
// is retried later, and fails it once MaxAttempts in a row did.
func (s *Service) failed(ctx context.Context, rec Record, err error, out *Output) (stop bool, _ error) {
	now := s.cfg.Now()
	var md *market.MarketDataError
	isMD := errors.As(err, &md)
	switch {
	case errors.Is(err, market.KindRateLimited):
		out.Limited = true
		at := now
		if isMD && md.RetryAfter > 0 {
			at = now.Add(md.RetryAfter)
		}
		return true, s.release(ctx, rec, at, now)
	case ctx.Err() != nil:
		return true, errors.Join(ctx.Err(), s.release(ctx, rec, now, now))
	case errors.Is(err, market.KindNotFound):
		return false, s.unknown(ctx, rec, "unknown symbol: "+message(err), now, out)
	case isMD && !md.Temporary():
		return false, s.fail(ctx, rec, Failure{Reason: "refused: " + message(err), Final: true}, now, out)
	}
	f := Failure{Reason: message(err), Final: rec.Attempts+1 >= s.cfg.MaxAttempts}
	if f.Final {
		f.Reason = fmt.Sprintf("gave up after %d attempts: %s", rec.Attempts+1, f.Reason)
	}
	return false, s.fail(ctx, rec, f, now, out)
}

// message is what a failure records: a MarketDataError's message (its kind and
// provider are the record's context), any other error whole.
func message(err error) string {
	var md *market.MarketDataError
	if errors.As(err, &md) {
		return md.Error()
	}
	return err.Error()
}

// unknown fails rec as a symbol the provider does not know and flags it.
func (s *Service) unknown(ctx context.Context, rec Record, reason string, now time.Time, out *Output) error {
	if err := s.fail(ctx, rec, Failure{Reason: reason, Final: true}, now, out); err != nil {
		return err
	}
	if s.cfg.Unknown != nil {
		if err := s.cfg.Unknown.FlagUnknown(ctx, rec.Symbol, s.cfg.Bars.Name(), reason); err != nil {
			s.cfg.Logger.ErrorContext(ctx, "history: unknown symbol not flagged", "symbol", rec.Symbol, "error", err.Error())
		}
	}
	return nil
}

// fail records f, due again after the backoff of rec's failures in a row; a
// final failure (an unknown symbol, a refusal, the attempts spent) only after
// MaxBackoff: asking again sooner would spend the provider's quota, which
// every portfolio's history shares, on what it just refused.
func (s *Service) fail(ctx context.Context, rec Record, f Failure, now time.Time, out *Output) error {
	f.RetryAt = now.Add(s.backoff(rec.Attempts + 1))
	if f.Final {
		f.RetryAt = now.Add(s.cfg.MaxBackoff)
	}
	if err := s.cfg.Store.Fail(context.WithoutCancel(ctx), rec.Symbol, f, now); err != nil {
		return fmt.Errorf("history: record failure of %s: %w", rec.Symbol, err)
	}
	level := "history: symbol failed, retried later"
	if f.Final {
		out.Failed++
		level = "history: symbol failed"
	}
	s.cfg.Logger.WarnContext(ctx, level, "symbol", rec.Symbol, "attempts", rec.Attempts+1, "reason", f.Reason,
		"retryAt", f.RetryAt.UTC().Format(time.RFC3339))
	return nil
}

// backoff is the wait after the attempts-th failure in a row: Backoff doubled
// with each one, at most MaxBackoff.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempts && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}
