// Package rebalance plans the trades that bring a portfolio's weights back inside a
// drift band around its target weights, with as few trades as possible. Money and
// quantities are decimal.Decimal throughout; the plan is exact for the prices given.
//
// # Model
//
// The portfolio's total value T = Σ quantity·price + cash does not change by trading
// (fees are not modelled), so target weights are target values: symbol i with target
// weight t_i and drift band b has target value τ_i = t_i·T and band
// [L_i, U_i] = [(t_i − b)·T, (t_i + b)·T]. Its weight is inside the band when
// L_i ≤ quantity·price ≤ U_i, that is |w_i − t_i| ≤ b, checked exactly in value terms
// (the weights in the report are rounded to 10 places). Cash is not a banded
// position: it funds buys and receives sale proceeds.
//
// Symbols held but not in the targets have target 0, and so does a target given as 0:
// they are exited (sold entirely) whatever their weight, even inside the band or
// below the minimum trade value — a zero target means "do not hold", and leaving a
// small remainder because it fits a band around zero would keep dust positions
// forever. A whole-share portfolio still sells a fractional remainder when it exits.
//
// Quantities move in steps of one share (whole shares) or 10^−FractionalPlaces
// shares (fractional). A trade changes a quantity by a whole number of steps, so the
// new quantity of a holding with a fractional remainder keeps the remainder.
//
// # Algorithm
//
//  1. Exits: sell every target-0 holding entirely.
//  2. Overweights (value > U): sell to the step quantity nearest the target value
//     that is inside the band.
//  3. Underweights (value < L): their minimum buy is the smallest step quantity
//     reaching L; their desired buy is the step quantity nearest the target value
//     inside the band.
//  4. Cash B = available cash + the proceeds of 1–2. If B covers every minimum buy,
//     no other trade is needed. Otherwise the deficit is covered, in this order, by
//     (a) selling the overweights deeper, down to their lower band edge (no extra
//     trade: they trade anyway), then (b) funding sells of holdings that are inside
//     their band, each sold down to no lower than its lower edge, largest capacity
//     first.
//  5. Buys: every underweight gets its minimum buy, raised to the minimum trade
//     value where possible (see below); what cash is left tops them up toward their
//     desired quantity, largest remaining shortfall first.
//
// Sells execute before buys (the plan lists them first) and the buys never spend
// more than the available cash plus the sale proceeds.
//
// # Why this is the fewest trades, and where it stops being so
//
// Every symbol outside its band must trade at least once, and one trade per symbol
// suffices, so steps 1–3 trade exactly the symbols that must trade (plus the exits,
// by the policy above). The only possible extra trades are the funding sells of 4b.
// The deficit they must cover is as small as it can be: the underweights buy only to
// their lower edge (the smallest step quantity inside the band), and the overweights
// already sell as deep as their band allows. Each in-band holding j can contribute at
// most c_j (its value above its lower edge, in whole steps), independently of the
// others, so covering a deficit D with the fewest holdings is choosing the fewest c_j
// summing to ≥ D; the k largest capacities have the largest sum of any k of them, so
// taking the largest first is optimal. Hence the plan's trade count is the minimum
// over all plans that end with every weight in its band, exits aside (the tests check
// this against an exhaustive search over small whole-share portfolios).
//
// Limits:
//
//   - Infeasible cases (when even every funding sell cannot pay every minimum buy,
//     which needs reserved cash — CashAvailable below Cash — or the coarseness of
//     whole shares): the plan brings the largest number of underweights into their
//     band (the cheapest minimum buys first), never pushes a holding that is inside its
//     band out of it to pay for another (so a plan that sacrificed one holding for two
//     others is not considered), and spends what is left on partial buys that reduce
//     the drift without reaching the band (only if each is at least the minimum trade
//     value). Those symbols are reported outside their band with the reason.
//   - A symbol whose band contains no step quantity (with whole shares, one share worth
//     more than the band's width 2·b·T) cannot be inside its band; it trades to the
//     step quantity closest to the band if that is closer than today, and is reported.
//   - The count is minimal for the trades of one rebalancing; the sizes (to the target
//     where cash allows) are a choice, not an optimisation of later drift or of cost.
//
// # Minimum trade value
//
// A trade below MinTradeValue is skipped unless it is needed to get a symbol inside
// its band; a needed trade is never dropped for being small, so the minimum never
// costs a symbol its place in the band nor adds a trade. Which trades are needed and
// how they are funded is decided on the minimal amounts; then a needed buy below the
// minimum is raised to the minimum when the symbol stays inside its band and the
// cash left, or deeper sales by symbols that sell anyway, pay for it; a new funding
// or overweight sale below the minimum is raised to it when the seller stays inside
// its band. A trade that still falls short is made at its needed size and flagged
// BelowMinimum. Exits are never skipped (flagged when small). Partial buys, which
// cannot reach the band, are made only when they reach the minimum.
package rebalance

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
)

