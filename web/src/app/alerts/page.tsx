'use client'

// Alerts: the rules (create, edit the threshold, pause/resume, delete), the history of firings
// (acknowledge), and the notification deliveries.

import { useEffect, useState, type FormEvent } from 'react'
import { useServices } from '@/components/AppProvider'
import { Empty, ErrorNote, Loading, Page } from '@/components/Shell'
import { formatAlertValue } from '@/lib/alertValues'
import { friendlyError } from '@/lib/api'
import { fromInput, isDecimal, mul, normalize } from '@/lib/decimal'
import { formatDateTime } from '@/lib/format'
import type { AlertFiring, AlertKind, AlertRule, AlertRuleInput } from '@/lib/types'
import { useLoad } from '@/lib/useLoad'
import { appStore, useApp } from '@/store/store'

export default function AlertsPage() {
  return (
    <Page>
      <h1>Alerts</h1>
      <Rules />
      <HistorySection />
      <Deliveries />
    </Page>
  )
}

const KINDS: { kind: AlertKind; label: string; needs: 'symbol' | 'portfolio'; unit: string }[] = [
  { kind: 'price_above', label: 'Price rises above', needs: 'symbol', unit: 'price' },
  { kind: 'price_below', label: 'Price falls below', needs: 'symbol', unit: 'price' },
  { kind: 'percent_move', label: 'Price moves by (%)', needs: 'symbol', unit: '%' },
  { kind: 'value_drop', label: 'Portfolio value drops by (%)', needs: 'portfolio', unit: '%' },
  { kind: 'drawdown', label: 'Portfolio drawdown beyond (%)', needs: 'portfolio', unit: '%' },
  { kind: 'concentration', label: 'A holding exceeds weight (%)', needs: 'portfolio', unit: '%' },
]

function kindInfo(k: AlertKind | undefined) {
  return KINDS.find((x) => x.kind === k)
}

/** The API takes fractions for percentages; people type percent. t is fromInput's decimal. */
function toThreshold(kind: AlertKind, t: string): string {
  if (kindInfo(kind)?.unit !== '%') return t
  return normalize(mul(t, '0.01'))
}

function fromThreshold(kind: AlertKind | undefined, value: string | undefined): string {
  if (!value || !isDecimal(value)) return ''
  if (kindInfo(kind)?.unit !== '%') return value
  return normalize(mul(value, '100'))
}

function describeRule(r: AlertRule): string {
  const info = kindInfo(r.kind)
  const what = info?.label ?? r.kind ?? 'Rule'
  const subject = r.symbol ?? ''
  const thr = formatAlertValue(r.kind, r.threshold)
  return `${subject ? `${subject}: ` : ''}${what.replace(' (%)', '')} ${thr}`
}

