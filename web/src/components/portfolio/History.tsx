'use client'

// The value history with ranges and the benchmark. With the portfolio's benchmark (its
// settings) the API gives each day the portfolio's time-weighted return and the benchmark's
// over the same days, and the chart compares the two; without one it draws the value. The
// range's returns from the performance sit under it.

import dynamic from 'next/dynamic'
import { useMemo, useState } from 'react'
import { useServices } from '../AppProvider'
import { Empty, ErrorNote, Loading } from '../Shell'
import { isNotYet } from '@/lib/api'
import { formatRatio } from '@/lib/format'
import { useLoad } from '@/lib/useLoad'
import type { Performance, ValueHistory } from '@/lib/types'
import { RANGES, rangeFrom, type Range } from './ranges'
import { chartLines } from './chartLines'

const ValueChart = dynamic(() => import('../ValueChart'), { ssr: false, loading: () => <div className="chart" /> })

export function History({ id, benchmark }: { id: string; benchmark?: string }) {
  const { api } = useServices()
  const [range, setRange] = useState<Range>('1Y')
  const from = rangeFrom(range)
  const data = useLoad(
    () =>
      Promise.all([
        api.getHistory(id, { from, points: 400, benchmark }).catch((e: unknown) => {
          if (isNotYet(e)) return {} as ValueHistory
          throw e
        }),
        api.getPerformance(id, { from }).catch(() => null as Performance | null),
      ]),
    [api, id, from, benchmark],
  )
  const [history, perf] = data.data ?? [undefined, null]
  const chart = useMemo(() => chartLines(history?.series ?? []), [history])
  const bench = perf?.benchmark
  const benchSymbol = history?.benchmark ?? bench?.symbol ?? benchmark
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
      ) : chart.lines.length === 0 || (chart.lines[0]?.points.length ?? 0) < 2 ? (
        <Empty>The history appears after the portfolio has a few days of prices.</Empty>
      ) : (
        <>
          <ValueChart
            lines={chart.lines}
            percent={chart.percent}
            label={chart.percent ? `Return over ${range} against ${benchSymbol ?? 'the benchmark'}` : `Portfolio value over ${range}`}
          />
          {chart.percent && (
            <p className="muted">
              Solid: the portfolio&apos;s return; dashed: {benchSymbol ?? 'the benchmark'} over the same days.
            </p>
          )}
        </>
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
