package notifier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// Options tune a Service; the zero value of each field takes its default.
type Options struct {
	PlanBatch   int           // outbox entries planned per query (200)
	ClaimBatch  int           // deliveries claimed per query (100)
	Lease       time.Duration // how long a claim holds (5 min: far longer than a send)
	MaxAttempts int           // attempts before a delivery fails (0: no limit, MaxAge bounds the retries)
	MaxAge      time.Duration // a delivery due longer than this fails instead of retrying (24 h)
	BaseBackoff time.Duration // the first retry's delay, doubled each attempt (1 min)
	MaxBackoff  time.Duration // the longest delay between attempts (1 h)
	SendTimeout time.Duration // how long one send may take (10 s; less near the run's deadline)
	Retention   time.Duration // how long the history keeps a message whose deliveries are final (90 days)
	Clock       func() time.Time
	Logger      *slog.Logger
	// Metrics receives each run's counts (nil: none).
	Metrics *emf.Writer
}

func (o Options) withDefaults() Options {
	o.PlanBatch = cmp.Or(o.PlanBatch, 200)
	o.ClaimBatch = cmp.Or(o.ClaimBatch, 100)
	o.Lease = cmp.Or(o.Lease, 5*time.Minute)
	o.MaxAge = cmp.Or(o.MaxAge, 24*time.Hour)
	o.BaseBackoff = cmp.Or(o.BaseBackoff, time.Minute)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, time.Hour)
	o.SendTimeout = cmp.Or(o.SendTimeout, 10*time.Second)
	o.Retention = cmp.Or(o.Retention, 90*24*time.Hour)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Service is the notifier: each Run plans what the outbox holds and sends what
// is due.
type Service struct {
	store  Store
	mail   Mailer
	sms    SMSSender
	render *Renderer
	opts   Options
}

// New returns the notifier over store, sending through mail and sms (either
// may be nil: that channel's deliveries are retried until one is wired, then
// fail), rendering with r.
func New(store Store, mail Mailer, sms SMSSender, r *Renderer, opts Options) *Service {
	return &Service{store: store, mail: mail, sms: sms, render: r, opts: opts.withDefaults()}
}

// RunStats counts what one run did.
type RunStats struct {
	Planned    int `json:"planned"`    // outbox entries planned
	Claimed    int `json:"claimed"`    // deliveries claimed
	Sent       int `json:"sent"`       // deliveries sent (a digest counts each of its deliveries)
	Messages   int `json:"messages"`   // messages sent (a digest is one)
	Retried    int `json:"retried"`    // deliveries due again later
	Failed     int `json:"failed"`     // deliveries given up
	Suppressed int `json:"suppressed"` // deliveries stopped for their address
	Pruned     int `json:"pruned"`     // outbox entries past the retention deleted
	// ByChannel counts the outcomes of each channel used in the run.
	ByChannel map[notify.Channel]ChannelStats `json:"byChannel,omitempty"`
}

// ChannelStats are one channel's outcomes in a run.
type ChannelStats struct {
	Sent, Retried, Failed, Suppressed int
}

// Run plans the unplanned outbox entries, then sends the due deliveries until
// none is due or ctx's deadline is near (a minute's schedule starts the next
// run).
func (s *Service) Run(ctx context.Context) (RunStats, error) {
	var st RunStats
	planned, errPlan := s.planAll(ctx)
	st.Planned = planned
	if errPlan != nil {
		// What was planned before still goes out: a plan that fails (the
		// database, a bad entry) must not stop every delivery.
		s.opts.Logger.ErrorContext(ctx, "notifier: planning failed", "error", errPlan.Error())
	}
	err := s.deliverDue(ctx, &st)
	if err == nil {
		err = s.prune(ctx, &st)
	}
	s.emit(st)
	return st, errors.Join(errPlan, err)
}

// pruneBatch bounds what one run deletes: a minute's schedule catches up.
const pruneBatch = 500

// prune deletes a batch of the messages older than the retention whose
// deliveries are all final (the history and the table stay bounded).
func (s *Service) prune(ctx context.Context, st *RunStats) error {
	if nearDeadline(ctx) != nil {
		return nil
	}
	n, err := s.store.Prune(ctx, s.opts.Clock().UTC().Add(-s.opts.Retention), pruneBatch)
	st.Pruned = n
	if err != nil {
		return fmt.Errorf("notifier: prune the history: %w", err)
	}
	return nil
}

