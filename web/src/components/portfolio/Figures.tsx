'use client'

// Performance and risk figures, each with a line saying what it means. A figure without a
// value says why (the API's reason).

import { memo } from 'react'
import { useServices } from '../AppProvider'
import { ErrorNote, Loading } from '../Shell'
import { isNotYet } from '@/lib/api'
import { formatFloat, formatRatio } from '@/lib/format'
import { useLoad } from '@/lib/useLoad'
import type { Metric } from '@/lib/types'

interface Fig {
  label: string
  metric: Metric | undefined
  kind: 'ratio' | 'float'
  explain: string
}

function Figure({ f }: { f: Fig }) {
  const v = f.metric?.value
  const shown = v == null ? '—' : f.kind === 'ratio' ? formatRatio(v) : formatFloat(v)
  return (
    <div className="figure">
      <dt>{f.label}</dt>
      <dd>{shown}</dd>
      <dd className="explain">{v == null && f.metric?.reason ? `Not available: ${f.metric.reason}.` : f.explain}</dd>
    </div>
  )
}

function notYetAsNull(err: unknown): null {
  if (isNotYet(err)) return null
  throw err
}

export const Figures = memo(function Figures({ id }: { id: string }) {
  const { api } = useServices()
  const data = useLoad(
    // Not computed yet (a new portfolio) is no figure; any other failure is an error to show
    // with its retry, not a promise that the figures will appear.
    () => Promise.all([api.getPerformance(id).catch(notYetAsNull), api.getRisk(id).catch(notYetAsNull)]),
    [api, id],
  )
  if (data.loading && !data.data) return <Loading label="Loading the figures" />
  if (data.error) return <ErrorNote message={data.error} onRetry={data.reload} />
  const [perf, risk] = data.data ?? [null, null]
  if (!perf && !risk) return <p className="muted">The figures appear after the portfolio&apos;s first priced day.</p>
  const b = perf?.benchmark
  const figs: Fig[] = [
    { label: 'Total return', metric: perf?.totalReturn, kind: 'ratio', explain: 'What the portfolio gained or lost overall, income included.' },
    { label: 'Time-weighted return (yearly)', metric: perf?.twr?.annualized, kind: 'ratio', explain: 'How the investments did, whatever you added or took out and when.' },
    { label: 'Money-weighted return (yearly)', metric: perf?.mwr?.annualized, kind: 'ratio', explain: 'Your own return, counting when you added and took out money.' },
    { label: 'Volatility (yearly)', metric: perf?.volatility?.annualized, kind: 'ratio', explain: 'How much the value swings; higher means a bumpier ride.' },
    { label: 'Sharpe ratio', metric: perf?.sharpe, kind: 'float', explain: 'Return earned per unit of risk taken; higher is better.' },
    { label: 'Sortino ratio', metric: perf?.sortino, kind: 'float', explain: 'Like Sharpe, but counting only the falls.' },
    { label: 'Maximum drawdown', metric: perf?.maxDrawdown?.value, kind: 'ratio', explain: 'The largest fall from a high to a later low.' },
    { label: `Beta${b?.symbol ? ` vs ${b.symbol}` : ''}`, metric: b?.beta, kind: 'float', explain: 'How strongly the portfolio follows the benchmark (1 = in step).' },
    { label: `Alpha${b?.symbol ? ` vs ${b.symbol}` : ''}`, metric: b?.alpha, kind: 'ratio', explain: 'Return beyond what following the benchmark explains.' },
    { label: 'Value at risk (95%, 1 day)', metric: risk?.valueAtRisk?.historical95?.var, kind: 'ratio', explain: 'On 19 days out of 20 the loss should stay below this.' },
    { label: 'Effective holdings', metric: risk?.diversification?.effectiveHoldings, kind: 'float', explain: 'How many equal-sized holdings your spread is worth.' },
    {
      label: `Largest holding${risk?.diversification?.largestSymbol ? ` (${risk.diversification.largestSymbol})` : ''}`,
      metric: risk?.diversification?.largestWeight,
      kind: 'ratio',
      explain: 'The share of the value in the biggest single holding.',
    },
  ]
  return (
    <dl className="figures">
      {figs.map((f) => (
        <Figure key={f.label} f={f} />
      ))}
    </dl>
  )
})