function Rules() {
  const { api } = useServices()
  const rules = useApp((s) => s.alerts)
  const data = useLoad(async () => {
    const items = await api.listAlerts()
    appStore.getState().setAlerts(items)
    return items
  }, [api])
  return (
    <section aria-labelledby="rules-h">
      <h2 id="rules-h">Your rules</h2>
      <CreateRule />
      {data.loading && !rules ? (
        <Loading label="Loading your rules" />
      ) : data.error && !rules ? (
        <ErrorNote message={data.error} onRetry={data.reload} />
      ) : !rules || rules.length === 0 ? (
        <Empty>No alert rules yet. Create one above to hear when a price crosses a level.</Empty>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Alert rules">
          <table>
            <caption className="sr-only">Alert rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <RuleRow key={r.id} r={r} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

function RuleRow({ r }: { r: AlertRule }) {
  const { api } = useServices()
  const [editing, setEditing] = useState(false)
  const [threshold, setThreshold] = useState(fromThreshold(r.kind, r.threshold))
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = async (fn: () => Promise<AlertRule | void>, done: string) => {
    setBusy(true)
    setError(null)
    try {
      const res = await fn()
      if (res) appStore.getState().upsertAlert(res)
      appStore.getState().pushToast({ tone: 'success', text: done })
      return true
    } catch (err) {
      setError(friendlyError(err))
      return false
    } finally {
      setBusy(false)
    }
  }
  const save = async (e: FormEvent) => {
    e.preventDefault()
    const t = fromInput(threshold)
    if (!r.kind || t === null) {
      setError('Enter a number, such as 200 or 5.5, without thousands separators.')
      return
    }
    const kind = r.kind
    if (await run(() => api.updateAlert(r.id, { threshold: toThreshold(kind, t) }), 'Rule updated.')) setEditing(false)
  }
  const remove = async () => {
    if (await run(() => api.deleteAlert(r.id), 'Rule deleted.')) appStore.getState().removeAlert(r.id)
  }
  const name = describeRule(r)
  return (
    <tr data-testid="alert-rule-row" data-rule-id={r.id}>
      <td>
        {editing ? (
          <form className="row" onSubmit={save} onKeyDown={(e) => e.key === 'Escape' && setEditing(false)}>
            <label>
              New threshold for {name}
              <input inputMode="decimal" value={threshold} onChange={(e) => setThreshold(e.target.value)} autoFocus />
            </label>
            <button type="submit" className="btn-primary" disabled={busy}>
              Save
            </button>
            <button type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
        ) : (
          name
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </td>
      <td>{r.active ? (r.state?.fired ? `Fired ${formatDateTime(r.state.firedAt)}` : 'Watching') : 'Paused'}</td>
      <td>
        <div className="row">
          {!editing && (
            <button type="button" onClick={() => setEditing(true)} disabled={busy}>
              Edit<span className="sr-only"> {name}</span>
            </button>
          )}
          {r.active ? (
            <button type="button" onClick={() => run(() => api.pauseAlert(r.id), 'Rule paused.')} disabled={busy}>
              Pause<span className="sr-only"> {name}</span>
            </button>
          ) : (
            <button type="button" onClick={() => run(() => api.resumeAlert(r.id), 'Rule resumed.')} disabled={busy}>
              Resume<span className="sr-only"> {name}</span>
            </button>
          )}
          <button type="button" className="btn-danger" onClick={remove} disabled={busy}>
            Delete<span className="sr-only"> {name}</span>
          </button>
        </div>
      </td>
    </tr>
  )
}

function CreateRule() {
  const { api } = useServices()
  const portfolios = useApp((s) => s.portfolios)
  const [kind, setKind] = useState<AlertKind>('price_above')
  const [symbol, setSymbol] = useState('')
  const [portfolioId, setPortfolioId] = useState('')
  const [threshold, setThreshold] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const needs = kindInfo(kind)?.needs ?? 'symbol'
  useEffect(() => {
    if (portfolios === null) {
      api.listPortfolios().then(
        (p) => appStore.getState().setPortfolios(p),
        () => undefined,
      )
    }
  }, [api, portfolios])
  const firstPortfolio = portfolios?.find((p) => !p.archived)?.id ?? ''
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const t = fromInput(threshold)
    if (t === null) {
      setError('Enter a number, such as 200 or 5.5, without thousands separators.')
      return
    }
    const input: AlertRuleInput = { kind, threshold: toThreshold(kind, t) }
    if (needs === 'symbol') input.symbol = symbol.trim().toUpperCase()
    else input.portfolioId = portfolioId || firstPortfolio
    if (kind === 'percent_move') input.direction = 'either'
    setBusy(true)
    setError(null)
    try {
      const rule = await api.createAlert(input)
      appStore.getState().upsertAlert(rule)
      appStore.getState().pushToast({ tone: 'success', text: 'Alert rule created.' })
      setThreshold('')
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="card stack" onSubmit={submit} aria-label="Create an alert rule">
      <div className="row">
        <label>
          Alert when
          <select value={kind} onChange={(e) => setKind(e.target.value as AlertKind)}>
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {needs === 'symbol' ? (
          <label>
            Symbol
            <input required value={symbol} autoCapitalize="characters" onChange={(e) => setSymbol(e.target.value)} />
          </label>
        ) : (
          <label>
            Portfolio
            <select value={portfolioId || firstPortfolio} onChange={(e) => setPortfolioId(e.target.value)} required>
              {(portfolios ?? []).filter((p) => !p.archived).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Threshold{kindInfo(kind)?.unit === '%' ? ' (%)' : ''}
          <input required inputMode="decimal" value={threshold} onChange={(e) => setThreshold(e.target.value)} />
        </label>
        <button type="submit" className="btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create alert'}
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  )
}

function HistorySection() {
  const { api } = useServices()
  const [older, setOlder] = useState<{ items: AlertFiring[]; cursor?: string } | null>(null)
  const data = useLoad(async () => {
    const r = await api.alertHistory()
    setOlder(null)
    return r
  }, [api])
  const cursor = older ? older.cursor : data.data?.nextCursor
  const loadOlder = async () => {
    if (!cursor) return
    try {
      const r = await api.alertHistory(cursor)
      setOlder((o) => ({ items: [...(o?.items ?? []), ...(Array.isArray(r.items) ? r.items : [])], cursor: r.nextCursor }))
    } catch (err) {
      appStore.getState().pushToast({ tone: 'error', text: friendlyError(err) })
    }
  }
  const [acked, setAcked] = useState<Record<string, boolean>>({})
  const ack = async (key: string) => {
    try {
      await api.acknowledgeAlert(key)
      setAcked((a) => ({ ...a, [key]: true }))
    } catch (err) {
      appStore.getState().pushToast({ tone: 'error', text: friendlyError(err) })
    }
  }
  const items = [...(Array.isArray(data.data?.items) ? data.data.items : []), ...(older?.items ?? [])]
  return (
    <section aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      {data.loading && !data.data ? (
        <Loading label="Loading the history" />
      ) : data.error ? (
        <ErrorNote message={data.error} onRetry={data.reload} />
      ) : items.length === 0 ? (
        <Empty>No alert has fired yet.</Empty>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Alert history">
          <table>
            <caption className="sr-only">Alert history</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col" className="num">Observed</th>
                <th scope="col">Acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {items.map((f) => (
                <tr key={f.key}>
                  <td>{formatDateTime(f.firedAt)}</td>
                  <td>
                    {f.symbol ? `${f.symbol}: ` : ''}
                    {kindInfo(f.kind)?.label.replace(' (%)', '') ?? f.kind} {formatAlertValue(f.kind, f.threshold)}
                  </td>
                  <td className="num">{formatAlertValue(f.kind, f.observed)}</td>
                  <td>
                    {f.acknowledgedAt || acked[f.key] ? (
                      f.acknowledgedAt ? formatDateTime(f.acknowledgedAt) : 'Yes'
                    ) : (
                      <button type="button" onClick={() => ack(f.key)}>
                        Acknowledge<span className="sr-only"> the alert of {formatDateTime(f.firedAt)}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && !data.error && (
        <p>
          <button type="button" onClick={loadOlder}>
            Show older alerts
          </button>
        </p>
      )}
    </section>
  )
}

const STATUS_WORDS: Record<string, string> = {
  pending: 'Waiting to send',
  held: 'Held (quiet hours or digest)',
  sending: 'Sending',
  sent: 'Sent',
  failed: 'Could not be delivered',
  suppressed: 'Not sent (the address bounced, complained or unsubscribed)',
  skipped: 'Skipped (no verified address)',
}

function Deliveries() {
  const { api } = useServices()
  const data = useLoad(() => api.listNotifications(), [api])
  const items = data.data?.items ?? []
  return (
    <section aria-labelledby="deliveries-h">
      <h2 id="deliveries-h">Notifications sent</h2>
      {data.loading && !data.data ? (
        <Loading label="Loading the notifications" />
      ) : data.error ? (
        <ErrorNote message={data.error} onRetry={data.reload} />
      ) : items.length === 0 ? (
        <Empty>No notification has been sent yet.</Empty>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Notification deliveries">
          <table>
            <caption className="sr-only">Notification deliveries</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Channel</th>
                <th scope="col">About</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td>{formatDateTime(d.sentAt ?? d.createdAt)}</td>
                  <td>{d.channel === 'sms' ? 'SMS' : d.channel === 'email' ? 'E-mail' : 'In the app'}</td>
                  <td>{d.source === 'alert' ? `Alert${d.symbol ? ` on ${d.symbol}` : ''}` : d.source === 'weekly_summary' ? 'Weekly summary' : 'Phone code'}</td>
                  {/* The provider's error text (an SES or SNS message, an error code) means nothing to a
                      person: the status says what happened; the text stays at hand for whoever looks. */}
                  <td title={d.lastError || undefined}>{STATUS_WORDS[d.status] ?? 'Unknown'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