// Side is BUY or SELL.
type Side string

const (
	Buy  Side = "BUY"
	Sell Side = "SELL"
)

// Purpose says why a trade is in the plan.
type Purpose string

const (
	Exit        Purpose = "EXIT"        // target 0: sold entirely
	Overweight  Purpose = "OVERWEIGHT"  // above its band: sold toward the target
	Underweight Purpose = "UNDERWEIGHT" // below its band: bought toward the target
	Funding     Purpose = "FUNDING"     // inside its band, sold to pay for underweights
	Partial     Purpose = "PARTIAL"     // below its band, bought with the cash left, still below
)

// DefaultFractionalPlaces is the quantity step 10^−6 of a fractional-share portfolio
// when Input.FractionalPlaces is 0.
const DefaultFractionalPlaces = 6

// TargetSumTolerance is how far the target weights may sum from 1.
var TargetSumTolerance = decimal.New(1, -6)

// ErrInvalidInput is wrapped by every validation error.
var ErrInvalidInput = errors.New("invalid rebalancing input")

// Input describes the portfolio and its targets. Symbols match exactly.
type Input struct {
	// Holdings maps symbol → quantity held (≥ 0).
	Holdings map[string]decimal.Decimal
	// Prices maps symbol → latest price (> 0) for every symbol held or targeted.
	Prices map[string]decimal.Decimal
	// Cash is the cash balance, part of the total value.
	Cash decimal.Decimal
	// CashAvailable is how much of the cash buys may spend (cash reserved for
	// unsettled trades or withdrawals stays counted in the total but is not spent);
	// nil means all of Cash (none when Cash is negative).
	CashAvailable *decimal.Decimal
	// Targets maps symbol → target weight (≥ 0, summing to 1 within
	// TargetSumTolerance); it may name symbols not held.
	Targets map[string]decimal.Decimal
	// Band is the drift band as an absolute weight (0.05 allows 55%–65% around 60%).
	Band decimal.Decimal
	// WholeShares trades whole shares only; otherwise quantities move in steps of
	// 10^−FractionalPlaces (0 means DefaultFractionalPlaces).
	WholeShares      bool
	FractionalPlaces int32
	// MinTradeValue is the smallest trade worth making (see the package doc).
	MinTradeValue decimal.Decimal
}

// Trade is one order of the plan.
type Trade struct {
	Symbol   string          `json:"symbol"`
	Side     Side            `json:"side"`
	Quantity decimal.Decimal `json:"quantity"`
	Price    decimal.Decimal `json:"price"`
	// Value is Quantity × Price, the estimated amount of the order.
	Value        decimal.Decimal `json:"estimatedValue"`
	Purpose      Purpose         `json:"purpose"`
	BelowMinimum bool            `json:"belowMinimum,omitempty"`
}

// Position is one symbol before and after the plan. Weights are value / total value
// rounded to 10 places; Drift is weight − target.
type Position struct {
	Symbol         string          `json:"symbol"`
	Price          decimal.Decimal `json:"price"`
	Target         decimal.Decimal `json:"target"`
	QuantityBefore decimal.Decimal `json:"quantityBefore"`
	QuantityAfter  decimal.Decimal `json:"quantityAfter"`
	WeightBefore   decimal.Decimal `json:"weightBefore"`
	WeightAfter    decimal.Decimal `json:"weightAfter"`
	DriftBefore    decimal.Decimal `json:"driftBefore"`
	DriftAfter     decimal.Decimal `json:"driftAfter"`
	InBandBefore   bool            `json:"inBandBefore"`
	InBandAfter    bool            `json:"inBandAfter"`
	// Note says why the symbol is still outside its band after the plan.
	Note string `json:"note,omitempty"`
}

