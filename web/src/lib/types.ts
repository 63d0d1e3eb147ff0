// The API's shapes (shared/adapters/httpapi/openapi.json), as the pages use them. Decimals are
// strings end to end.

export type Decimal = string

export interface CommandResult<T> {
  version: number
  replayed: boolean
  data: T
}

export interface Settings {
  benchmark?: string
  wholeShares?: boolean
  minTradeValue?: Decimal
}

export interface Portfolio {
  id: string
  name: string
  description?: string
  baseCurrency: string
  lotMethod?: string
  archived?: boolean
  createdAt?: string
  updatedAt?: string
  version?: number
  settings?: Settings
}

export type TxType = 'BUY' | 'SELL' | 'DIVIDEND' | 'INTEREST' | 'FEE' | 'DEPOSIT' | 'WITHDRAWAL' | 'SPLIT' | 'CONVERSION'
export const TX_TYPES: readonly TxType[] = ['BUY', 'SELL', 'DIVIDEND', 'INTEREST', 'FEE', 'DEPOSIT', 'WITHDRAWAL', 'SPLIT', 'CONVERSION']

export interface TransactionInput {
  type: TxType
  date: string
  symbol?: string
  quantity?: Decimal
  price?: Decimal
  amount?: Decimal
  fee?: Decimal
  tax?: Decimal
  currency?: string
  ratio?: string
  note?: string
}

export interface Transaction extends TransactionInput {
  transactionId: string
  portfolioId?: string
  seq?: number
  voided?: boolean
  voidReason?: string
  voidedAt?: string
  recordedAt?: string
  version?: number
}

export interface Position {
  symbol: string
  quantity: Decimal
  costBasis?: Decimal
  averagePrice?: Decimal
  realizedPnL?: Decimal
  marketPrice?: Decimal
  priceAsOf?: string
  marketValue?: Decimal
  unrealizedPnL?: Decimal
  currency?: string
  /** the previous close, when the API gives it (for the day change) */
  previousClose?: Decimal
  previousCloseDate?: string
  /** the move since previousClose, in the base */
  dayChange?: Decimal
  dayChangeRatio?: Decimal
  /** share of the priced positions' value, a fraction */
  weight?: Decimal
}

export interface Totals {
  costBasis?: Decimal
  marketValue?: Decimal
  unrealizedPnL?: Decimal
  realizedPnL?: Decimal
  cash?: Decimal
  cashValue?: Decimal
  dividends?: Decimal
  fees?: Decimal
  dayChange?: Decimal
  dayChangeRatio?: Decimal
  unpriced?: string[]
}

export interface Positions {
  portfolioId: string
  baseCurrency: string
  asOfVersion?: number
  stale?: boolean
  positions: Position[]
  totals?: Totals
}

export interface Metric {
  value: number | null
  reason?: string
}

export interface Performance {
  asOf: string
  from?: string | null
  to?: string | null
  totalReturn?: Metric
  twr?: { period?: Metric; annualized?: Metric }
  mwr?: { period?: Metric; annualized?: Metric }
  volatility?: { annualized?: Metric }
  sharpe?: Metric
  sortino?: Metric
  maxDrawdown?: { value?: Metric }
  benchmark?: { symbol?: string; return?: Metric; beta?: Metric; alpha?: Metric; correlation?: Metric }
  warnings?: string[]
}

export interface Risk {
  asOf: string
  valueAtRisk?: { historical95?: { var?: Metric; cvar?: Metric } }
  diversification?: { holdings?: number; effectiveHoldings?: Metric; largestWeight?: Metric; largestSymbol?: string }
  warnings?: string[]
}

export interface HistoryPoint {
  date: string
  /** end-of-day value (12 significant digits: for drawing, not for money) */
  value: Decimal
  /** time-weighted return from the range's first day (0.1 = +10%) */
  return?: number
  /** with ?benchmark=: the benchmark's return over the same days */
  benchmarkReturn?: number
}

