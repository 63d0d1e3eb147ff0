// The typed HTTP API client. Every request carries the session's Bearer token; every command an
// Idempotency-Key (a retry of the same call reuses it, so a lost answer never records twice);
// after a command on a portfolio, its queries carry ?minVersion= the version the command
// returned, so the next read shows the write (docs/architecture.md §10 "Read-your-writes").
// Errors arrive as {"error":{code,message,details}} and become an ApiError whose friendly
// text a person can read.

import type {
  AlertFiring,
  AlertRule,
  AlertRuleInput,
  CommandResult,
  ImportPreview,
  Me,
  MePatch,
  NotificationDelivery,
  Performance,
  Portfolio,
  Positions,
  Rebalancing,
  Risk,
  Settings,
  Targets,
  Transaction,
  TransactionInput,
  ValueHistory,
} from './types'

const FRIENDLY: Record<string, string> = {
  unauthorized: 'Your session has ended. Please sign in again.',
  not_found: 'We could not find that. It may have been deleted.',
  version_conflict: 'Someone changed this at the same time. Please reload and try again.',
  portfolio_archived: 'This portfolio is archived and cannot be changed.',
  insufficient_holdings: 'You cannot sell more than you hold on that date.',
  currency_mismatch: "This symbol's trades are in another currency.",
  fx_rate_required: 'We have no exchange rate for that date. Please enter the rate.',
  payload_too_large: 'That file is too large.',
  unsupported_media_type: 'That file type is not supported. Use a Ghostfolio JSON or CSV export.',
  too_many_requests: 'Too many requests. Please wait a moment and try again.',
  quota_exceeded: 'You have reached the limit for this. Please try again later.',
  unavailable: 'This is not ready yet. Please try again in a moment.',
  not_computed: 'These figures have not been computed yet. They appear after the next price update.',
  internal_error: 'Something went wrong on our side. Please try again.',
  idempotency_key_reused: 'This request was already sent with different content. Please try again.',
  wrong_code: 'That code is not right. Please check it and try again.',
  code_expired: 'That code has expired. Please ask for a new one.',
  network: 'We cannot reach the server. Check your connection and try again.',
  bad_response: 'The server sent an answer we could not read. Please try again in a moment.',
}

/** ApiError is a refused or failed request; friendly is the text to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }

  /** friendly says what went wrong in words a person understands, with field details when given. */
  get friendly(): string {
    const base =
      this.code === 'validation_failed' || this.code === 'bad_request' || this.code === 'import_rejected'
        ? sentence(this.message)
        : (FRIENDLY[this.code] ?? sentence(this.message))
    const fields = describeDetails(this.details)
    return fields ? `${base} ${fields}` : base
  }
}

function sentence(s: string): string {
  if (!s) return 'Something went wrong. Please try again.'
  const t = s.charAt(0).toUpperCase() + s.slice(1)
  return /[.!?]$/.test(t) ? t : `${t}.`
}

function describeDetails(details: unknown): string {
  if (!details || typeof details !== 'object') return ''
  const d = details as Record<string, unknown>
  if (typeof d.field === 'string' && typeof d.reason === 'string') return `(${d.field}: ${d.reason})`
  if (Array.isArray(d.errors)) {
    return d.errors
      .slice(0, 5)
      .map((e) => (e && typeof e === 'object' ? Object.values(e as object).join(': ') : String(e)))
      .join('; ')
  }
  return ''
}

/**
 * friendlyError turns anything thrown into text for the page. Only the API's errors have
 * words for people; anything else (a TypeError from an answer of the wrong shape, a parse
 * error) is a fault whose own message means nothing to them.
 */
export function friendlyError(err: unknown): string {
  if (err instanceof ApiError) return err.friendly
  return 'Something went wrong. Please try again.'
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  /** a raw body (a CSV file) and its content type */
  raw?: { body: string; contentType: string }
  /** a command: sends an Idempotency-Key */
  command?: boolean
  idempotencyKey?: string
  signal?: AbortSignal
}

/** The waits before asking a stale query again (the API has already waited up to a second). */
const STALE_RETRIES = [250, 500, 1000, 2000]

/** isNotYet reports a figure or history the API has no answer for yet (a new portfolio). */
export function isNotYet(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || err.code === 'unavailable' || err.code === 'not_computed')
}

export type TokenSource = () => Promise<string | null>

export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID()
}

export class ApiClient {
  /** the newest version each portfolio's commands returned, for ?minVersion= */
  private readonly versions = new Map<string, number>()