// Plan is the result: the trades in execution order (sells, then buys; each by
// symbol), every symbol's position before and after, and the cash.
type Plan struct {
	TotalValue decimal.Decimal `json:"totalValue"`
	CashBefore decimal.Decimal `json:"cashBefore"`
	CashAfter  decimal.Decimal `json:"cashAfter"`
	Trades     []Trade         `json:"trades"`
	Positions  []Position      `json:"positions"`
	// AllInBand is true when every symbol ends inside its band.
	AllInBand bool `json:"allInBand"`
}

type kind int8

const (
	inside kind = iota
	exit
	over
	under
)

// pos is one symbol while planning; all values are quantity × price.
type pos struct {
	sym          string
	price, qty   decimal.Decimal
	target       decimal.Decimal
	tau, lo, hi  decimal.Decimal // target value and band edges
	kind         kind
	feasible     bool            // some step quantity lies inside the band
	newQty       decimal.Decimal // planned quantity
	floorQty     decimal.Decimal // smallest step quantity with value ≥ lo
	desiredQty   decimal.Decimal // step quantity nearest tau inside the band
	needQty      decimal.Decimal // (under) smallest step quantity with value ≥ lo
	minQty       decimal.Decimal // (under) needQty raised to the minimum trade value, if that stays in the band
	purpose      Purpose
	belowMinimum bool
	note         string
}

type planner struct {
	in     Input
	step   decimal.Decimal // 10^−places
	places int32
	minVal decimal.Decimal
	total  decimal.Decimal
	ps     []*pos
}

