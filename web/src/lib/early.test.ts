import { afterEach, describe, expect, it, vi } from 'vitest'
import { EARLY_MAX_AGE_MS, earlyFetch, earlyScript, earlyStart, takeEarlyConfig, takeEarlyRead } from './early'

const config = { apiUrl: 'http://localhost:3000/', wsUrl: 'ws://x', supabaseUrl: 'http://a', supabaseAnonKey: 'k', stage: 'local' }
const id = 'p 1'
const portfolioURL = 'http://localhost:3000/portfolios/p%201'

/** A page at path with a stored session expiring at expiresAt (epoch seconds); fetch answers from its URL. */
function page(path: string, expiresAt: number | null) {
  const calls: { url: string; auth?: string }[] = []
  const fetchFn = vi.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, auth: (init?.headers as Record<string, string> | undefined)?.Authorization })
    return new Response(url === '/config.json' ? JSON.stringify(config) : `{"url":"${url}"}`)
  })
  const stored = expiresAt === null ? null : JSON.stringify({ access_token: 'tok', expires_at: expiresAt })
  vi.stubGlobal('fetch', fetchFn)
  vi.stubGlobal('window', {})
  vi.stubGlobal('localStorage', { getItem: (k: string) => (k === 'pt-auth-local' ? stored : null) })
  const u = new URL(path, 'http://localhost:5173')
  vi.stubGlobal('location', { pathname: u.pathname, search: u.search })
  return calls
}

const settle = () => new Promise((r) => setTimeout(r, 0))

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('early reads', () => {
  it('fetch the config, then the portfolio and its positions with a fresh stored session, each taken once', async () => {
    const calls = page(`/portfolio/?id=${encodeURIComponent(id)}`, Date.now() / 1000 + 3600)
    earlyStart(EARLY_MAX_AGE_MS, 60)
    expect(await takeEarlyConfig()).toEqual(config)
    expect(takeEarlyConfig()).toBeUndefined()
    await settle()
    expect(calls).toEqual([
      { url: '/config.json', auth: undefined },
      { url: portfolioURL, auth: 'Bearer tok' },
      { url: `${portfolioURL}/positions`, auth: 'Bearer tok' },
    ])
    const res = await earlyFetch(portfolioURL, { method: 'GET', headers: {} })
    expect(await res.json()).toEqual({ url: portfolioURL })
    expect(takeEarlyRead(`${portfolioURL}/positions`)).toBeDefined()
    expect(takeEarlyRead(`${portfolioURL}/positions`)).toBeUndefined()
    // Taken: the next GET goes to the network.
    await earlyFetch(portfolioURL, { method: 'GET' })
    expect(calls).toHaveLength(4)
  })

  it('read nothing without a fresh session or on another page', async () => {
    for (const [path, expiresAt] of [
      [`/portfolio/?id=${id}`, Date.now() / 1000 + 30],
      [`/portfolio/?id=${id}`, null],
      ['/portfolios/', Date.now() / 1000 + 3600],
    ] as const) {
      const calls = page(path, expiresAt)
      earlyStart(EARLY_MAX_AGE_MS, 60)
      await settle()
      expect(calls.map((c) => c.url)).toEqual(['/config.json'])
      expect(takeEarlyRead(portfolioURL)).toBeUndefined()
    }
  })

  it('are not taken once they are old', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    page(`/portfolio/?id=${id}`, Date.now() / 1000 + 3600)
    earlyStart(EARLY_MAX_AGE_MS, 60)
    await settle()
    vi.setSystemTime(Date.now() + EARLY_MAX_AGE_MS + 1)
    expect(takeEarlyConfig()).toBeUndefined()
    expect(takeEarlyRead(portfolioURL)).toBeUndefined()
  })

  it('render as a script that calls the function', () => {
    expect(earlyScript).toMatch(/^\(function earlyStart\(|^\(function\s*\(/)
    expect(earlyScript).toMatch(/\)\(10000,60\)$/)
  })
})
