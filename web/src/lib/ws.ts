// The live connection: one WebSocket to the API's WebSocket endpoint (token as ?token= on
// connect, as the authorizer wants). It reconnects after any close with a capped exponential
// back-off with full jitter (so a fleet of browsers does not return in step after an outage),
// asks for a fresh token before each reconnect (the old one may have expired while away),
// subscribes again to everything it was subscribed to, and pings so idle proxies keep it open;
// a ping with no answer (the server replies pong) within pongTimeoutMs means a connection that
// died without a close (a laptop's sleep, a network change), which is closed and replaced.
// The socket, the timers and the randomness are injected: the unit tests drive it with fake
// ones.

import type { ServerMessage } from './types'

export interface SocketLike {
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: { code?: number }) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type LiveStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface LiveSocketOptions {
  url: string
  /** a current access token, refreshed when near expiry; null: signed out */
  token: () => Promise<string | null>
  onMessage: (msg: ServerMessage) => void
  onStatus?: (status: LiveStatus) => void
  createSocket?: (url: string) => SocketLike
  setTimeout?: (fn: () => void, ms: number) => unknown
  clearTimeout?: (handle: unknown) => void
  random?: () => number
  baseDelayMs?: number
  maxDelayMs?: number
  pingEveryMs?: number
  /** how long after a ping a silent connection counts as dead */
  pongTimeoutMs?: number
}

const OPEN = 1

/** backoffDelay is the wait before reconnect attempt n (0-based): uniform in [0, min(max, base·2^n)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(random() * ceiling)
}

export class LiveSocket {
  private socket: SocketLike | null = null
  private attempt = 0
  private retryTimer: unknown = null
  private pingTimer: unknown = null
  private pongTimer: unknown = null
  private stopped = true
  /** bumped by start and stop: a connect still waiting for its token from before is dropped */
  private generation = 0
  private status: LiveStatus = 'idle'
  /** portfolio → symbols subscribed with it ('' for symbols alone) */
  private readonly subscriptions = new Map<string, Set<string>>()
  private readonly o: Required<Omit<LiveSocketOptions, 'onStatus'>> & Pick<LiveSocketOptions, 'onStatus'>

  constructor(opts: LiveSocketOptions) {
    this.o = {
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
      random: Math.random,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      pingEveryMs: 60_000,
      pongTimeoutMs: 20_000,
      ...opts,
    }
  }

  get state(): LiveStatus {
    return this.status
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.generation++
    void this.connect()
  }

  stop(): void {
    this.stopped = true
    this.generation++
    this.clearTimers()
    const s = this.socket
    this.socket = null
    if (s) {
      s.onclose = null
      s.close(1000, 'bye')
    }
    this.setStatus('closed')
  }

  /** subscribe asks for a portfolio's valuations and the symbols' prices, now and after every reconnect. */
  subscribe(portfolioId: string, symbols: readonly string[] = []): void {
    const set = this.subscriptions.get(portfolioId) ?? new Set<string>()
    symbols.forEach((s) => set.add(s))
    this.subscriptions.set(portfolioId, set)
    this.sendSubscribe(portfolioId, [...set])
  }

  unsubscribe(portfolioId: string): void {
    const set = this.subscriptions.get(portfolioId)
    if (!set) return
    this.subscriptions.delete(portfolioId)
    const msg: Record<string, unknown> = { action: 'unsubscribe' }
    if (portfolioId) msg.portfolioId = portfolioId
    if (set.size > 0) msg.symbols = [...set]
    this.send(msg)
  }

  private sendSubscribe(portfolioId: string, symbols: string[]): void {
    const msg: Record<string, unknown> = { action: 'subscribe' }
    if (portfolioId) msg.portfolioId = portfolioId
    if (symbols.length > 0) msg.symbols = symbols
    this.send(msg)
  }

  private send(msg: unknown): void {
    if (this.socket && this.socket.readyState === OPEN) this.socket.send(JSON.stringify(msg))
  }

  private async connect(): Promise<void> {
    const generation = this.generation
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting')
    let token: string | null
    try {
      token = await this.o.token()
    } catch {
      token = null
    }
    // Stopped, or stopped and started again (a second connect is under way), meanwhile.
    if (this.stopped || generation !== this.generation) return
    if (!token) {
      this.scheduleReconnect()
      return
    }
    const sep = this.o.url.includes('?') ? '&' : '?'
    let socket: SocketLike
    try {
      socket = this.o.createSocket(`${this.o.url}${sep}token=${encodeURIComponent(token)}`)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      if (this.socket !== socket) return
      this.attempt = 0
      this.setStatus('open')
      for (const [portfolioId, symbols] of this.subscriptions) this.sendSubscribe(portfolioId, [...symbols])
      this.schedulePing()
    }
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return
      this.clearPongTimer()
      if (typeof ev.data !== 'string') return
      let msg: ServerMessage
      try {
        msg = JSON.parse(ev.data) as ServerMessage
      } catch {
        return
      }
      if (msg && typeof msg === 'object' && typeof msg.type === 'string') this.o.onMessage(msg)
    }
    socket.onerror = () => {
      // onclose follows and reconnects.
    }
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.dropSocket()
    }
  }

  /** dropSocket forgets the current socket (closing it if it is not yet) and reconnects. */
  private dropSocket(): void {
    const s = this.socket
    this.socket = null
    this.clearTimers()
    if (s && s.readyState < 2) {
      s.onclose = null
      s.close(4000, 'no answer to ping')
    }
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    const delay = backoffDelay(this.attempt, this.o.baseDelayMs, this.o.maxDelayMs, this.o.random)
    this.attempt++
    this.setStatus('reconnecting')
    this.retryTimer = this.o.setTimeout(() => {
      this.retryTimer = null
      void this.connect()
    }, delay)
  }

  private schedulePing(): void {
    this.pingTimer = this.o.setTimeout(() => {
      this.pingTimer = null
      this.send({ action: 'ping' })
      if (this.pongTimer === null) {
        this.pongTimer = this.o.setTimeout(() => {
          this.pongTimer = null
          this.dropSocket()
        }, this.o.pongTimeoutMs)
      }
      this.schedulePing()
    }, this.o.pingEveryMs)
  }

  private clearPongTimer(): void {
    if (this.pongTimer !== null) this.o.clearTimeout(this.pongTimer)
    this.pongTimer = null
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.o.clearTimeout(this.retryTimer)
    if (this.pingTimer !== null) this.o.clearTimeout(this.pingTimer)
    this.retryTimer = null
    this.pingTimer = null
    this.clearPongTimer()
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return
    this.status = s
    this.o.onStatus?.(s)
  }
}
