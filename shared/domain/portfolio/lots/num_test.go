package lots

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// The num fast path must agree exactly with decimal.Decimal on every operation the
// book uses, including at the int64 boundary where it hands over to decimal.

// randNumDec returns decimals that stress num: zero, small values at various
// exponents, values near ±math.MaxInt64 coefficients, values beyond int64, and
// exponents outside num's small range.
func randNumDec(r *rand.Rand) decimal.Decimal {
	exp := int32(r.IntN(25)) - 18
	switch r.IntN(8) {
	case 0:
		return decimal.Zero
	case 1: // near the int64 edge
		c := int64(math.MaxInt64) - r.Int64N(1000)
		if r.IntN(2) == 0 {
			c = -c
		}
		return decimal.New(c, exp)
	case 2: // beyond int64
		return decimal.New(r.Int64(), exp).Mul(decimal.New(r.Int64N(1_000_000)+2, 0))
	case 3: // exponent outside [minExp, maxExp]
		return decimal.New(r.Int64N(1000)-500, int32(r.IntN(2)*160-80))
	case 4: // trailing zeros
		return decimal.New((r.Int64N(2000)-1000)*1000, exp)
	default:
		return decimal.New(r.Int64N(2_000_000_000)-1_000_000_000, exp)
	}
}

func checkNum(t *testing.T, what string, got num, want decimal.Decimal) {
	t.Helper()
	if !got.dec().Equal(want) {
		t.Fatalf("%s = %s, want %s", what, got.dec(), want)
	}
	// canonical form: small whenever it fits, no trailing zeros, never MinInt64
	if got.big != nil {
		if got.big.IsZero() {
			t.Fatalf("%s: big zero", what)
		}
		if c := fromDec(*got.big); c.big == nil {
			t.Fatalf("%s: big value %s fits the small form", what, got.big)
		}
	} else if got.c != 0 && (got.c%10 == 0 || got.c == math.MinInt64 || got.e < minExp || got.e > maxExp) {
		t.Fatalf("%s: non-canonical small %d e%d", what, got.c, got.e)
	} else if got.c == 0 && got.e != 0 {
		t.Fatalf("%s: zero with exponent %d", what, got.e)
	}
}

func numAgainstDecimal(t *testing.T, x, y decimal.Decimal, scale int32) {
	t.Helper()
	a, b := fromDec(x), fromDec(y)
	checkNum(t, "fromDec("+x.String()+")", a, x)
	checkNum(t, x.String()+" + "+y.String(), a.add(b), x.Add(y))
	checkNum(t, x.String()+" − "+y.String(), a.sub(b), x.Sub(y))
	checkNum(t, x.String()+" × "+y.String(), a.mul(b), x.Mul(y))
	checkNum(t, "−"+x.String(), a.neg(), x.Neg())
	if got, want := a.cmp(b), x.Cmp(y); got != want {
		t.Fatalf("cmp(%s, %s) = %d, want %d", x, y, got, want)
	}
	if got, want := a.sign(), x.Sign(); got != want {
		t.Fatalf("sign(%s) = %d, want %d", x, got, want)
	}
	if !y.IsZero() {
		checkNum(t, x.String()+" ÷ "+y.String(), a.divRound(b, scale), x.DivRound(y, scale))
	}
}

func TestNumMatchesDecimal(t *testing.T) {
	r, n := rng(7), 50_000
	if testing.Short() {
		n = 5_000
	}
	for range n {
		numAgainstDecimal(t, randNumDec(r), randNumDec(r), int32(r.IntN(14)))
	}
}

func TestNumRoundingAndEdges(t *testing.T) {
	cases := []struct {
		x, y  string
		scale int32
	}{
		{"1", "3", 10}, {"2", "3", 10}, {"-2", "3", 10}, {"2", "-3", 0}, {"5", "10", 0}, {"-5", "10", 0},
		{"15", "10", 0}, {"25", "10", 0}, {"-25", "10", 0}, {"1", "8", 2}, {"0.000000000005", "1", 11},
		{"3809", "7", 10}, {"9223372036854775807", "1", 0}, {"9223372036854775807", "2", 0},
		{"9223372036854775807", "0.5", 0}, {"-9223372036854775807", "3", 1}, {"1", "9223372036854775807", 30},
		{"0.0000000001", "1000000000", 10}, {"123.456", "0.001", 10}, {"1e-60", "1e40", 10},
	}
	for _, c := range cases {
		numAgainstDecimal(t, dec(c.x), dec(c.y), c.scale)
	}
}

// FuzzNum checks num against decimal.Decimal on arbitrary coefficients and exponents.
func FuzzNum(f *testing.F) {
	f.Add(int64(1), int32(0), int64(3), int32(0), int8(10), uint8(2))
	f.Add(int64(math.MaxInt64), int32(-5), int64(-7), int32(3), int8(4), uint8(3))
	f.Fuzz(func(t *testing.T, c1 int64, e1 int32, c2 int64, e2 int32, scale int8, mul uint8) {
		e1, e2 = e1%100, e2%100
		x := decimal.New(c1, e1)
		y := decimal.New(c2, e2).Mul(decimal.New(int64(mul%4)+1, 0))
		numAgainstDecimal(t, x, y, int32(scale%20))
	})
}

func BenchmarkNumAdd(b *testing.B) {
	x, y := fromDec(dec("1234.56")), fromDec(dec("0.0001"))
	b.ReportAllocs()
	for b.Loop() {
		x = x.add(y)
	}
}
