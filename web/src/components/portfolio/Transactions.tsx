'use client'

// A portfolio's transactions: the list (voided ones struck through), a form that records one,
// voiding with a reason, and importing a Ghostfolio JSON or CSV export with a preview of every
// row (and every row's error) before anything is written.

import { useRef, useState, type FormEvent } from 'react'
import { useServices } from '../AppProvider'
import { Empty, ErrorNote, Loading } from '../Shell'
import { friendlyError, newIdempotencyKey, type ImportFile } from '@/lib/api'
import { fromInput, isDecimal } from '@/lib/decimal'
import { formatDate, formatMoney, formatNumber } from '@/lib/format'
import { TX_TYPES, type ImportPreview, type ImportPreviewRow, type Transaction, type TransactionInput, type TxType } from '@/lib/types'
import { useLoad } from '@/lib/useLoad'
import { appStore } from '@/store/store'

const TRADES: TxType[] = ['BUY', 'SELL']
const CASH: TxType[] = ['DIVIDEND', 'INTEREST', 'FEE', 'DEPOSIT', 'WITHDRAWAL']
const TYPE_WORDS: Record<TxType, string> = {
  BUY: 'Buy',
  SELL: 'Sell',
  DIVIDEND: 'Dividend',
  INTEREST: 'Interest',
  FEE: 'Fee',
  DEPOSIT: 'Deposit',
  WITHDRAWAL: 'Withdrawal',
  SPLIT: 'Split',
  CONVERSION: 'Conversion',
}

function today(): string {
  return new Date().toISOString().slice(0, 10)
}