// emit writes a run's counts: an alarm on NotificationsFailed or a growing
// NotificationsRetried shows a provider in trouble before users say so.
func (s *Service) emit(st RunStats) {
	s.opts.Metrics.Emit(
		emf.Metric{Name: "NotificationsPlanned", Unit: "Count", Value: float64(st.Planned)},
		emf.Metric{Name: "NotificationsSent", Unit: "Count", Value: float64(st.Sent)},
		emf.Metric{Name: "NotificationMessages", Unit: "Count", Value: float64(st.Messages)},
		emf.Metric{Name: "NotificationsRetried", Unit: "Count", Value: float64(st.Retried)},
		emf.Metric{Name: "NotificationsFailed", Unit: "Count", Value: float64(st.Failed)},
		emf.Metric{Name: "NotificationsSuppressed", Unit: "Count", Value: float64(st.Suppressed)},
	)
	for _, ch := range slices.Sorted(maps.Keys(st.ByChannel)) {
		c := st.ByChannel[ch]
		s.opts.Metrics.WithDimensions(map[string]string{metrics.Channel: string(ch)}).Emit(
			emf.Metric{Name: "NotificationsSent", Value: float64(c.Sent)},
			emf.Metric{Name: "NotificationsRetried", Value: float64(c.Retried)},
			emf.Metric{Name: "NotificationsFailed", Value: float64(c.Failed)},
			emf.Metric{Name: "NotificationsSuppressed", Value: float64(c.Suppressed)})
	}
}

// planAll plans the outbox in batches until it holds nothing unplanned.
func (s *Service) planAll(ctx context.Context) (int, error) {
	n := 0
	for nearDeadline(ctx) == nil {
		batch, err := s.store.Unplanned(ctx, s.opts.PlanBatch)
		if err != nil {
			return n, fmt.Errorf("notifier: unplanned outbox: %w", err)
		}
		now := s.opts.Clock().UTC()
		for _, u := range batch {
			var steps []notify.Step
			if u.Invalid != nil {
				// Planned with no delivery, so it is not read again each run.
				s.opts.Logger.ErrorContext(ctx, "notifier: an outbox entry is not valid: no delivery", "outboxId", u.OutboxID,
					"error", u.Invalid.Error())
			} else {
				steps = notify.Plan(u.Message, u.Recipient, now)
			}
			if err := s.store.SavePlan(ctx, u.OutboxID, u.UserID, steps, now); err != nil {
				return n, fmt.Errorf("notifier: plan outbox entry %d: %w", u.OutboxID, err)
			}
			n++
		}
		if len(batch) < s.opts.PlanBatch {
			break
		}
	}
	return n, nil
}

// deliverDue claims and sends due deliveries until none is left. Each
// message's outcomes are recorded right after its send, so a run killed
// mid-batch sends again (after the lease) at most the message in flight.
func (s *Service) deliverDue(ctx context.Context, st *RunStats) error {
	for nearDeadline(ctx) == nil {
		now := s.opts.Clock().UTC()
		claimed, err := s.store.ClaimDue(ctx, now, s.opts.Lease, s.opts.ClaimBatch)
		if err != nil {
			return fmt.Errorf("notifier: claim due deliveries: %w", err)
		}
		st.Claimed += len(claimed)
		for _, group := range groupMessages(claimed) {
			if err := s.record(ctx, group[0].Channel, s.sendGroup(ctx, group, st), st); err != nil {
				// The claims expire and the next run sends again: at least once.
				return err
			}
		}
		if len(claimed) < s.opts.ClaimBatch {
			return nil
		}
	}
	return nil
}

// record stores one message's outcomes and counts them. What was sent is
// recorded even when ctx has ended meanwhile: a lost record means a second
// e-mail once the lease expires.
func (s *Service) record(ctx context.Context, channel notify.Channel, outcomes []Outcome, st *RunStats) error {
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.Record(recordCtx, outcomes); err != nil {
		return fmt.Errorf("notifier: record %d outcomes: %w", len(outcomes), err)
	}
	if st.ByChannel == nil {
		st.ByChannel = map[notify.Channel]ChannelStats{}
	}
	ch := st.ByChannel[channel]
	for _, o := range outcomes {
		switch o.Status {
		case StatusSent:
			st.Sent++
			ch.Sent++
		case StatusRetry:
			if o.Attempted { // not a claim handed back unsent
				st.Retried++
				ch.Retried++
			}
		case StatusFailed:
			st.Failed++
			ch.Failed++
		case StatusSuppressed:
			st.Suppressed++
			ch.Suppressed++
		}
	}
	st.ByChannel[channel] = ch
	return nil
}

