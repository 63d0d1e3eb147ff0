// The app's state: portfolios, positions, live prices and valuations, alert rules and toasts,
// fed by the HTTP API (set*) and the WebSocket (applyMessage). A vanilla Zustand store, so the
// unit tests drive it without React; useApp reads it from components.

import { createStore } from 'zustand/vanilla'
import { useStore } from 'zustand'
import { add, compare, isDecimal, mul, percentOf, sub, sum } from '@/lib/decimal'
import { formatAlertValue } from '@/lib/alertValues'
import { formatMoney } from '@/lib/format'
import type { AlertFiringPush, AlertRule, Portfolio, Position, Positions, Quote, ServerMessage, Totals, ValuationMessage } from '@/lib/types'
import type { LiveStatus } from '@/lib/ws'

export interface Toast {
  id: string
  tone: 'info' | 'success' | 'error' | 'alert'
  text: string
}

export interface LiveValue {
  value: string
  asOf: string
  currency?: string
  unrealizedPnL?: string
  /** the positions' version the value reflects (a pushed valuation keeps the one before it) */
  version?: number
}

export interface AppState {
  portfolios: Portfolio[] | null
  positions: Record<string, Positions>
  live: Record<string, LiveValue>
  quotes: Record<string, Quote>
  alerts: AlertRule[] | null
  toasts: Toast[]
  liveStatus: LiveStatus
  setPortfolios(p: Portfolio[]): void
  upsertPortfolio(p: Portfolio): void
  setPositions(p: Positions): void
  setAlerts(a: AlertRule[]): void
  upsertAlert(a: AlertRule): void
  removeAlert(id: string): void
  applyMessage(m: ServerMessage): void
  pushToast(t: Omit<Toast, 'id'> & { id?: string }): void
  dismissToast(id: string): void
  setLiveStatus(s: LiveStatus): void
  reset(): void
}

const MAX_TOASTS = 5
let toastSeq = 0

const empty = {
  portfolios: null,
  positions: {},
  live: {},
  quotes: {},
  alerts: null,
  toasts: [],
  liveStatus: 'idle' as LiveStatus,
}

export function createAppStore() {
  return createStore<AppState>()((set, get) => ({
    ...empty,
    setPortfolios: (portfolios) => set({ portfolios }),
    upsertPortfolio: (p) =>
      set((s) => {
        const list = s.portfolios ?? []
        const i = list.findIndex((x) => x.id === p.id)
        return { portfolios: i < 0 ? [...list, p] : list.map((x) => (x.id === p.id ? { ...x, ...p } : x)) }
      }),
    setPositions: (raw) =>
      set((s) => {
        const p = checkedPositions(raw)
        if (!p) return {}
        const positions = { ...s.positions, [p.portfolioId]: p }
        const value = p.totals?.marketValue
        if (!value) return { positions }
        const prev = s.live[p.portfolioId]
        const newestPrice = p.positions.reduce((m, x) => (x.priceAsOf && x.priceAsOf > m ? x.priceAsOf : m), '')
        // A valuation pushed after these positions' newest price is newer, unless the
        // positions carry a later command (a trade changes the holdings, not the prices).
        const newerCommand = p.asOfVersion !== undefined && (prev?.version === undefined || p.asOfVersion > prev.version)
        if (prev && !newerCommand && newestPrice && Date.parse(prev.asOf) > Date.parse(newestPrice)) return { positions }
        return {
          positions,
          live: {
            ...s.live,
            [p.portfolioId]: { value, asOf: newestPrice, currency: p.baseCurrency, unrealizedPnL: p.totals?.unrealizedPnL, version: p.asOfVersion },
          },
        }
      }),
    setAlerts: (alerts) => set({ alerts }),
    upsertAlert: (a) =>
      set((s) => {
        const list = s.alerts ?? []
        return { alerts: list.some((x) => x.id === a.id) ? list.map((x) => (x.id === a.id ? a : x)) : [...list, a] }
      }),
    removeAlert: (id) => set((s) => ({ alerts: (s.alerts ?? []).filter((x) => x.id !== id) })),
    applyMessage: (m) => {
      switch (m.type) {
        case 'price':
          set((s) => applyQuotes(s, m.quotes))
          return
        case 'valuation':
          set((s) => applyValuation(s, m))
          return
        case 'alert':
          if (!m.firing || typeof m.firing !== 'object' || typeof m.firing.key !== 'string') return
          get().pushToast({ id: `alert:${m.firing.key}`, tone: 'alert', text: describeFiring(m.firing) })
          return
        default:
          return
      }
    },
    pushToast: (t) =>
      set((s) => {
        const id = t.id ?? `t${++toastSeq}`
        if (s.toasts.some((x) => x.id === id)) return {}
        return { toasts: [...s.toasts, { id, tone: t.tone, text: t.text }].slice(-MAX_TOASTS) }
      }),
    dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
    setLiveStatus: (liveStatus) => set({ liveStatus }),
    reset: () => set({ ...empty }),
  }))
}

