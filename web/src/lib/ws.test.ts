import { describe, expect, it, vi } from 'vitest'
import { LiveSocket, backoffDelay, type SocketLike } from './ws'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: unknown[] = []
  onopen: SocketLike['onopen'] = null
  onclose: SocketLike['onclose'] = null
  onerror: SocketLike['onerror'] = null
  onmessage: SocketLike['onmessage'] = null
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data))
  }
  close() {
    this.readyState = 3
  }
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  drop() {
    this.readyState = 3
    this.onclose?.({ code: 1006 })
  }
}

function setup(random = () => 1) {
  vi.useFakeTimers()
  const sockets: FakeSocket[] = []
  const messages: unknown[] = []
  let tokenN = 0
  const live = new LiveSocket({
    url: 'ws://localhost:3001',
    token: async () => `tok${++tokenN}`,
    onMessage: (m) => messages.push(m),
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    random,
    baseDelayMs: 500,
    maxDelayMs: 8000,
    pingEveryMs: 60_000,
  })
  return { live, sockets, messages }
}

describe('backoffDelay', () => {
  it('grows exponentially to the cap, jittered below the ceiling', () => {
    const top = () => 1
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, 500, 8000, top))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000])
    expect(backoffDelay(3, 500, 8000, () => 0.25)).toBe(1000)
    expect(backoffDelay(3, 500, 8000, () => 0)).toBe(0)
  })
})

describe('LiveSocket', () => {
  it('connects with the token, subscribes, and re-subscribes with a fresh token after a drop', async () => {
    const { live, sockets } = setup()
    live.subscribe('p1', ['AAPL'])
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(sockets).toHaveLength(1)
    expect(sockets[0]?.url).toBe('ws://localhost:3001?token=tok1')
    sockets[0]?.open()
    expect(sockets[0]?.sent).toEqual([{ action: 'subscribe', portfolioId: 'p1', symbols: ['AAPL'] }])
    expect(live.state).toBe('open')

    sockets[0]?.drop()
    expect(live.state).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(499)
    expect(sockets).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sockets).toHaveLength(2)
    expect(sockets[1]?.url).toBe('ws://localhost:3001?token=tok2')
    sockets[1]?.open()
    expect(sockets[1]?.sent).toEqual([{ action: 'subscribe', portfolioId: 'p1', symbols: ['AAPL'] }])
    live.stop()
    vi.useRealTimers()
  })

  it('backs off exponentially while the server stays down and resets once connected', async () => {
    const { live, sockets } = setup()
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    const waits: number[] = []
    for (let i = 0; i < 6; i++) {
      sockets.at(-1)?.drop()
      const before = sockets.length
      let waited = 0
      while (sockets.length === before) {
        await vi.advanceTimersByTimeAsync(100)
        waited += 100
      }
      waits.push(waited)
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 8000])
    sockets.at(-1)?.open()
    sockets.at(-1)?.drop()
    const before = sockets.length
    await vi.advanceTimersByTimeAsync(500)
    expect(sockets.length).toBe(before + 1)
    live.stop()
    vi.useRealTimers()
  })

  it('pings while open, delivers parsed messages, and stops for good', async () => {
    const { live, sockets, messages } = setup()
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    const s = sockets[0]!
    s.open()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(s.sent).toContainEqual({ action: 'ping' })
    s.onmessage?.({ data: '{"type":"price","quotes":[]}' })
    s.onmessage?.({ data: 'not json' })
    expect(messages).toEqual([{ type: 'price', quotes: [] }])
    live.stop()
    expect(live.state).toBe('closed')
    await vi.advanceTimersByTimeAsync(60_000)
    expect(sockets).toHaveLength(1)
    vi.useRealTimers()
  })

  it('adds symbols to a subscription and forgets an unsubscribed portfolio on reconnect', async () => {
    const { live, sockets } = setup()
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    const s = sockets[0]!
    s.open()
    live.subscribe('p1')
    live.subscribe('p1', ['AAPL'])
    live.subscribe('p2', ['MSFT'])
    live.unsubscribe('p2')
    expect(s.sent).toEqual([
      { action: 'subscribe', portfolioId: 'p1' },
      { action: 'subscribe', portfolioId: 'p1', symbols: ['AAPL'] },
      { action: 'subscribe', portfolioId: 'p2', symbols: ['MSFT'] },
      { action: 'unsubscribe', portfolioId: 'p2', symbols: ['MSFT'] },
    ])
    s.drop()
    await vi.advanceTimersByTimeAsync(500)
    sockets[1]?.open()
    expect(sockets[1]?.sent).toEqual([{ action: 'subscribe', portfolioId: 'p1', symbols: ['AAPL'] }])
    live.stop()
    vi.useRealTimers()
  })

  it('waits and retries when there is no token yet', async () => {
    vi.useFakeTimers()
    const sockets: FakeSocket[] = []
    let signedIn = false
    const live = new LiveSocket({
      url: 'ws://x',
      token: async () => (signedIn ? 't' : null),
      onMessage: () => {},
      createSocket: (u) => {
        const s = new FakeSocket(u)
        sockets.push(s)
        return s
      },
      random: () => 1,
    })
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(sockets).toHaveLength(0)
    signedIn = true
    await vi.advanceTimersByTimeAsync(500)
    expect(sockets).toHaveLength(1)
    live.stop()
    vi.useRealTimers()
  })

  it('replaces a connection that does not answer its ping', async () => {
    const { live, sockets } = setup()
    live.start()
    await vi.advanceTimersByTimeAsync(0)
    const s = sockets[0]!
    s.open()
    // Answered: the connection stays.
    await vi.advanceTimersByTimeAsync(60_000)
    s.onmessage?.({ data: '{"type":"pong"}' })
    await vi.advanceTimersByTimeAsync(20_000)
    expect(sockets).toHaveLength(1)
    expect(live.state).toBe('open')
    // Silent (a socket that died without a close): closed after the pong timeout, then replaced.
    await vi.advanceTimersByTimeAsync(40_000)
    expect(s.sent.filter((m) => (m as { action: string }).action === 'ping')).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(19_999)
    expect(live.state).toBe('open')
    await vi.advanceTimersByTimeAsync(1)
    expect(s.readyState).toBe(3)
    expect(live.state).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(500)
    expect(sockets).toHaveLength(2)
    live.stop()
    vi.useRealTimers()
  })

  it('opens one socket when stopped and started again while waiting for the token', async () => {
    vi.useFakeTimers()
    const sockets: FakeSocket[] = []
    const pending: ((t: string) => void)[] = []
    const live = new LiveSocket({
      url: 'ws://x',
      token: () => new Promise<string>((resolve) => pending.push(resolve)),
      onMessage: () => {},
      createSocket: (u) => {
        const s = new FakeSocket(u)
        sockets.push(s)
        return s
      },
      random: () => 1,
    })
    // As React's development mode mounts an effect twice: start, stop, start.
    live.start()
    live.stop()
    live.start()
    pending.forEach((resolve, i) => resolve(`t${i}`))
    await vi.advanceTimersByTimeAsync(0)
    expect(sockets.map((s) => s.url)).toEqual(['ws://x?token=t1'])
    live.stop()
    vi.useRealTimers()
  })
})