  constructor(
    private readonly baseUrl: string,
    private readonly token: TokenSource,
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
    /** called on a 401: refreshes the session; true when the request is worth one more try */
    private readonly onUnauthorized: () => Promise<boolean> = async () => false,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** minVersion is the version a query on the portfolio must reflect (0: none). */
  minVersion(portfolioId: string): number {
    return this.versions.get(portfolioId) ?? 0
  }

  /** noteVersion records a command's version on a portfolio. */
  noteVersion(portfolioId: string, version: number): void {
    if (version > this.minVersion(portfolioId)) this.versions.set(portfolioId, version)
  }

  /**
   * request sends one call. A query that asked for a version the read model has not reached
   * yet is answered stale (X-Read-Model-Stale, or stale: true in the body) after the API's
   * own bounded wait; it is asked again a few times, backing off, before the stale answer is
   * returned as it is.
   */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (opts.command && !opts.idempotencyKey) opts = { ...opts, idempotencyKey: newIdempotencyKey() }
    for (let attempt = 0; ; attempt++) {
      let answer: { body: T; stale: boolean }
      try {
        answer = await this.once<T>(method, path, opts)
      } catch (err) {
        // An expired or revoked token: refresh the session once and send the same request
        // again (a command keeps its Idempotency-Key, so it cannot apply twice).
        if (err instanceof ApiError && err.status === 401 && attempt === 0 && (await this.onUnauthorized())) continue
        throw err
      }
      const { body, stale } = answer
      if (!stale || attempt >= STALE_RETRIES.length) return body
      await this.sleep(STALE_RETRIES[attempt] ?? 1000)
    }
  }