// sendGroup turns one group of claimed deliveries into a message (the held
// ones of a user and channel into one digest), sends it and returns every
// delivery's outcome.
func (s *Service) sendGroup(ctx context.Context, group []Delivery, st *RunStats) []Outcome {
	var outcomes []Outcome
	now := s.opts.Clock().UTC()
	if nearDeadline(ctx) != nil {
		// Out of time: hand the rest back, due now, without an attempt,
		// rather than leave them leased until the lease expires.
		for _, d := range group {
			outcomes = append(outcomes, Outcome{DeliveryID: d.ID, UserID: d.UserID, LeaseUntil: d.LeaseUntil, Status: StatusRetry, At: now,
				NextAttemptAt: now, Held: d.Held && d.Source == notify.SourceAlert})
		}
		return outcomes
	}
	live := make([]Delivery, 0, len(group))
	for _, d := range group {
		d, o := replan(d, now)
		if o != nil {
			outcomes = append(outcomes, *o)
			continue
		}
		live = append(live, d)
	}
	if len(live) == 0 {
		return outcomes
	}
	sendCtx, cancel := s.sendContext(ctx)
	providerID, err := s.send(sendCtx, live)
	cancel()
	if err == nil {
		st.Messages++
	}
	digestID := ""
	if len(live) > 1 {
		digestID = "digest-" + strconv.FormatInt(live[0].ID, 10)
	}
	for _, d := range live {
		outcomes = append(outcomes, s.outcome(d, now, providerID, digestID, err))
	}
	return outcomes
}

// sendContext bounds one send: SendTimeout, and never closer to ctx's
// deadline than the margin that records its outcome (a stalled provider
// fails the send, a transient error, instead of the run).
func (s *Service) sendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := s.opts.SendTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)-recordMargin)
	}
	return context.WithTimeout(ctx, timeout)
}

// replan plans claimed delivery d again against its message and recipient
// as they are now, as if planned when it was: a held delivery waits days with
// what its plan knew. The address is the profile's now (changed, or no longer
// verified: skipped); a channel the preferences or the rule no longer name is
// skipped; a bounce, a complaint or an unsubscribe since suppresses it; a held
// one is due when the current preferences say (digest or quiet hours changed:
// sent now, or held again until then). A nil outcome: send d as returned. A
// phone code goes to the number being verified, whatever the profile says.
func replan(d Delivery, now time.Time) (Delivery, *Outcome) {
	if d.Source == notify.SourcePhoneCode {
		return d, nil
	}
	o := Outcome{DeliveryID: d.ID, UserID: d.UserID, LeaseUntil: d.LeaseUntil, At: now}
	steps := notify.Plan(d.Message, d.Recipient, d.CreatedAt)
	i := slices.IndexFunc(steps, func(s notify.Step) bool { return s.Channel == d.Channel })
	if i < 0 {
		o.Status, o.Error = StatusSkipped, "the user no longer wants this channel"
		return d, &o
	}
	step := steps[i]
	switch step.Action {
	case notify.ActionSkip, notify.ActionLive:
		o.Status, o.Error = StatusSkipped, cmp.Or(step.Reason, "not sent by the notifier")
		return d, &o
	case notify.ActionSuppressed:
		o.Status, o.Error = StatusSuppressed, step.Reason
		return d, &o
	}
	d.Address = step.Address
	if d.Held && step.Action == notify.ActionHold && step.At.After(now) {
		o.Status, o.Held, o.NextAttemptAt, o.HeldUntil, o.Address = StatusRetry, true, step.At, step.At, d.Address
		return d, &o
	}
	return d, nil
}

// send renders and sends one message (one delivery, or a digest of several of
// one user and channel).
func (s *Service) send(ctx context.Context, ds []Delivery) (string, error) {
	d := ds[0]
	switch d.Channel {
	case notify.ChannelEmail:
		if s.mail == nil {
			return "", fmt.Errorf("e-mail: %w", errNotConfigured)
		}
		m, err := s.render.Email(ds)
		if err != nil {
			return "", fmt.Errorf("%w: render: %w", ErrPermanent, err)
		}
		m.To = d.Address
		return s.mail.SendEmail(ctx, m)
	case notify.ChannelSMS:
		if s.sms == nil {
			return "", fmt.Errorf("SMS: %w", errNotConfigured)
		}
		body, err := s.render.SMS(ds)
		if err != nil {
			return "", fmt.Errorf("%w: render: %w", ErrPermanent, err)
		}
		return s.sms.SendSMS(ctx, SMS{To: d.Address, Body: body})
	}
	return "", fmt.Errorf("%w: channel %q is not sent by the notifier", ErrPermanent, d.Channel)
}

