import type { HistoryPoint } from '@/lib/types'
import type { ChartLine } from '../ValueChart'

/**
 * chartLines turns the history into the chart's lines: the portfolio's and the benchmark's
 * returns in percent when the points carry a benchmark return, else the value alone.
 */
export function chartLines(series: HistoryPoint[]): { lines: ChartLine[]; percent: boolean } {
  const withBenchmark = series.some((p) => typeof p.benchmarkReturn === 'number')
  if (withBenchmark) {
    const own = series.filter((p) => typeof p.return === 'number').map((p): [string, number] => [p.date, (p.return ?? 0) * 100])
    const bench = series.filter((p) => typeof p.benchmarkReturn === 'number').map((p): [string, number] => [p.date, (p.benchmarkReturn ?? 0) * 100])
    return { lines: [{ kind: 'main', points: own }, { kind: 'benchmark', points: bench }], percent: true }
  }
  const values = series.filter((p) => p.value !== undefined && Number.isFinite(Number(p.value))).map((p): [string, number] => [p.date, Number(p.value)])
  return { lines: values.length > 0 ? [{ kind: 'main', points: values }] : [], percent: false }
}
