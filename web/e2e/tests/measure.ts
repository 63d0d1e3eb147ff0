import type { Page, Response } from '@playwright/test'
import { gzipSync } from 'node:zlib'

/** The JavaScript a page loaded: each script's URL, its size as sent and gzipped (level 9, as a CDN compresses). */
export interface ScriptLoad {
  url: string
  bytes: number
  gzip: number
}

/**
 * Records every script the page fetches from now on; `before` (a promise) splits them into those loaded before it
 * settled (the first load: until the load event) and after (chunks imported later, such as the chart library).
 */
export function recordScripts(page: Page): { scripts: ScriptLoad[]; done: Promise<void>[] } {
  const scripts: ScriptLoad[] = []
  const done: Promise<void>[] = []
  page.on('response', (resp: Response) => {
    if (resp.request().resourceType() !== 'script') return
    done.push(
      resp.body().then(
        (body) => {
          scripts.push({ url: new URL(resp.url()).pathname, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length })
        },
        () => {},
      ),
    )
  })
  return { scripts, done }
}

export const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`

/** The largest contentful paint of the current document, in ms since navigation start. */
export async function largestContentfulPaint(page: Page): Promise<{ ms: number; element: string }> {
  return page.evaluate(
    () =>
      new Promise<{ ms: number; element: string }>((resolve) => {
        new PerformanceObserver((list) => {
          const entries = list.getEntries() as (PerformanceEntry & { element?: Element | null })[]
          const last = entries[entries.length - 1]
          if (!last) return
          const el = last.element
          resolve({ ms: last.startTime, element: el ? `${el.tagName.toLowerCase()}${el.getAttribute('data-testid') ? `[data-testid=${el.getAttribute('data-testid')}]` : ''}` : '?' })
        }).observe({ type: 'largest-contentful-paint', buffered: true })
      }),
  )
}

/** What the live-value probe (liveValueProbe) saw, on window.__liveValue. */
export interface LiveValueProbe {
  /** Price and valuation messages received. */
  messages: number
  /** Each change of the value's text: when (epoch ms), and what the WebSocket said before it. */
  changes: { at: number; text: string; sinceMessage: number; sinceTick: number | null }[]
}

/**
 * An init script (page.addInitScript) that follows the live value: a WebSocket listener added when the socket is
 * made (so it runs before the app's) timestamps each `price` and `valuation` message and keeps the last valuation's
 * `asOf` (the time of the newest quote it used: when the feed ticked); a MutationObserver on [data-testid="portfolio-value"] records each change of its text with the time since the last
 * message (tick → DOM) and since that tick (feed → screen). Clocks: the stack and the browser share the
 * machine's.
 */
export function liveValueProbe(): void {
  const probe: LiveValueProbe = { messages: 0, changes: [] }
  ;(window as unknown as { __liveValue: LiveValueProbe }).__liveValue = probe
  const now = (): number => performance.timeOrigin + performance.now()
  let lastMessage = 0
  let lastTick: number | null = null
  const Native = window.WebSocket
  class Timed extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('message', (ev: MessageEvent) => {
        const at = now()
        let msg: { type?: string; asOf?: string }
        try {
          msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as typeof msg
        } catch {
          return
        }
        if (msg.type !== 'price' && msg.type !== 'valuation') return
        lastMessage = at
        probe.messages++
        // A valuation's asOf is the time of the newest quote it used: the tick that moved it.
        const asOf = msg.type === 'valuation' && msg.asOf ? Date.parse(msg.asOf) : NaN
        if (!Number.isNaN(asOf)) lastTick = asOf
      })
    }
  }
  window.WebSocket = Timed
  let observed: Element | null = null
  const watch = (): void => {
    const el = document.querySelector('[data-testid="portfolio-value"]')
    if (!el || el === observed) return
    observed = el
    let text = el.textContent ?? ''
    new MutationObserver(() => {
      const t = el.textContent ?? ''
      if (t === text) return
      text = t
      const at = now()
      probe.changes.push({ at, text: t, sinceMessage: lastMessage ? at - lastMessage : NaN, sinceTick: lastTick === null ? null : at - lastTick })
    }).observe(el, { characterData: true, childList: true, subtree: true })
  }
  new MutationObserver(watch).observe(document, { childList: true, subtree: true })
}

/** The probe's record so far. */
export async function liveValue(page: Page): Promise<LiveValueProbe> {
  return page.evaluate(() => (window as unknown as { __liveValue: LiveValueProbe }).__liveValue)
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}