export interface ValueHistory {
  from?: string
  to?: string
  benchmark?: string
  series?: HistoryPoint[]
}

export interface RebalanceTrade {
  symbol: string
  side: 'BUY' | 'SELL'
  quantity: Decimal
  price?: Decimal
  estimatedValue?: Decimal
  purpose?: string
}

export interface Rebalancing {
  asOf?: string
  plan?: {
    error?: string
    totalValue?: Decimal
    trades?: RebalanceTrade[]
    positions?: { symbol: string; target?: Decimal; weightBefore?: Decimal; weightAfter?: Decimal }[]
    allInBand?: boolean
  }
}

export interface Targets {
  targets?: { symbol: string; weight: Decimal }[]
  driftBand?: Decimal
  stale?: boolean
}

export type AlertKind =
  | 'price_above'
  | 'price_below'
  | 'percent_move'
  | 'weight_drift'
  | 'value_drop'
  | 'drawdown'
  | 'var_breach'
  | 'concentration'

export type Channel = 'email' | 'sms' | 'websocket'

export interface AlertRuleInput {
  kind: AlertKind
  symbol?: string
  portfolioId?: string
  threshold: Decimal
  direction?: 'up' | 'down' | 'either'
  window?: string
  channels?: Channel[]
  active?: boolean
}

export interface AlertRule extends Partial<AlertRuleInput> {
  id: string
  active: boolean
  createdAt: string
  pausedAt?: string
  state?: { fired?: boolean; firedAt?: string }
}

export interface AlertFiring {
  key: string
  ruleId: string
  kind: AlertKind
  symbol?: string
  portfolioId?: string
  observed: Decimal
  threshold: Decimal
  firedAt: string
  acknowledgedAt: string | null
}

export interface NotificationDelivery {
  id: number
  source: string
  channel: Channel
  status: string
  kind?: string
  symbol?: string
  attempts: number
  sentAt?: string
  lastError?: string
  createdAt: string
}

export interface NotificationPreferences {
  channels?: Channel[]
  quietHours?: { start: string; end: string } | null
  digest?: 'off' | 'daily' | 'weekly'
  digestAt?: string
  weeklySummary?: boolean
}

export interface Me {
  userId: string
  email: string
  emailVerified: boolean
  phone: string | null
  phoneVerified: boolean
  displayName: string
  timeZone: string
  locale: string
  baseCurrency: string
  notifications: NotificationPreferences
}

export interface MePatch {
  displayName?: string | null
  timeZone?: string | null
  locale?: string | null
  baseCurrency?: string | null
  notifications?: NotificationPreferences | null
}

/** A row of POST /portfolios/{id}/import/preview. */
export interface ImportPreviewRow {
  index: number
  line?: number
  status: 'ok' | 'error'
  message?: string
  transaction?: Record<string, string | undefined>
  /** a VOID row: the index of the row it removes */
  voids?: number
  /** a row a VOID removes: the index of the VOID */
  voidedBy?: number
}

export interface ImportPreview {
  rows: ImportPreviewRow[]
  valid: number
  invalid: number
}

// WebSocket messages (functions/ws, shared/app/pricing).
export interface Quote {
  symbol: string
  price: Decimal
  asOf: string
  previousClose?: Decimal
  currency?: string
}

export interface ValuationMessage {
  type: 'valuation'
  portfolioId: string
  marketValue: Decimal
  asOf: string
  costBasis?: Decimal
  unrealizedPnL?: Decimal
  currency?: string
  unpriced?: string[]
}

export interface AlertFiringPush {
  key: string
  ruleId: string
  kind: AlertKind
  symbol?: string
  portfolioId?: string
  observed: Decimal
  threshold: Decimal
  at: string
}

export type ServerMessage =
  | { type: 'price'; quotes: Quote[] }
  | ValuationMessage
  | { type: 'alert'; firing: AlertFiringPush }
  | { type: 'subscribed'; portfolioIds?: string[]; symbols?: string[] }
  | { type: 'unsubscribed' }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string }
