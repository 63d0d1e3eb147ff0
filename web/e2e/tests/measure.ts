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

/**
 * An init script that timestamps every WebSocket message as it arrives (a listener added when the socket is made,
 * so it runs before the app's) and every change of the text of [data-testid="portfolio-value"] (a
 * MutationObserver), into window.__tickToDom: the latency of each change from the last valuation message before it.
 */
export function tickToDomProbe(): void {
  type Probe = { lastMessage: number; latencies: number[]; messages: number }
  const w = window as unknown as { __tickToDom: Probe }
  const probe: Probe = { lastMessage: 0, latencies: [], messages: 0 }
  w.__tickToDom = probe
  const Native = window.WebSocket
  class Timed extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('message', (ev: MessageEvent) => {
        const at = performance.now()
        try {
          const msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as { type?: string }
          if (msg.type === 'valuation' || msg.type === 'price') {
            probe.lastMessage = at
            probe.messages++
          }
        } catch {
          // not JSON: not a tick
        }
      })
    }
  }
  window.WebSocket = Timed
  let observed: Element | null = null
  let lastText = ''
  const watch = (): void => {
    const el = document.querySelector('[data-testid="portfolio-value"]')
    if (!el || el === observed) return
    observed = el
    lastText = el.textContent ?? ''
    new MutationObserver(() => {
      const text = el.textContent ?? ''
      if (text === lastText) return
      lastText = text
      const now = performance.now()
      // Only a change that a message explains (within a second of it) is a tick reaching the DOM.
      if (probe.lastMessage > 0 && now - probe.lastMessage < 1000) probe.latencies.push(now - probe.lastMessage)
    }).observe(el, { characterData: true, childList: true, subtree: true })
  }
  new MutationObserver(watch).observe(document, { childList: true, subtree: true })
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}