// outcome is what a send's result makes of delivery d: sent; failed when the
// provider refused for good, MaxAge after it became due (or after MaxAttempts,
// when set); else due again
// after an exponential backoff.
func (s *Service) outcome(d Delivery, now time.Time, providerID, digestID string, err error) Outcome {
	o := Outcome{DeliveryID: d.ID, UserID: d.UserID, LeaseUntil: d.LeaseUntil, Attempted: true, At: now, DigestID: digestID,
		Held: d.Held && d.Source == notify.SourceAlert, Address: d.Address}
	attempts := d.Attempts + 1
	switch {
	case err == nil:
		o.Status, o.ProviderID = StatusSent, providerID
	case errors.Is(err, ErrPermanent), s.opts.MaxAttempts > 0 && attempts >= s.opts.MaxAttempts, now.Sub(d.DueSince) >= s.maxAge(d):
		o.Status, o.Error = StatusFailed, ErrorCategory(err)
	default:
		o.Status, o.Error = StatusRetry, ErrorCategory(err)
		o.NextAttemptAt = now.Add(Backoff(attempts, s.opts.BaseBackoff, s.opts.MaxBackoff))
	}
	if err != nil {
		s.opts.Logger.WarnContext(context.Background(), "notification not sent", "deliveryId", d.ID, "channel", string(d.Channel),
			"attempt", attempts, "outcome", string(o.Status), "error", err.Error())
	}
	return o
}

// ErrorCategory is what the user's history says of a failed send: a short
// category, not the provider's text (SDK internals, request IDs), which goes
// to the log with the delivery's ID for the operator.
func ErrorCategory(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "provider timed out"
	case errors.Is(err, ErrPermanent):
		return "address or message refused"
	case errors.Is(err, errNotConfigured):
		return "channel not configured"
	}
	return "provider unavailable"
}

// errNotConfigured: no sender is wired for the channel.
var errNotConfigured = errors.New("no sender configured")

// PhoneCodeMaxAge is how long a phone code is worth sending: the user service
// lets a code expire after 10 minutes.
const PhoneCodeMaxAge = 10 * time.Minute

// maxAge is how old d may get before a failure is final.
func (s *Service) maxAge(d Delivery) time.Duration {
	if d.Source == notify.SourcePhoneCode {
		return min(s.opts.MaxAge, PhoneCodeMaxAge)
	}
	return s.opts.MaxAge
}

// Backoff is the delay after the given number of attempts: base doubled for
// each attempt after the first, at most max.
func Backoff(attempts int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// groupMessages puts each user's held alerts of one channel together (a
// digest) and every other delivery alone, in delivery order.
func groupMessages(ds []Delivery) [][]Delivery {
	slices.SortFunc(ds, func(a, b Delivery) int { return cmp.Compare(a.ID, b.ID) })
	type key struct {
		user    string
		channel notify.Channel
	}
	var groups [][]Delivery
	held := map[key]int{}
	for _, d := range ds {
		if !d.Held || d.Source != notify.SourceAlert {
			groups = append(groups, []Delivery{d})
			continue
		}
		k := key{d.UserID, d.Channel}
		if i, ok := held[k]; ok {
			groups[i] = append(groups[i], d)
			continue
		}
		held[k] = len(groups)
		groups = append(groups, []Delivery{d})
	}
	return groups
}

// Suppression is an address that bounced or complained.
type Suppression struct {
	Address string
	Reason  string // "bounce" | "complaint"
	Detail  string
}

// Suppress records bounced or complained addresses: nothing more is sent to
// them (deliveries still due are stopped when claimed).
func (s *Service) Suppress(ctx context.Context, list []Suppression) error {
	now := s.opts.Clock().UTC()
	for _, x := range list {
		if x.Address == "" {
			continue
		}
		if err := s.store.Suppress(ctx, x.Address, x.Reason, x.Detail, now); err != nil {
			return fmt.Errorf("notifier: suppress an address: %w", err)
		}
		s.opts.Logger.InfoContext(ctx, "address suppressed", "reason", x.Reason)
	}
	return nil
}

// recordMargin is what a send leaves of the run's time to record its outcome.
const recordMargin = 10 * time.Second

// nearDeadline is an error once ctx has less than 15 s left (or is done):
// enough for a short send and the record of what is in flight.
func nearDeadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 15*time.Second {
		return context.DeadlineExceeded
	}
	return nil
}
