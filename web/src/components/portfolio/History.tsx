'use client'

// The value history with ranges and the benchmark: the chart (loaded on demand) and, from the
// performance of the same range, the portfolio's return against the benchmark's.

import dynamic from 'next/dynamic'
import { useMemo, useState } from 'react'
import { useServices } from '../AppProvider'
import { Empty, ErrorNote, Loading } from '../Shell'
import { isNotYet } from '@/lib/api'
import { formatRatio } from '@/lib/format'
import { useLoad } from '@/lib/useLoad'
import type { Performance, ValueHistory } from '@/lib/types'
import { RANGES, rangeFrom, type Range } from './ranges'
import type { ChartPoint } from '../ValueChart'

const ValueChart = dynamic(() => import('../ValueChart'), { ssr: false, loading: () => <div className="chart" /> })

type HistoryWithBenchmark = ValueHistory & { benchmark?: { symbol?: string; series?: ChartPoint[] } }

export function History({ id }: { id: string }) {
  const { api } = useServices()
  const [range, setRange] = useState<Range>('1Y')
  const from = rangeFrom(range)
  const data = useLoad(
    () =>
      Promise.all([
        (api.getHistory(id, { from, points: 400 }) as Promise<HistoryWithBenchmark>).catch((e: unknown) => {
          if (isNotYet(e)) return {} as HistoryWithBenchmark
          throw e
        }),
        api.getPerformance(id, { from }).catch(() => null as Performance | null),
      ]),
    [api, id, from],
  )
  const [history, perf] = data.data ?? [undefined, null]
  const series = useMemo(() => history?.series ?? [], [history])
  const benchmark = useMemo(() => rebase(history?.benchmark?.series, series), [history, series])
  const bench = perf?.benchmark
  return (
    <section aria-labelledby="history-h">
      <h2 id="history-h">Value history</h2>
      <div className="tabs" role="group" aria-label="Range">
        {RANGES.map((r) => (
          <button key={r} type="button" aria-pressed={r === range} onClick={() => setRange(r)}>
            {r}
          </button>
        ))}
      </div>
      {data.loading && !data.data ? (
        <Loading label="Loading the history" />
      ) : data.error ? (
        <ErrorNote message={data.error} onRetry={data.reload} />
      ) : series.length < 2 ? (
        <Empty>The history appears after the portfolio has a few days of prices.</Empty>
      ) : (
        <ValueChart series={series} benchmark={benchmark} label={`Portfolio value over ${range}`} />
      )}
      {perf && (
        <p className="muted">
          Return over {range}: {formatRatio(perf.twr?.period?.value ?? perf.totalReturn?.value)}
          {bench?.symbol && (
            <>
              {' '}· benchmark {bench.symbol}: {formatRatio(bench.return?.value)}
            </>
          )}
        </p>
      )}
    </section>
  )
}

/** rebase scales a benchmark series to start at the portfolio's first value, for one axis. */
function rebase(bench: ChartPoint[] | undefined, series: ChartPoint[]): ChartPoint[] | undefined {
  const b0 = bench?.[0]
  const s0 = series[0]
  if (!bench || !b0 || !s0 || Number(b0.value) === 0) return undefined
  const k = Number(s0.value) / Number(b0.value)
  return bench.map((p) => ({ date: p.date, value: String(Number(p.value) * k) }))
}