export function TransactionsPanel({ id, base, onChanged }: { id: string; base: string; onChanged: () => void }) {
  const { api } = useServices()
  const [version, setVersion] = useState(0)
  const [more, setMore] = useState<{ items: Transaction[]; cursor?: string }>({ items: [] })
  const list = useLoad(async () => {
    const r = await api.listTransactions(id, { includeVoided: true, limit: 100 })
    setMore({ items: [], cursor: r.nextCursor })
    return r
  }, [api, id, version])
  const changed = () => {
    setVersion((v) => v + 1)
    onChanged()
  }
  const loadMore = async () => {
    if (!more.cursor) return
    try {
      const r = await api.listTransactions(id, { includeVoided: true, limit: 100, cursor: more.cursor })
      setMore((m) => ({ items: [...m.items, ...r.items], cursor: r.nextCursor }))
    } catch (err) {
      appStore.getState().pushToast({ tone: 'error', text: friendlyError(err) })
    }
  }
  const items = [...(list.data?.items ?? []), ...more.items]
  return (
    <>
      <AddTransaction id={id} base={base} onDone={changed} />
      <ImportTransactions id={id} base={base} onDone={changed} />
      <section aria-labelledby="tx-h">
        <h2 id="tx-h">History</h2>
        {list.loading && !list.data ? (
          <Loading label="Loading the transactions" />
        ) : list.error ? (
          <ErrorNote message={list.error} onRetry={list.reload} />
        ) : items.length === 0 ? (
          <Empty>No transactions yet. Record one above or import a file.</Empty>
        ) : (
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Transactions">
            <table>
              <caption className="sr-only">Transactions</caption>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Type</th>
                  <th scope="col">Symbol</th>
                  <th scope="col" className="num">Quantity</th>
                  <th scope="col" className="num">Price</th>
                  <th scope="col" className="num">Amount</th>
                  <th scope="col" className="num">Fee</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {items.map((t) => (
                  <TxRow key={t.transactionId} id={id} t={t} base={base} onVoided={changed} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {more.cursor && (
          <p>
            <button type="button" onClick={loadMore}>
              Show older transactions
            </button>
          </p>
        )}
      </section>
    </>
  )
}

function TxRow({ id, t, base, onVoided }: { id: string; t: Transaction; base: string; onVoided: () => void }) {
  const { api } = useServices()
  const [voiding, setVoiding] = useState(false)
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const ccy = t.currency ?? base
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api.voidTransaction(id, t.transactionId, reason.trim())
      appStore.getState().pushToast({ tone: 'success', text: 'Transaction voided.' })
      setVoiding(false)
      onVoided()
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <tr data-testid="transaction-row" data-tx-id={t.transactionId} className={t.voided ? 'voided' : undefined}>
        <td>{formatDate(t.date)}</td>
        <td>{TYPE_WORDS[t.type] ?? t.type}</td>
        <td>{t.symbol ?? '—'}</td>
        <td className="num">{formatNumber(t.quantity)}</td>
        <td className="num">{t.price ? formatMoney(t.price, ccy) : '—'}</td>
        <td className="num">{t.amount ? formatMoney(t.amount, ccy) : '—'}</td>
        <td className="num">{t.fee ? formatMoney(t.fee, ccy) : '—'}</td>
        <td>
          {t.voided ? (
            <span title={t.voidReason}>Voided{t.voidReason ? `: ${t.voidReason}` : ''}</span>
          ) : (
            <button type="button" className="btn-quiet" aria-expanded={voiding} onClick={() => setVoiding((v) => !v)}>
              Void<span className="sr-only"> the {TYPE_WORDS[t.type]} of {formatDate(t.date)}</span>
            </button>
          )}
        </td>
      </tr>
      {voiding && (
        <tr>
          <td colSpan={8}>
            <form className="row" onSubmit={submit} onKeyDown={(e) => e.key === 'Escape' && setVoiding(false)}>
              <label>
                Reason for voiding
                <input required maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
              </label>
              <button type="submit" className="btn-danger" disabled={busy || !reason.trim()}>
                {busy ? 'Voiding…' : 'Void transaction'}
              </button>
              <button type="button" onClick={() => setVoiding(false)}>
                Cancel
              </button>
              {error && (
                <p role="alert" className="error">
                  {error}
                </p>
              )}
            </form>
          </td>
        </tr>
      )}
    </>
  )
}

interface TxForm {
  type: TxType
  date: string
  symbol: string
  quantity: string
  price: string
  amount: string
  fee: string
  currency: string
  ratio: string
  note: string
}

/**
 * toInput builds the API's input from the form, leaving out what the type does not take. A
 * number that does not read as one (fromInput) is passed on as typed, for submit to refuse.
 */
export function toInput(f: TxForm): TransactionInput {
  const dec = (s: string) => fromInput(s) ?? s.trim()
  const input: TransactionInput = { type: f.type, date: f.date }
  if (f.symbol.trim()) input.symbol = f.symbol.trim().toUpperCase()
  if (TRADES.includes(f.type)) {
    input.quantity = dec(f.quantity)
    input.price = dec(f.price)
  } else if (CASH.includes(f.type)) {
    input.amount = dec(f.amount)
  } else if (f.type === 'SPLIT') {
    input.ratio = f.ratio.trim()
  }
  if (f.fee.trim()) input.fee = dec(f.fee)
  if (f.currency.trim()) input.currency = f.currency.trim()
  if (f.note.trim()) input.note = f.note.trim()
  return input
}

function AddTransaction({ id, base, onDone }: { id: string; base: string; onDone: () => void }) {
  const { api } = useServices()
  const blank: TxForm = { type: 'BUY', date: today(), symbol: '', quantity: '', price: '', amount: '', fee: '', currency: '', ratio: '', note: '' }
  const [f, setF] = useState<TxForm>(blank)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [key, setKey] = useState(newIdempotencyKey)
  const set = (patch: Partial<TxForm>) => setF((x) => ({ ...x, ...patch }))
  const trade = TRADES.includes(f.type)
  const cash = CASH.includes(f.type)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const input = toInput(f)
    for (const [k, v] of Object.entries({ quantity: input.quantity, price: input.price, amount: input.amount, fee: input.fee })) {
      if (v !== undefined && !isDecimal(v)) {
        setError(`The ${k} must be a number, such as 1250 or 12.5, without thousands separators.`)
        return
      }
    }
    setBusy(true)
    setError(null)
    try {
      await api.recordTransaction(id, input, key)
      appStore.getState().pushToast({ tone: 'success', text: `${TYPE_WORDS[f.type]} recorded.` })
      setF({ ...blank, type: f.type, date: f.date })
      setKey(newIdempotencyKey())
      onDone()
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="add-h">
      <h2 id="add-h">Record a transaction</h2>
      <form className="card stack" onSubmit={submit}>
        <div className="row">
          <label>
            Type
            <select value={f.type} onChange={(e) => set({ type: e.target.value as TxType })}>
              {TX_TYPES.filter((t) => t !== 'CONVERSION').map((t) => (
                <option key={t} value={t}>
                  {TYPE_WORDS[t]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Date
            <input type="date" required value={f.date} max={today()} onChange={(e) => set({ date: e.target.value })} />
          </label>
          {(trade || f.type === 'DIVIDEND' || f.type === 'SPLIT') && (
            <label>
              Symbol
              <input required={trade || f.type === 'SPLIT'} value={f.symbol} autoCapitalize="characters" onChange={(e) => set({ symbol: e.target.value })} />
            </label>
          )}
        </div>
        <div className="row">
          {trade && (
            <>
              <label>
                Quantity
                <input required inputMode="decimal" value={f.quantity} onChange={(e) => set({ quantity: e.target.value })} />
              </label>
              <label>
                Price per share
                <input required inputMode="decimal" value={f.price} onChange={(e) => set({ price: e.target.value })} />
              </label>
            </>
          )}
          {cash && (
            <label>
              Amount
              <input required inputMode="decimal" value={f.amount} onChange={(e) => set({ amount: e.target.value })} />
            </label>
          )}
          {f.type === 'SPLIT' && (
            <label>
              Ratio (new:old, e.g. 4:1)
              <input required pattern="[1-9][0-9]*:[1-9][0-9]*" value={f.ratio} onChange={(e) => set({ ratio: e.target.value })} />
            </label>
          )}
          {f.type !== 'SPLIT' && (
            <label>
              Fee (optional)
              <input inputMode="decimal" value={f.fee} onChange={(e) => set({ fee: e.target.value })} />
            </label>
          )}
          <label>
            Currency (default {base})
            <input value={f.currency} maxLength={3} placeholder={base} onChange={(e) => set({ currency: e.target.value })} />
          </label>
        </div>
        <label>
          Note (optional)
          <input maxLength={500} value={f.note} onChange={(e) => set({ note: e.target.value })} />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <div>
          <button type="submit" className="btn-primary" disabled={busy}>
            {busy ? 'Recording…' : 'Record transaction'}
          </button>
        </div>
      </form>
    </section>
  )
}

/** previewStatus says what the import would do with a row. */
export function previewStatus(r: ImportPreviewRow, rows: ImportPreviewRow[]): string {
  if (r.status === 'error') return `Error: ${r.message ?? 'not valid'}`
  const lineOf = (index: number) => rows.find((x) => x.index === index)?.line ?? index + 1
  if (r.voids !== undefined) return `Voids row ${lineOf(r.voids)}`
  if (r.voidedBy !== undefined) return `Voided by row ${lineOf(r.voidedBy)}`
  return 'Ready'
}

function ImportTransactions({ id, base, onDone }: { id: string; base: string; onDone: () => void }) {
  const { api } = useServices()
  const input = useRef<HTMLInputElement>(null)
  const [file, setFile] = useState<ImportFile | null>(null)
  const [preview, setPreview] = useState<ImportPreview | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [key, setKey] = useState(newIdempotencyKey)
  const choose = async (f: File | undefined) => {
    setPreview(null)
    setError(null)
    if (!f) return
    if (f.size > 5 * 1024 * 1024) {
      setError('That file is too large (5 MB at most).')
      return
    }
    const picked = { name: f.name, text: await f.text() }
    setFile(picked)
    setKey(newIdempotencyKey())
    setBusy(true)
    try {
      setPreview(await api.previewImport(id, picked))
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  const commit = async () => {
    if (!file) return
    setBusy(true)
    setError(null)
    try {
      await api.importActivities(id, file, key)
      appStore.getState().pushToast({ tone: 'success', text: `Imported ${preview?.valid ?? ''} transactions.`.replace('  ', ' ') })
      setFile(null)
      setPreview(null)
      if (input.current) input.current.value = ''
      onDone()
    } catch (err) {
      setError(friendlyError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section aria-labelledby="import-h">
      <h2 id="import-h">Import a file</h2>
      <div className="card stack">
        <label>
          Ghostfolio export (JSON or CSV)
          <input ref={input} type="file" accept=".json,.csv,application/json,text/csv" onChange={(e) => void choose(e.target.files?.[0])} />
        </label>
        {busy && !preview && <Loading label="Checking the file" />}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {preview && (
          <>
            <p>
              {preview.valid} {preview.valid === 1 ? 'row is' : 'rows are'} ready to import
              {preview.invalid > 0 ? `; ${preview.invalid} ${preview.invalid === 1 ? 'has an error' : 'have errors'} — fix the file and choose it again.` : '.'}
            </p>
            <div className="table-wrap" tabIndex={0} role="region" aria-label="Import preview">
              <table data-testid="import-preview">
                <caption className="sr-only">Import preview</caption>
                <thead>
                  <tr>
                    <th scope="col">Row</th>
                    <th scope="col">Status</th>
                    <th scope="col">Type</th>
                    <th scope="col">Symbol</th>
                    <th scope="col">Date</th>
                    <th scope="col" className="num">Quantity</th>
                    <th scope="col" className="num">Price</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.rows.map((r) => (
                    <tr key={r.index} className={r.status === 'error' ? 'row-error' : undefined}>
                      <td>{r.line ?? r.index + 1}</td>
                      <td>{previewStatus(r, preview.rows)}</td>
                      <td>{r.transaction?.type ?? '—'}</td>
                      <td>{r.transaction?.symbol ?? '—'}</td>
                      <td>{r.transaction?.date ?? '—'}</td>
                      <td className="num">{formatNumber(r.transaction?.quantity)}</td>
                      <td className="num">{r.transaction?.price ? formatMoney(r.transaction.price, r.transaction.currency ?? base) : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div>
              <button type="button" className="btn-primary" onClick={commit} disabled={busy || preview.invalid > 0 || preview.valid === 0}>
                {busy ? 'Importing…' : `Import ${preview.valid} ${preview.valid === 1 ? 'transaction' : 'transactions'}`}
              </button>
            </div>
          </>
        )}
      </div>
    </section>
  )
}