  private async once<T>(method: string, path: string, opts: RequestOptions): Promise<{ body: T; stale: boolean }> {
    const url = new URL(this.baseUrl + path)
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v))
    }
    const portfolioId = /^\/portfolios\/([^/?]+)/.exec(path)?.[1]
    if (method === 'GET' && portfolioId) {
      const v = this.minVersion(decodeURIComponent(portfolioId))
      if (v > 0) url.searchParams.set('minVersion', String(v))
    }
    const headers: Record<string, string> = { Accept: 'application/json' }
    const token = await this.token()
    if (token) headers.Authorization = `Bearer ${token}`
    let body: string | undefined
    if (opts.raw) {
      headers['Content-Type'] = opts.raw.contentType
      body = opts.raw.body
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    if (opts.command || opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey ?? newIdempotencyKey()
    let res: Response
    try {
      res = await this.fetchImpl(url.toString(), { method, headers, body, signal: opts.signal })
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      throw new ApiError(0, 'network', 'network error', undefined)
    }
    let text: string
    try {
      text = await res.text()
    } catch {
      throw new ApiError(0, 'network', 'network error', undefined)
    }
    const json: unknown = text ? safeJSON(text) : undefined
    // A success whose body is not JSON (a proxy's HTML page) or not an object: nothing the
    // pages can read.
    if (res.ok && text && (json === undefined || json === null || typeof json !== 'object')) {
      throw new ApiError(res.status, 'bad_response', 'the answer is not a JSON object', undefined)
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error
      throw new ApiError(res.status, e?.code ?? statusCode(res.status), e?.message ?? res.statusText, e?.details)
    }
    if (portfolioId && method !== 'GET' && json && typeof json === 'object' && 'version' in json) {
      const v = (json as { version: unknown }).version
      if (typeof v === 'number') this.noteVersion(decodeURIComponent(portfolioId), v)
    }
    const stale =
      url.searchParams.has('minVersion') &&
      (res.headers.get('X-Read-Model-Stale') === 'true' || (!!json && typeof json === 'object' && (json as { stale?: unknown }).stale === true))
    return { body: json as T, stale }
  }

  // Portfolios
  listPortfolios = () => this.request<{ items: Portfolio[] }>('GET', '/portfolios').then(itemsOf)
  getPortfolio = (id: string) => this.request<Portfolio>('GET', `/portfolios/${enc(id)}`)
  async createPortfolio(input: { name: string; baseCurrency: string; description?: string }, key?: string) {
    const res = await this.request<CommandResult<Portfolio>>('POST', '/portfolios', { body: input, command: true, idempotencyKey: key })
    if (res.data?.id) this.noteVersion(res.data.id, res.version)
    return res
  }
  getPositions = (id: string) => this.request<Positions>('GET', `/portfolios/${enc(id)}/positions`)
  setSettings = (id: string, s: Settings) =>
    this.request<CommandResult<Settings>>('PUT', `/portfolios/${enc(id)}/settings`, { body: s, command: true })

  // Transactions
  listTransactions = (id: string, query: { cursor?: string; includeVoided?: boolean; limit?: number } = {}) =>
    this.request<{ items: Transaction[]; nextCursor?: string; stale?: boolean }>('GET', `/portfolios/${enc(id)}/transactions`, { query })
  recordTransaction = (id: string, tx: TransactionInput, key?: string) =>
    this.request<CommandResult<Transaction>>('POST', `/portfolios/${enc(id)}/transactions`, { body: tx, command: true, idempotencyKey: key })
  voidTransaction = (id: string, txId: string, reason: string) =>
    this.request<CommandResult<Transaction>>('POST', `/portfolios/${enc(id)}/transactions/${enc(txId)}/void`, {
      body: { reason },
      command: true,
    })
  previewImport = (id: string, file: ImportFile) =>
    this.request<ImportPreview>('POST', `/portfolios/${enc(id)}/import/preview`, importBody(file))
  importActivities = (id: string, file: ImportFile, key?: string) =>
    this.request<CommandResult<unknown>>('POST', `/portfolios/${enc(id)}/import`, { ...importBody(file), command: true, idempotencyKey: key })

  // Figures
  getPerformance = (id: string, query: { from?: string; to?: string } = {}) =>
    this.request<Performance>('GET', `/portfolios/${enc(id)}/performance`, { query })
  getRisk = (id: string) => this.request<Risk>('GET', `/portfolios/${enc(id)}/risk`)
  getHistory = (id: string, query: { from?: string; to?: string; points?: number; benchmark?: string } = {}) =>
    this.request<ValueHistory>('GET', `/portfolios/${enc(id)}/history`, { query })
  getRebalancing = (id: string) => this.request<Rebalancing>('GET', `/portfolios/${enc(id)}/rebalancing`)
  getTargets = (id: string) => this.request<Targets>('GET', `/portfolios/${enc(id)}/targets`)
  setTargets = (id: string, targets: { symbol: string; weight: string }[], driftBand: string) =>
    this.request<CommandResult<Targets>>('PUT', `/portfolios/${enc(id)}/targets`, { body: { targets, driftBand }, command: true })

  // Alerts
  listAlerts = () => this.request<{ items: AlertRule[] }>('GET', '/alerts').then(itemsOf)
  createAlert = (rule: AlertRuleInput) => this.request<AlertRule>('POST', '/alerts', { body: rule, command: true })
  updateAlert = (id: string, patch: Partial<AlertRuleInput>) =>
    this.request<AlertRule>('PATCH', `/alerts/${enc(id)}`, { body: patch, command: true })
  pauseAlert = (id: string) => this.request<AlertRule>('POST', `/alerts/${enc(id)}/pause`, { command: true })
  resumeAlert = (id: string) => this.request<AlertRule>('POST', `/alerts/${enc(id)}/resume`, { command: true })
  deleteAlert = (id: string) => this.request<void>('DELETE', `/alerts/${enc(id)}`, { command: true })
  alertHistory = (cursor?: string) =>
    this.request<{ items: AlertFiring[]; nextCursor?: string }>('GET', '/alerts/history', { query: { cursor } })
  acknowledgeAlert = (key: string) => this.request<{ key: string }>('POST', `/alerts/history/${enc(key)}/ack`, { command: true })
  listNotifications = (cursor?: string) =>
    this.request<{ items: NotificationDelivery[]; nextCursor?: string }>('GET', '/notifications', { query: { cursor } })

  // Me
  getMe = () => this.request<Me>('GET', '/me')
  updateMe = (patch: MePatch) => this.request<Me>('PATCH', '/me', { body: patch, command: true })
  deleteMe = () => this.request<unknown>('DELETE', '/me', { command: true })
  startPhoneVerification = (phone: string) => this.request<unknown>('POST', '/me/phone', { body: { phone }, command: true })
  verifyPhone = (code: string) => this.request<Me>('POST', '/me/phone/verify', { body: { code }, command: true })
}

export interface ImportFile {
  name: string
  text: string
}

/** importBody sends a .csv as text/csv and anything else as the Ghostfolio JSON export it is. */
export function importBody(file: ImportFile): RequestOptions {
  const isCsv = file.name.toLowerCase().endsWith('.csv') || !file.text.trimStart().startsWith('{')
  return { raw: { body: file.text, contentType: isCsv ? 'text/csv' : 'application/json' } }
}

/** itemsOf is a list answer's items, none when the answer has no array of them. */
function itemsOf<T>(r: { items?: T[] } | undefined): T[] {
  return Array.isArray(r?.items) ? r.items : []
}

function enc(s: string): string {
  return encodeURIComponent(s)
}

function safeJSON(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function statusCode(status: number): string {
  if (status === 401) return 'unauthorized'
  if (status === 404) return 'not_found'
  if (status === 429) return 'too_many_requests'
  if (status >= 500) return 'internal_error'
  return 'bad_request'
}
