// The value history's ranges, as from-dates (UTC calendar days).

export const RANGES = ['1M', '3M', 'YTD', '1Y', '5Y', 'ALL'] as const
export type Range = (typeof RANGES)[number]

function iso(d: Date): string {
  return d.toISOString().slice(0, 10)
}

/** rangeFrom is the first day of the range ending today, undefined for ALL. */
export function rangeFrom(range: Range, today: Date = new Date()): string | undefined {
  const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()))
  switch (range) {
    case '1M':
      d.setUTCMonth(d.getUTCMonth() - 1)
      return iso(d)
    case '3M':
      d.setUTCMonth(d.getUTCMonth() - 3)
      return iso(d)
    case 'YTD':
      return `${d.getUTCFullYear()}-01-01`
    case '1Y':
      d.setUTCFullYear(d.getUTCFullYear() - 1)
      return iso(d)
    case '5Y':
      d.setUTCFullYear(d.getUTCFullYear() - 5)
      return iso(d)
    case 'ALL':
      return undefined
  }
}
