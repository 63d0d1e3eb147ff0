import { describe, expect, it } from 'vitest'
import { ApiClient, ApiError, friendlyError } from './api'

function fakeFetch(responses: { status: number; body?: unknown }[]) {
  const calls: { url: string; init: RequestInit }[] = []
  const f = async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const r = responses.shift() ?? { status: 200, body: {} }
    return new Response(r.body === undefined ? '' : JSON.stringify(r.body), { status: r.status })
  }
  return { f: f as typeof fetch, calls }
}

describe('ApiClient', () => {
  it('sends the token, an Idempotency-Key on commands, and minVersion after a command', async () => {
    const { f, calls } = fakeFetch([
      { status: 201, body: { version: 7, replayed: false, data: { transactionId: 't1' } } },
      { status: 200, body: { portfolioId: 'p1', positions: [] } },
    ])
    const api = new ApiClient('http://api', async () => 'tok', f)
    await api.recordTransaction('p1', { type: 'BUY', date: '2026-01-02', symbol: 'AAPL', quantity: '1', price: '100' })
    await api.getPositions('p1')
    const [cmd, query] = calls
    const h = cmd?.init.headers as Record<string, string>
    expect(h.Authorization).toBe('Bearer tok')
    expect(h['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/)
    expect(query?.url).toBe('http://api/portfolios/p1/positions?minVersion=7')
    expect((query?.init.headers as Record<string, string>)['Idempotency-Key']).toBeUndefined()
  })

  it('asks a stale query again, then gives the stale answer if it stays stale', async () => {
    const { f, calls } = fakeFetch([
      { status: 201, body: { version: 3, replayed: false, data: {} } },
      { status: 200, body: { items: [], stale: true } },
      { status: 200, body: { items: [{ transactionId: 't1' }] } },
    ])
    const waits: number[] = []
    const api = new ApiClient('http://api', async () => 'tok', f, undefined, async (ms) => void waits.push(ms))
    await api.recordTransaction('p1', { type: 'BUY', date: '2026-01-02' })
    const list = await api.listTransactions('p1')
    expect(list.items).toHaveLength(1)
    expect(waits).toEqual([250])
    expect(calls).toHaveLength(3)

    const stale = fakeFetch(Array.from({ length: 6 }, () => ({ status: 200, body: { items: [], stale: true } })))
    const api2 = new ApiClient('http://api', async () => 'tok', stale.f, undefined, async (ms) => void waits.push(ms))
    api2.noteVersion('p1', 9)
    expect((await api2.listTransactions('p1')).stale).toBe(true)
    expect(stale.calls).toHaveLength(5)
    // Without a minVersion a stale body is an answer, not a reason to ask again.
    const once = fakeFetch([{ status: 200, body: { items: [], stale: true } }])
    await new ApiClient('http://api', async () => 'tok', once.f).listTransactions('p2')
    expect(once.calls).toHaveLength(1)
  })

  it('refreshes the session once on a 401 and sends the same command again', async () => {
    const { f, calls } = fakeFetch([
      { status: 401, body: { error: { code: 'unauthorized', message: 'token expired' } } },
      { status: 201, body: { version: 1, replayed: false, data: { transactionId: 't1' } } },
    ])
    let tokens = 0
    let refreshed = 0
    const api = new ApiClient('http://api', async () => `tok${++tokens}`, f, async () => ++refreshed > 0)
    await api.recordTransaction('p1', { type: 'BUY', date: '2026-01-02' })
    expect(refreshed).toBe(1)
    const [first, second] = calls.map((c) => c.init.headers as Record<string, string>)
    expect(second?.Authorization).toBe('Bearer tok2')
    expect(second?.['Idempotency-Key']).toBe(first?.['Idempotency-Key'])

    const denied = fakeFetch([{ status: 401 }, { status: 401 }])
    const err = await new ApiClient('http://api', async () => 't', denied.f, async () => false).getMe().catch((e: unknown) => e)
    expect((err as ApiError).friendly).toBe('Your session has ended. Please sign in again.')
    expect(denied.calls).toHaveLength(1)
  })

  it('turns the error body into words a person understands', async () => {
    const { f } = fakeFetch([{ status: 422, body: { error: { code: 'insufficient_holdings', message: 'sell 5 AAPL: holds 1' } } }])
    const api = new ApiClient('http://api', async () => null, f)
    const err = await api.recordTransaction('p1', { type: 'SELL', date: '2026-01-02' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).friendly).toBe('You cannot sell more than you hold on that date.')
    const { f: f2 } = fakeFetch([{ status: 400, body: { error: { code: 'validation_failed', message: 'quantity must be positive' } } }])
    const err2 = await new ApiClient('http://api', async () => null, f2).getMe().catch((e: unknown) => e)
    expect((err2 as ApiError).friendly).toBe('Quantity must be positive.')
  })

  it("refuses a success it cannot read, and never shows a fault's own message", async () => {
    const html = async () => new Response('<html>Bad gateway</html>', { status: 200 })
    const err = await new ApiClient('http://api', async () => null, html as typeof fetch).getMe().catch((e: unknown) => e)
    expect((err as ApiError).code).toBe('bad_response')
    expect(friendlyError(err)).toBe('The server sent an answer we could not read. Please try again in a moment.')
    const wrongShape = async () => new Response(JSON.stringify({ items: { not: 'a list' } }), { status: 200 })
    expect(await new ApiClient('http://api', async () => null, wrongShape as typeof fetch).listPortfolios()).toEqual([])
    expect(friendlyError(new TypeError("Cannot read properties of undefined (reading 'items')"))).toBe('Something went wrong. Please try again.')
  })
})
