// How an alert's threshold and observed value read. The API states moves, drops, drawdowns,
// weights and weight drifts as fractions (0.05 = 5%; shared/domain/alerts/kinds.go), prices
// and the value at risk as they are.

import { isDecimal, mul, normalize } from './decimal'
import { formatNumber } from './format'
import type { AlertKind } from './types'

const FRACTION_KINDS: ReadonlySet<string> = new Set<AlertKind>(['percent_move', 'weight_drift', 'value_drop', 'drawdown', 'concentration'])

/** isFractionKind reports a kind whose threshold and observed value are fractions. */
export function isFractionKind(kind: string | undefined): boolean {
  return kind !== undefined && FRACTION_KINDS.has(kind)
}

/** formatAlertValue formats a threshold or observed value: "5%" for a fraction kind's 0.05, "200.5" for a price. */
export function formatAlertValue(kind: string | undefined, value: string | undefined | null): string {
  if (value == null || !isDecimal(value)) return '—'
  if (!isFractionKind(kind)) return formatNumber(value, { maxDigits: 4 })
  return `${formatNumber(normalize(mul(value, '100')), { maxDigits: 2 })}%`
}
