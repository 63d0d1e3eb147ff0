// Exact decimal arithmetic on the API's decimal strings ("-12.3400"), on BigInt: money and
// quantities never pass through a float. A value is a scaled integer (units × 10^-scale).
// Only what the pages need: add, subtract, multiply, compare, divide to a fixed number of
// places, and rounding for display.

export interface Dec {
  units: bigint
  scale: number
}

const DECIMAL = /^\s*([+-])?(\d+)(?:\.(\d+))?\s*$/

/** parse reads a decimal string; it throws on anything else (an exponent, a float's NaN). */
export function parse(text: string): Dec {
  const m = DECIMAL.exec(text)
  if (!m) throw new Error(`not a decimal: ${JSON.stringify(text)}`)
  const frac = m[3] ?? ''
  const units = BigInt((m[2] ?? '0') + frac)
  return { units: m[1] === '-' ? -units : units, scale: frac.length }
}

/** isDecimal reports whether text is a decimal string parse accepts. */
export function isDecimal(text: string): boolean {
  return DECIMAL.test(text)
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n)
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale)
  return [a.units * pow10(scale - a.scale), b.units * pow10(scale - b.scale), scale]
}

/** toString writes d without an exponent, keeping its scale ("1.50"). */
export function toString(d: Dec): string {
  const neg = d.units < 0n
  let digits = (neg ? -d.units : d.units).toString()
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, '0')
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`
  }
  return neg ? `-${digits}` : digits
}

/** normalize drops trailing fractional zeros ("1.500" → "1.5", "2.00" → "2"). */
export function normalize(text: string): string {
  const s = toString(parse(text))
  if (!s.includes('.')) return s === '-0' ? '0' : s
  const t = s.replace(/0+$/, '').replace(/\.$/, '')
  return t === '-0' ? '0' : t
}

export function add(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b))
  return toString({ units: x + y, scale })
}

export function sub(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b))
  return toString({ units: x - y, scale })
}

export function mul(a: string, b: string): string {
  const x = parse(a)
  const y = parse(b)
  return toString({ units: x.units * y.units, scale: x.scale + y.scale })
}

/** sum adds the strings; "0" for none. */
export function sum(values: readonly string[]): string {
  return values.reduce((acc, v) => add(acc, v), '0')
}

/** compare is -1, 0 or 1 as a is below, equal to or above b. */
export function compare(a: string, b: string): -1 | 0 | 1 {
  const [x, y] = align(parse(a), parse(b))
  return x < y ? -1 : x > y ? 1 : 0
}

export function isZero(a: string): boolean {
  return parse(a).units === 0n
}

export function isNegative(a: string): boolean {
  return parse(a).units < 0n
}

/** divide is a / b rounded half away from zero to places decimals; null when b is zero. */
export function divide(a: string, b: string, places: number): string | null {
  const x = parse(a)
  const y = parse(b)
  if (y.units === 0n) return null
  // a/b = (x.units / y.units) × 10^(y.scale - x.scale); scale the numerator so the integer
  // quotient carries places + 1 digits, then round the last away.
  const shift = places + 1 + y.scale - x.scale
  let num = x.units
  let den = y.units
  if (shift >= 0) num *= pow10(shift)
  else den *= pow10(-shift)
  const q = num / den
  return toString({ units: roundLastDigit(q), scale: places })
}

function roundLastDigit(q: bigint): bigint {
  const neg = q < 0n
  const abs = neg ? -q : q
  const rounded = (abs + 5n) / 10n
  return neg ? -rounded : rounded
}

/** round rounds a to places decimals, half away from zero. */
export function round(a: string, places: number): string {
  const d = parse(a)
  if (d.scale <= places) return toString({ units: d.units * pow10(places - d.scale), scale: places })
  const q = d.units / pow10(d.scale - places - 1)
  return toString({ units: roundLastDigit(q), scale: places })
}

/** percentOf is part / whole × 100 to places decimals, null when whole is zero. */
export function percentOf(part: string, whole: string, places = 2): string | null {
  return divide(mul(part, '100'), whole, places)
}

/**
 * fromInput reads a number a person typed into a decimal string, or null. Spaces go; a
 * decimal comma is accepted ("12,5"), but a comma before exactly three digits ("1,250") is
 * refused: it is a thousands separator in en-US and a decimal comma elsewhere, and reading it
 * the wrong way records a thousand times too much or too little. So are two separators
 * ("1,250.50", "1.250,50") and anything with an exponent.
 */
export function fromInput(text: string): string | null {
  const t = text.replace(/[\s\u00a0\u202f]/g, '')
  if (t === '') return null
  const commas = t.split(',').length - 1
  if (commas === 0) return isDecimal(t) ? t : null
  if (commas > 1 || t.includes('.') || /,\d{3}$/.test(t)) return null
  const dotted = t.replace(',', '.')
  return isDecimal(dotted) ? dotted : null
}
