import type { HistoryPoint } from '@/lib/types'
import type { ChartLine } from '../ValueChart'

/**
 * chartLines turns the history into the chart's lines: the portfolio's and the benchmark's
 * returns in percent when the points carry a benchmark return, else the value alone. The chart
 * refuses (throws on) points out of date order or on the same day twice, so the lines are put
 * in order, one point a day (the last given), and a point without a calendar date is left out.
 */
export function chartLines(series: HistoryPoint[]): { lines: ChartLine[]; percent: boolean } {
  const points = Array.isArray(series) ? series.filter((p) => p && typeof p.date === 'string' && DAY.test(p.date)) : []
  const withBenchmark = points.some((p) => isNumber(p.benchmarkReturn))
  if (withBenchmark) {
    const own = line(points.filter((p) => isNumber(p.return)).map((p): [string, number] => [p.date, (p.return as number) * 100]))
    const bench = line(points.filter((p) => isNumber(p.benchmarkReturn)).map((p): [string, number] => [p.date, (p.benchmarkReturn as number) * 100]))
    return { lines: [{ kind: 'main', points: own }, { kind: 'benchmark', points: bench }], percent: true }
  }
  const values = line(points.filter((p) => typeof p.value === 'string' && Number.isFinite(Number(p.value))).map((p): [string, number] => [p.date, Number(p.value)]))
  return { lines: values.length > 0 ? [{ kind: 'main', points: values }] : [], percent: false }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** line orders the points by date, keeping the last one given for a day. */
function line(points: [string, number][]): [string, number][] {
  const byDay = new Map<string, number>()
  for (const [day, v] of points) byDay.set(day, v)
  return [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}