const POSITION_DECIMALS = [
  'costBasis',
  'averagePrice',
  'realizedPnL',
  'marketPrice',
  'marketValue',
  'unrealizedPnL',
  'previousClose',
  'dayChange',
  'dayChangeRatio',
  'weight',
] as const satisfies readonly (keyof Position)[]
const TOTAL_DECIMALS = ['costBasis', 'marketValue', 'unrealizedPnL', 'realizedPnL', 'cash', 'cashValue', 'dividends', 'fees', 'dayChange', 'dayChangeRatio'] as const satisfies readonly (keyof Totals)[]

/** decimalOrNone keeps a decimal string and drops anything else (a number, null, "NaN"). */
function decimalOrNone(v: unknown): string | undefined {
  return typeof v === 'string' && isDecimal(v) ? v : undefined
}

/**
 * checkedPositions is the positions answer as the pages may trust it: the arithmetic on it
 * (holdingViews, the header's P&L) throws on anything but decimal strings, so a field that is
 * not one is dropped, and a position without a symbol or a decimal quantity is left out;
 * null when the answer is not a portfolio's positions at all.
 */
export function checkedPositions(raw: Positions): Positions | null {
  if (!raw || typeof raw !== 'object' || typeof raw.portfolioId !== 'string' || !raw.portfolioId) return null
  const positions: Position[] = []
  for (const x of Array.isArray(raw.positions) ? raw.positions : []) {
    if (!x || typeof x !== 'object' || typeof x.symbol !== 'string' || !x.symbol) continue
    const quantity = decimalOrNone(x.quantity)
    if (quantity === undefined) continue
    const clean: Position = { ...x, quantity }
    for (const k of POSITION_DECIMALS) clean[k] = decimalOrNone(x[k])
    if (typeof clean.currency !== 'string') clean.currency = undefined
    if (typeof clean.priceAsOf !== 'string') clean.priceAsOf = undefined
    positions.push(clean)
  }
  let totals: Totals | undefined
  if (raw.totals && typeof raw.totals === 'object') {
    totals = { ...raw.totals }
    for (const k of TOTAL_DECIMALS) totals[k] = decimalOrNone(raw.totals[k])
    if (!Array.isArray(totals.unpriced)) totals.unpriced = undefined
  }
  return {
    ...raw,
    baseCurrency: typeof raw.baseCurrency === 'string' ? raw.baseCurrency : '',
    asOfVersion: typeof raw.asOfVersion === 'number' ? raw.asOfVersion : undefined,
    positions,
    totals,
  }
}

function applyQuotes(s: AppState, quotes: Quote[] | undefined): Partial<AppState> {
  if (!Array.isArray(quotes) || quotes.length === 0) return {}
  const next = { ...s.quotes }
  for (const q of quotes) {
    if (!q || !q.symbol || !isDecimal(q.price)) continue
    const prev = next[q.symbol]
    if (prev && Date.parse(prev.asOf) > Date.parse(q.asOf)) continue // out of order
    next[q.symbol] = q
  }
  return { quotes: next }
}

