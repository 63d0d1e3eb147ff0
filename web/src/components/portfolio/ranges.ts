// The value history's ranges, as from-dates (UTC calendar days).

export const RANGES = ['1M', '3M', 'YTD', '1Y', '5Y', 'ALL'] as const
export type Range = (typeof RANGES)[number]

function iso(d: Date): string {
  return d.toISOString().slice(0, 10)
}

/** monthsBack is the same day n months earlier, or that month's last day (31 March → 28 February). */
function monthsBack(d: Date, n: number): Date {
  const day = d.getUTCDate()
  const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - n, 1))
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate()
  first.setUTCDate(Math.min(day, last))
  return first
}

/** rangeFrom is the first day of the range ending today, undefined for ALL. */
export function rangeFrom(range: Range, today: Date = new Date()): string | undefined {
  const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()))
  switch (range) {
    case '1M':
      return iso(monthsBack(d, 1))
    case '3M':
      return iso(monthsBack(d, 3))
    case 'YTD':
      return `${d.getUTCFullYear()}-01-01`
    case '1Y':
      return iso(monthsBack(d, 12))
    case '5Y':
      return iso(monthsBack(d, 60))
    case 'ALL':
      return undefined
  }
}