// Rebalance plans the trades (see the package doc). It fails only on invalid input.
func Rebalance(in Input) (Plan, error) {
	p, err := newPlanner(in)
	if err != nil {
		return Plan{}, err
	}
	return p.plan()
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

func newPlanner(in Input) (*planner, error) {
	one := decimal.NewFromInt(1)
	if in.Band.IsNegative() || in.Band.GreaterThanOrEqual(one) {
		return nil, bad("band %s must be in [0, 1)", in.Band)
	}
	if in.MinTradeValue.IsNegative() {
		return nil, bad("minimum trade value %s is negative", in.MinTradeValue)
	}
	if in.CashAvailable != nil && in.CashAvailable.IsNegative() {
		return nil, bad("cash available %s is negative", in.CashAvailable)
	}
	p := &planner{in: in, minVal: in.MinTradeValue, step: one}
	if !in.WholeShares {
		places := in.FractionalPlaces
		if places == 0 {
			places = DefaultFractionalPlaces
		}
		if places < 0 || places > 12 {
			return nil, bad("fractional places %d must be 1..12", places)
		}
		p.step, p.places = decimal.New(1, -places), places
	}
	sum := decimal.Zero
	for sym, t := range in.Targets {
		if t.IsNegative() {
			return nil, bad("target of %s is negative (%s)", sym, t)
		}
		sum = sum.Add(t)
	}
	if sum.Sub(one).Abs().GreaterThan(TargetSumTolerance) {
		return nil, bad("target weights sum to %s, not 1", sum)
	}

	syms := make([]string, 0, len(in.Holdings)+len(in.Targets))
	for sym, q := range in.Holdings {
		if q.IsNegative() {
			return nil, bad("quantity of %s is negative (%s)", sym, q)
		}
		if !q.IsZero() {
			syms = append(syms, sym)
		}
	}
	for sym := range in.Targets {
		if _, held := in.Holdings[sym]; !held || in.Holdings[sym].IsZero() {
			syms = append(syms, sym)
		}
	}
	slices.Sort(syms)
	syms = slices.Compact(syms)

	total := in.Cash
	for _, sym := range syms {
		q, t := in.Holdings[sym], in.Targets[sym]
		price, ok := in.Prices[sym]
		if !ok || !price.IsPositive() {
			if q.IsZero() && t.IsZero() {
				continue
			}
			return nil, bad("no positive price for %s", sym)
		}
		x := &pos{sym: sym, price: price, qty: q, target: t, newQty: q}
		total = total.Add(q.Mul(price))
		p.ps = append(p.ps, x)
	}
	if !total.IsPositive() {
		return nil, bad("total value %s is not positive", total)
	}
	p.total = total
	for _, x := range p.ps {
		x.tau = x.target.Mul(total)
		x.lo = x.target.Sub(in.Band).Mul(total)
		x.hi = x.target.Add(in.Band).Mul(total)
	}
	return p, nil
}

func (x *pos) value(q decimal.Decimal) decimal.Decimal { return q.Mul(x.price) }

func (x *pos) inBand(q decimal.Decimal) bool {
	v := x.value(q)
	return v.GreaterThanOrEqual(x.lo) && v.LessThanOrEqual(x.hi)
}

// gridAt is qty + k·step, the quantity k steps from today's.
func (p *planner) gridAt(x *pos, k decimal.Decimal) decimal.Decimal { return x.qty.Add(k.Mul(p.step)) }

// steps is (v/price − qty)/step, approximately (the callers fix the rounding exactly).
func (p *planner) steps(x *pos, v decimal.Decimal) decimal.Decimal {
	return v.DivRound(x.price, 20).Sub(x.qty).Shift(p.places)
}

// atLeast is the smallest quantity on the grid {qty + k·step ≥ 0} ∪ {0} whose value is
// ≥ v.
func (p *planner) atLeast(x *pos, v decimal.Decimal) decimal.Decimal {
	if !v.IsPositive() {
		return decimal.Zero
	}
	k := p.steps(x, v).Ceil()
	for x.value(p.gridAt(x, k)).LessThan(v) {
		k = k.Add(decimal.NewFromInt(1))
	}
	for {
		prev := k.Sub(decimal.NewFromInt(1))
		if q := p.gridAt(x, prev); q.IsNegative() || x.value(q).LessThan(v) {
			break
		}
		k = prev
	}
	return p.gridAt(x, k)
}

// atMost is the largest quantity on the grid {qty + k·step ≥ 0} ∪ {0} whose value is
// ≤ v; 0 when v < 0.
func (p *planner) atMost(x *pos, v decimal.Decimal) decimal.Decimal {
	if v.IsNegative() {
		return decimal.Zero
	}
	k := p.steps(x, v).Floor()
	for x.value(p.gridAt(x, k)).GreaterThan(v) {
		k = k.Sub(decimal.NewFromInt(1))
	}
	for x.value(p.gridAt(x, k.Add(decimal.NewFromInt(1)))).LessThanOrEqual(v) {
		k = k.Add(decimal.NewFromInt(1))
	}
	if q := p.gridAt(x, k); q.IsPositive() {
		return q
	}
	return decimal.Zero
}

// nearestInBand is the grid quantity inside the band nearest the target value
// (ties: the smaller trade), ok = false when the band holds no grid quantity.
func (p *planner) nearestInBand(x *pos) (decimal.Decimal, bool) {
	best, found := decimal.Zero, false
	for _, q := range []decimal.Decimal{p.atMost(x, x.tau), p.atLeast(x, x.tau)} {
		if !x.inBand(q) {
			continue
		}
		if !found || closer(x.value(q).Sub(x.tau).Abs(), q.Sub(x.qty).Abs(), x.value(best).Sub(x.tau).Abs(), best.Sub(x.qty).Abs()) {
			best, found = q, true
		}
	}
	return best, found
}

// closer orders candidates by distance, then by trade size.
func closer(d1, t1, d2, t2 decimal.Decimal) bool {
	if c := d1.Cmp(d2); c != 0 {
		return c < 0
	}
	return t1.LessThan(t2)
}

// bandDistance is how far value(q) lies outside the band (0 inside).
func (x *pos) bandDistance(q decimal.Decimal) decimal.Decimal {
	v := x.value(q)
	switch {
	case v.LessThan(x.lo):
		return x.lo.Sub(v)
	case v.GreaterThan(x.hi):
		return v.Sub(x.hi)
	}
	return decimal.Zero
}

// approach is, for a symbol whose band holds no grid quantity, the grid quantity
// closest to the band if it is strictly closer than today's (else today's).
func (p *planner) approach(x *pos) decimal.Decimal {
	best := x.qty
	for _, q := range []decimal.Decimal{p.atMost(x, x.lo), p.atLeast(x, x.hi)} {
		if closer(x.bandDistance(q), q.Sub(x.qty).Abs(), x.bandDistance(best), best.Sub(x.qty).Abs()) {
			best = q
		}
	}
	return best
}

func (p *planner) plan() (Plan, error) {
	in := p.in
	avail := in.Cash
	if in.CashAvailable != nil {
		avail = *in.CashAvailable
	}
	avail = decimal.Max(avail, decimal.Zero)
	cash := avail // spendable, grows with sale proceeds

	var unders, insides, overs, impossibleUnders []*pos
	// 1–2: exits and overweights.
	for _, x := range p.ps {
		v := x.value(x.qty)
		switch {
		case x.target.IsZero():
			x.kind = exit
			if x.qty.IsZero() {
				continue
			}
			x.newQty, x.purpose = decimal.Zero, Exit
			x.belowMinimum = v.LessThan(p.minVal)
		case v.GreaterThan(x.hi):
			x.kind = over
		case v.LessThan(x.lo):
			x.kind = under
		default:
			x.kind = inside
		}
		if x.kind == exit {
			cash = cash.Add(v)
			continue
		}
		x.desiredQty, x.feasible = p.nearestInBand(x)
		if x.feasible {
			x.floorQty = p.atLeast(x, x.lo)
		}
		switch x.kind {
		case inside:
			insides = append(insides, x)
		case over:
			if !x.feasible {
				x.newQty = p.approach(x)
				x.note = p.noGridNote(x)
			} else {
				x.newQty = x.desiredQty
				p.enlargeSell(x, x.floorQty)
			}
			if x.newQty.LessThan(x.qty) {
				x.purpose = Overweight
				cash = cash.Add(x.value(x.qty.Sub(x.newQty)))
			}
			overs = append(overs, x)
		case under:
			if !x.feasible {
				x.note = p.noGridNote(x)
				impossibleUnders = append(impossibleUnders, x)
				continue
			}
			x.needQty = p.atLeast(x, x.lo)
			x.minQty = x.needQty
			if x.value(x.needQty.Sub(x.qty)).LessThan(p.minVal) {
				if q := p.atLeast(x, x.value(x.qty).Add(p.minVal)); x.inBand(q) {
					x.minQty = q
				}
			}
			x.desiredQty = decimal.Max(x.desiredQty, x.minQty)
			unders = append(unders, x)
		}
	}

	// 4: choose which underweights can be brought inside, and fund them.
	need := func(x *pos) decimal.Decimal { return x.value(x.needQty.Sub(x.qty)) }
	capacity := decimal.Zero
	for _, x := range overs {
		if x.feasible {
			capacity = capacity.Add(x.value(x.newQty.Sub(x.floorQty)))
		}
	}
	for _, x := range insides {
		if x.feasible && x.qty.GreaterThan(x.floorQty) {
			capacity = capacity.Add(x.value(x.qty.Sub(x.floorQty)))
		}
	}
	slices.SortFunc(unders, func(a, b *pos) int { return cmp.Or(need(a).Cmp(need(b)), cmp.Compare(a.sym, b.sym)) })
	var selected, left []*pos
	sumNeed := decimal.Zero
	for _, x := range unders {
		if s := sumNeed.Add(need(x)); s.LessThanOrEqual(cash.Add(capacity)) {
			selected, sumNeed = append(selected, x), s
		} else {
			left = append(left, x)
		}
	}
	byCapacity := func(xs []*pos) []*pos {
		out := make([]*pos, 0, len(xs))
		for _, x := range xs {
			if x.feasible && x.newQty.GreaterThan(x.floorQty) {
				out = append(out, x)
			}
		}
		slices.SortFunc(out, func(a, b *pos) int {
			return cmp.Or(b.value(b.newQty.Sub(b.floorQty)).Cmp(a.value(a.newQty.Sub(a.floorQty))), cmp.Compare(a.sym, b.sym))
		})
		return out
	}
	sellers := byCapacity(overs)
	if deficit := sumNeed.Sub(cash); deficit.IsPositive() {
		raised := p.raise(deficit, sellers)
		funders := byCapacity(insides)
		raised = raised.Add(p.raise(deficit.Sub(raised), funders))
		for _, x := range funders {
			if x.newQty.LessThan(x.qty) {
				x.purpose = Funding
				sellers = append(sellers, x)
			}
		}
		cash = cash.Add(raised)
	}

	// 5: buys. First every selected underweight's minimum, then the minimum trade
	// value where the cash, or deeper sales by symbols that sell anyway, pay for it,
	// then the top-ups.
	for _, x := range selected {
		x.newQty, x.purpose = x.needQty, Underweight
		cash = cash.Sub(need(x))
	}
	slices.SortStableFunc(selected, func(a, b *pos) int { return a.value(a.minQty.Sub(a.needQty)).Cmp(b.value(b.minQty.Sub(b.needQty))) })
	for _, x := range selected {
		if x.value(x.newQty.Sub(x.qty)).GreaterThanOrEqual(p.minVal) {
			continue
		}
		extra := x.value(x.minQty.Sub(x.newQty))
		if extra.GreaterThan(cash) {
			cash = cash.Add(p.raise(extra.Sub(cash), sellers))
		}
		if extra.IsPositive() && extra.LessThanOrEqual(cash) {
			x.newQty = x.minQty
			cash = cash.Sub(extra)
		}
	}
	slices.SortStableFunc(selected, func(a, b *pos) int { return shortfall(b).Cmp(shortfall(a)) })
	for _, x := range selected {
		cash = cash.Sub(p.buyUpTo(x, x.desiredQty, cash))
	}
	for _, x := range left {
		before := x.newQty
		spent := p.buyUpTo(x, x.desiredQty, cash)
		if spent.IsPositive() && spent.LessThan(p.minVal) {
			x.newQty = before
			spent = decimal.Zero
		}
		if spent.IsPositive() {
			x.purpose = Partial
			if x.inBand(x.newQty) {
				x.purpose = Underweight
			}
		}
		cash = cash.Sub(spent)
		if !x.inBand(x.newQty) {
			x.note = fmt.Sprintf("insufficient cash: %s more is needed to reach the band", x.value(x.needQty.Sub(x.newQty)).StringFixed(2))
		}
	}
	for _, x := range impossibleUnders {
		q := p.approach(x)
		if cost := x.value(q.Sub(x.qty)); q.GreaterThan(x.qty) && cost.LessThanOrEqual(cash) && cost.GreaterThanOrEqual(p.minVal) {
			x.newQty, x.purpose = q, Partial
			cash = cash.Sub(cost)
		}
	}
	if cash.IsNegative() {
		return Plan{}, fmt.Errorf("rebalance: internal error: the plan spends %s more than the cash available", cash.Neg())
	}
	for _, x := range selected {
		x.belowMinimum = x.value(x.newQty.Sub(x.qty)).LessThan(p.minVal)
	}
	return p.result(), nil
}

// shortfall is what an underweight still lacks of its desired quantity.
func shortfall(x *pos) decimal.Decimal { return x.value(x.desiredQty.Sub(x.newQty)) }

// enlargeSell raises a needed sale below the minimum trade value to the minimum when
// the holding stays at or above floor (inside its band); otherwise flags it.
func (p *planner) enlargeSell(x *pos, floor decimal.Decimal) {
	sold := x.value(x.qty.Sub(x.newQty))
	if !sold.IsPositive() || sold.GreaterThanOrEqual(p.minVal) {
		return
	}
	if rest := x.value(x.qty).Sub(p.minVal); !rest.IsNegative() {
		if q := p.atMost(x, rest); q.GreaterThanOrEqual(floor) {
			x.newQty = q
			return
		}
	}
	x.belowMinimum = true
}

// raise sells more of xs (in order), each no lower than its lower band edge, until
// amount is raised or they are exhausted, and returns the proceeds (which may exceed
// amount by less than one step, or by a new sale's enlargement to the minimum trade
// value). It makes no trade for a symbol already at its lower edge.
func (p *planner) raise(amount decimal.Decimal, xs []*pos) decimal.Decimal {
	raised := decimal.Zero
	for _, x := range xs {
		want := amount.Sub(raised)
		if !want.IsPositive() {
			break
		}
		if !x.feasible || !x.newQty.GreaterThan(x.floorQty) {
			continue
		}
		cur := x.value(x.newQty)
		q := decimal.Max(p.atMost(x, cur.Sub(want)), x.floorQty)
		if fresh := x.newQty.Equal(x.qty); fresh && x.value(x.qty.Sub(q)).LessThan(p.minVal) {
			// A new sale below the minimum: enlarge it within the band.
			if rest := cur.Sub(p.minVal); !rest.IsNegative() && p.atMost(x, rest).GreaterThanOrEqual(x.floorQty) {
				q = p.atMost(x, rest)
			}
		}
		raised = raised.Add(cur.Sub(x.value(q)))
		x.newQty = q
		x.belowMinimum = x.value(x.qty.Sub(q)).LessThan(p.minVal)
	}
	return raised
}

// buyUpTo raises x's planned quantity toward upTo spending at most budget, and
// returns what it spent.
func (p *planner) buyUpTo(x *pos, upTo, budget decimal.Decimal) decimal.Decimal {
	if !budget.IsPositive() || !upTo.GreaterThan(x.newQty) {
		return decimal.Zero
	}
	q := decimal.Min(upTo, p.atMost(x, x.value(x.newQty).Add(budget)))
	if !q.GreaterThan(x.newQty) {
		return decimal.Zero
	}
	spent := x.value(q.Sub(x.newQty))
	x.newQty = q
	return spent
}

func (p *planner) noGridNote(x *pos) string {
	unit := "share"
	if !p.in.WholeShares {
		unit = "step of " + p.step.String() + " shares"
	}
	return fmt.Sprintf("cannot be inside the band: one %s costs %s, more than the band's width %s", unit, x.value(p.step).StringFixed(2), x.hi.Sub(x.lo).StringFixed(2))
}

// result assembles the plan from the planned quantities.
func (p *planner) result() Plan {
	in := p.in
	out := Plan{TotalValue: p.total, CashBefore: in.Cash, AllInBand: true, Trades: []Trade{}, Positions: make([]Position, 0, len(p.ps))}
	var sells, buys []Trade
	cash := in.Cash
	for _, x := range p.ps {
		d := x.newQty.Sub(x.qty)
		if !d.IsZero() {
			t := Trade{Symbol: x.sym, Side: Buy, Quantity: d.Abs(), Price: x.price, Value: x.value(d.Abs()), Purpose: x.purpose, BelowMinimum: x.belowMinimum}
			if d.IsNegative() {
				t.Side = Sell
				sells = append(sells, t)
				cash = cash.Add(t.Value)
			} else {
				buys = append(buys, t)
				cash = cash.Sub(t.Value)
			}
		}
		wb := x.value(x.qty).DivRound(p.total, 10)
		wa := x.value(x.newQty).DivRound(p.total, 10)
		pos := Position{
			Symbol: x.sym, Price: x.price, Target: x.target,
			QuantityBefore: x.qty, QuantityAfter: x.newQty,
			WeightBefore: wb, WeightAfter: wa,
			DriftBefore: wb.Sub(x.target), DriftAfter: wa.Sub(x.target),
			InBandBefore: x.inBand(x.qty), InBandAfter: x.inBand(x.newQty),
		}
		if !pos.InBandAfter {
			pos.Note = x.note
			if pos.Note == "" {
				pos.Note = "outside the band after the plan"
			}
			out.AllInBand = false
		}
		out.Positions = append(out.Positions, pos)
	}
	out.Trades = append(append(out.Trades, sells...), buys...)
	out.CashAfter = cash
	return out
}