function applyValuation(s: AppState, m: ValuationMessage): Partial<AppState> {
  if (!m.portfolioId || !isDecimal(m.marketValue)) return {}
  const prev = s.live[m.portfolioId]
  if (prev?.asOf && Date.parse(prev.asOf) > Date.parse(m.asOf)) return {}
  return {
    live: {
      ...s.live,
      [m.portfolioId]: {
        value: m.marketValue,
        asOf: m.asOf,
        currency: m.currency ?? prev?.currency,
        unrealizedPnL: decimalOrNone(m.unrealizedPnL),
        version: prev?.version,
      },
    },
  }
}

const KIND_WORDS: Record<string, string> = {
  price_above: 'rose above',
  price_below: 'fell below',
  percent_move: 'moved by',
  weight_drift: 'drifted from its target weight by',
  value_drop: 'dropped by',
  drawdown: 'is in a drawdown beyond',
  var_breach: 'breached its value at risk of',
  concentration: 'is concentrated beyond',
}

/** describeFiring is the toast's sentence for an alert pushed on the WebSocket. */
export function describeFiring(f: AlertFiringPush): string {
  const subject = f.symbol ?? 'Your portfolio'
  const words = KIND_WORDS[f.kind] ?? 'crossed'
  const threshold = formatAlertValue(f.kind, f.threshold)
  const observed = formatAlertValue(f.kind, f.observed)
  return `Alert: ${subject} ${words} ${threshold} (now ${observed}).`
}

export interface HoldingView {
  symbol: string
  quantity: string
  averagePrice?: string
  price?: string
  value?: string
  dayChange?: string
  unrealizedPnL?: string
  realizedPnL?: string
  weight?: string
  currency?: string
}

/**
 * holdingViews joins the positions with the newest quotes: a holding traded in the base
 * currency is revalued at the quote (quantity × price, exactly); one in another currency keeps
 * the server's base value (the rate is the server's), its price still live. Weights are of the
 * holdings' total value.
 */
export function holdingViews(p: Positions | undefined, quotes: Record<string, Quote>): HoldingView[] {
  if (!p) return []
  const rows = p.positions
    .filter((x) => x.quantity && compare(x.quantity, '0') !== 0)
    .map((x) => holdingView(x, quotes[x.symbol], p.baseCurrency))
  const total = sum(rows.map((r) => r.value ?? '0'))
  return rows.map((r) => ({ ...r, weight: r.value && compare(total, '0') !== 0 ? (percentOf(r.value, total, 2) ?? undefined) : undefined }))
}

function holdingView(x: Position, q: Quote | undefined, base: string): HoldingView {
  const ccy = x.currency ?? base
  const inBase = ccy === base
  const price = q?.price ?? x.marketPrice
  let value = x.marketValue
  let unrealized = x.unrealizedPnL
  if (q && inBase && isDecimal(q.price)) {
    value = mul(x.quantity, q.price)
    if (x.costBasis) unrealized = sub(value, x.costBasis)
  }
  const prevClose = q?.previousClose ?? x.previousClose
  let dayChange = x.dayChange
  if (price && prevClose && isDecimal(prevClose) && inBase) dayChange = mul(x.quantity, sub(price, prevClose))
  return {
    symbol: x.symbol,
    quantity: x.quantity,
    averagePrice: x.averagePrice,
    price,
    value,
    dayChange,
    unrealizedPnL: unrealized,
    realizedPnL: x.realizedPnL,
    currency: ccy,
  }
}

/** dayChangeTotal sums the holdings' day changes; undefined when none is known. */
export function dayChangeTotal(rows: HoldingView[]): string | undefined {
  const known = rows.filter((r) => r.dayChange)
  if (known.length === 0) return undefined
  return known.reduce((acc, r) => add(acc, r.dayChange ?? '0'), '0')
}

/** moneyOr formats an amount or says it is unknown. */
export function moneyOr(v: string | undefined, ccy: string, locale?: string): string {
  return formatMoney(v, ccy, { locale })
}

export const appStore = createAppStore()

export function useApp<T>(selector: (s: AppState) => T): T {
  return useStore(appStore, selector)
}
