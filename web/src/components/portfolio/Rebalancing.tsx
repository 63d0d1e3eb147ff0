'use client'

// The rebalancing plan (the trades that bring the holdings back to their targets) and the
// targets editor (weights in percent, summing to 100, and the drift band).

import { memo, useEffect, useState, type FormEvent } from 'react'
import { useServices } from '../AppProvider'
import { Empty, ErrorNote, Loading } from '../Shell'
import { friendlyError, isNotYet } from '@/lib/api'
import { compare, fromInput, isDecimal, mul, normalize, sum } from '@/lib/decimal'
import { formatMoney, formatNumber, formatPercent } from '@/lib/format'
import type { Rebalancing } from '@/lib/types'
import { useLoad } from '@/lib/useLoad'
import { appStore } from '@/store/store'

export const RebalancingPlan = memo(function RebalancingPlan({ id, base, version }: { id: string; base: string; version: number }) {
  const { api } = useServices()
  const data = useLoad(
    () =>
      api.getRebalancing(id).catch((e: unknown) => {
        if (isNotYet(e)) return {} as Rebalancing
        throw e
      }),
    [api, id, version],
  )
  if (data.loading && !data.data) return <Loading label="Loading the plan" />
  if (data.error) return <ErrorNote message={data.error} onRetry={data.reload} />
  const plan = data.data?.plan
  if (!plan) return <Empty>Set target weights below to get a rebalancing plan.</Empty>
  if (plan.error) return <p className="warn">The targets cannot be planned: {plan.error}</p>
  const trades = plan.trades ?? []
  if (trades.length === 0)
    return <p className="muted">{plan.allInBand ? 'Every holding is within its band of the target: nothing to do.' : 'No trade is needed.'}</p>
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Suggested trades">
      <table>
        <caption className="sr-only">Suggested trades</caption>
        <thead>
          <tr>
            <th scope="col">Trade</th>
            <th scope="col">Symbol</th>
            <th scope="col" className="num">Quantity</th>
            <th scope="col" className="num">Estimated value</th>
          </tr>
        </thead>
        <tbody>
          {trades.map((t, i) => (
            <tr key={`${t.symbol}-${i}`}>
              <td>{t.side === 'BUY' ? 'Buy' : 'Sell'}</td>
              <th scope="row">{t.symbol}</th>
              <td className="num">{formatNumber(t.quantity)}</td>
              <td className="num">{formatMoney(t.estimatedValue, base)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
})

interface Row {
  symbol: string
  percent: string
}

export const TargetsEditor = memo(function TargetsEditor({ id, symbolKey, onSaved }: { id: string; symbolKey: string; onSaved: () => void }) {
  const { api } = useServices()
  const current = useLoad(() => api.getTargets(id), [api, id])
  const [rows, setRows] = useState<Row[]>([])
  const [band, setBand] = useState('5')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    if (current.loading) return
    const t = Array.isArray(current.data?.targets) ? current.data.targets : []
    const percent = (w: unknown) => (typeof w === 'string' && isDecimal(w) ? normalize(mul(w, '100')) : '')
    setRows(
      t.length > 0
        ? t.map((x) => ({ symbol: String(x.symbol ?? ''), percent: percent(x.weight) }))
        : symbolKey
          ? symbolKey.split(',').map((s) => ({ symbol: s, percent: '' }))
          : [{ symbol: '', percent: '' }],
    )
    const band = percent(current.data?.driftBand)
    if (band) setBand(band)
  }, [current.loading, current.data, symbolKey])

  const filled = rows.filter((r) => r.symbol.trim() && isDecimal(r.percent))
  // A symbol whose weight is not a number, or a drift band that is not one, is refused with
  // words: left out or replaced by the default, the saved targets would not be the ones shown.
  const unreadable = rows.filter((r) => r.symbol.trim() && !isDecimal(r.percent)).map((r) => r.symbol.trim().toUpperCase())
  const bandValue = fromInput(band)
  const total = sum(filled.map((r) => r.percent))
  const sums100 = compare(total, '100') === 0
  const update = (i: number, patch: Partial<Row>) => setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)))

  const save = async (e: FormEvent) => {
    e.preventDefault()
    if (unreadable.length > 0) {
      setError(`Give ${unreadable.join(', ')} a weight in percent, such as 25 or 12.5.`)
      return
    }
    if (bandValue === null) {
      setError('The drift band must be a number in percent, such as 5.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await api.setTargets(
        id,
        filled.map((r) => ({ symbol: r.symbol.trim().toUpperCase(), weight: normalize(mul(r.percent, '0.01')) })),
        normalize(mul(bandValue, '0.01')),
      )
      appStore.getState().pushToast({ tone: 'success', text: 'Targets saved.' })
      onSaved()
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }

  if (current.loading && !current.data) return <Loading label="Loading the targets" />
  return (
    <form className="card stack" onSubmit={save} aria-labelledby="targets-h">
      <h3 id="targets-h">Target weights</h3>
      {rows.map((r, i) => (
        <div className="row" key={i}>
          <label>
            Symbol {i + 1}
            <input value={r.symbol} onChange={(e) => update(i, { symbol: e.target.value })} autoCapitalize="characters" />
          </label>
          <label>
            Weight of symbol {i + 1} (%)
            <input inputMode="decimal" value={r.percent} onChange={(e) => update(i, { percent: e.target.value.replace(',', '.') })} />
          </label>
          <button type="button" className="btn-quiet" aria-label={`Remove symbol ${i + 1}`} onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <div className="row">
        <button type="button" onClick={() => setRows((rs) => [...rs, { symbol: '', percent: '' }])}>
          Add a symbol
        </button>
        <label>
          Drift band (%)
          <input inputMode="decimal" value={band} onChange={(e) => setBand(e.target.value.replace(',', '.'))} />
        </label>
      </div>
      <p className={sums100 ? 'muted' : 'warn'}>Total: {formatPercent(total)}{sums100 ? '' : ' — the weights must add up to 100%.'}</p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div>
        <button type="submit" className="btn-primary" disabled={busy || !sums100 || filled.length === 0}>
          {busy ? 'Saving…' : 'Save targets'}
        </button>
      </div>
    </form>
  )
})
