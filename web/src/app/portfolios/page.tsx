'use client'

// The overview: every portfolio with its total value (live), day change and P&L, and a form
// that creates a portfolio.

import Link from 'next/link'
import { useEffect, useState, type FormEvent } from 'react'
import { useServices } from '@/components/AppProvider'
import { Empty, ErrorNote, Loading, Page } from '@/components/Shell'
import { friendlyError, newIdempotencyKey } from '@/lib/api'
import { add, isNegative, sum } from '@/lib/decimal'
import { formatMoney } from '@/lib/format'
import { useLoad } from '@/lib/useLoad'
import { appStore, dayChangeTotal, holdingViews, useApp } from '@/store/store'
import type { Portfolio } from '@/lib/types'

export default function PortfoliosPage() {
  return (
    <Page>
      <Overview />
    </Page>
  )
}

function Overview() {
  const { api, live } = useServices()
  const portfolios = useApp((s) => s.portfolios)
  const list = useLoad(async () => {
    const items = await api.listPortfolios()
    appStore.getState().setPortfolios(items)
    await Promise.all(
      items.map((p) =>
        api.getPositions(p.id).then(
          (pos) => appStore.getState().setPositions(pos),
          () => undefined,
        ),
      ),
    )
    return items
  }, [api])
  const ids = (portfolios ?? []).filter((p) => !p.archived).map((p) => p.id).join(',')
  useEffect(() => {
    if (!ids) return
    const list = ids.split(',')
    list.forEach((id) => live.subscribe(id))
    return () => list.forEach((id) => live.unsubscribe(id))
  }, [ids, live])

  const active = (portfolios ?? []).filter((p) => !p.archived)
  return (
    <>
      <div className="page-head">
        <h1>Portfolios</h1>
      </div>
      {list.loading && !portfolios ? (
        <Loading label="Loading your portfolios" />
      ) : list.error && !portfolios ? (
        <ErrorNote message={list.error} onRetry={list.reload} />
      ) : active.length === 0 ? (
        <Empty>You have no portfolio yet. Create your first one below.</Empty>
      ) : (
        <>
          <OverviewTotal portfolios={active} />
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Your portfolios">
            <table>
              <caption className="sr-only">Your portfolios</caption>
              <thead>
                <tr>
                  <th scope="col">Portfolio</th>
                  <th scope="col" className="num">
                    Value
                  </th>
                  <th scope="col" className="num">
                    Day change
                  </th>
                  <th scope="col" className="num">
                    Profit / loss
                  </th>
                </tr>
              </thead>
              <tbody>
                {active.map((p) => (
                  <OverviewRow key={p.id} p={p} />
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <CreatePortfolio />
    </>
  )
}

/** OverviewTotal sums the portfolios when they share a base currency (else a sum would mix them). */
function OverviewTotal({ portfolios }: { portfolios: Portfolio[] }) {
  const live = useApp((s) => s.live)
  const positions = useApp((s) => s.positions)
  const quotes = useApp((s) => s.quotes)
  const ccys = new Set(portfolios.map((p) => p.baseCurrency))
  const ccy = portfolios[0]?.baseCurrency
  if (ccys.size !== 1 || !ccy || portfolios.length < 2) return null
  const total = sum(portfolios.map((p) => live[p.id]?.value ?? '0'))
  const days = portfolios.map((p) => dayChangeTotal(holdingViews(positions[p.id], quotes))).filter((d): d is string => !!d)
  const day = days.length > 0 ? sum(days) : undefined
  return (
    <section aria-label="All portfolios" className="card value-header mb">
      <div>
        <div className="muted">All portfolios</div>
        <div className="big">{formatMoney(total, ccy)}</div>
      </div>
      <div>
        <div className="muted">Day change</div>
        <div className={day ? (isNegative(day) ? 'down' : 'up') : ''}>{day ? formatMoney(day, ccy, { signed: true }) : '—'}</div>
      </div>
    </section>
  )
}

function OverviewRow({ p }: { p: Portfolio }) {
  const positions = useApp((s) => s.positions[p.id])
  const liveValue = useApp((s) => s.live[p.id])
  const quotes = useApp((s) => s.quotes)
  const rows = holdingViews(positions, quotes)
  const day = dayChangeTotal(rows)
  const totals = positions?.totals
  const pnl = totals?.unrealizedPnL || totals?.realizedPnL ? add(totals?.unrealizedPnL ?? '0', totals?.realizedPnL ?? '0') : undefined
  const ccy = p.baseCurrency
  return (
    <tr>
      <th scope="row">
        <Link href={`/portfolio/?id=${encodeURIComponent(p.id)}`}>{p.name}</Link>
      </th>
      <td className="num">{liveValue ? formatMoney(liveValue.value, ccy) : positions ? formatMoney('0', ccy) : '—'}</td>
      <td className={`num ${day ? (isNegative(day) ? 'down' : 'up') : ''}`}>{day ? formatMoney(day, ccy, { signed: true }) : '—'}</td>
      <td className={`num ${pnl ? (isNegative(pnl) ? 'down' : 'up') : ''}`}>{pnl ? formatMoney(pnl, ccy, { signed: true }) : '—'}</td>
    </tr>
  )
}

const CURRENCIES = ['USD', 'EUR', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK']

function CreatePortfolio() {
  const { api } = useServices()
  const [name, setName] = useState('')
  const [currency, setCurrency] = useState('USD')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [key, setKey] = useState(newIdempotencyKey)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const res = await api.createPortfolio({ name: name.trim(), baseCurrency: currency }, key)
      appStore.getState().upsertPortfolio({ ...res.data, baseCurrency: res.data.baseCurrency ?? currency })
      appStore.getState().pushToast({ tone: 'success', text: `Portfolio “${res.data.name ?? name}” created.` })
      setName('')
      setKey(newIdempotencyKey())
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="create-h">
      <h2 id="create-h">Create a portfolio</h2>
      <form className="card row" onSubmit={submit}>
        <label>
          Name
          <input required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Base currency
          <select value={currency} onChange={(e) => setCurrency(e.target.value)}>
            {CURRENCIES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn-primary" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create portfolio'}
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </section>
  )
}
