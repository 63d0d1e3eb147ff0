import { describe, expect, it } from 'vitest'
import { createAppStore, dayChangeTotal, describeFiring, holdingViews } from './store'
import type { Positions, Quote, ServerMessage } from '@/lib/types'

const positions: Positions = {
  portfolioId: 'p1',
  baseCurrency: 'USD',
  positions: [
    { symbol: 'AAPL', quantity: '10', costBasis: '1500', marketPrice: '160', marketValue: '1600', unrealizedPnL: '100', priceAsOf: '2026-01-02T15:00:00Z' },
    { symbol: 'VOD', quantity: '100', currency: 'GBp', costBasis: '90', marketPrice: '75', marketValue: '95.25', unrealizedPnL: '5.25', priceAsOf: '2026-01-02T15:00:00Z' },
    { symbol: 'OLD', quantity: '0', realizedPnL: '12' },
  ],
  totals: { marketValue: '1695.25', unrealizedPnL: '105.25' },
}

describe('store', () => {
  it('takes the live value from positions, then from newer valuations only', () => {
    const s = createAppStore()
    s.getState().setPositions({ ...positions, asOfVersion: 3 })
    expect(s.getState().live.p1?.value).toBe('1695.25')
    s.getState().applyMessage({ type: 'valuation', portfolioId: 'p1', marketValue: '1700.10', asOf: '2026-01-02T15:00:02Z' })
    expect(s.getState().live.p1?.value).toBe('1700.10')
    // An older valuation arriving late is ignored.
    s.getState().applyMessage({ type: 'valuation', portfolioId: 'p1', marketValue: '1690', asOf: '2026-01-02T15:00:01Z' })
    expect(s.getState().live.p1?.value).toBe('1700.10')
    // Positions priced before the pushed valuation do not overwrite it.
    s.getState().setPositions({ ...positions, asOfVersion: 3 })
    expect(s.getState().live.p1?.value).toBe('1700.10')
    s.getState().applyMessage({ type: 'valuation', portfolioId: 'p1', marketValue: '1701', asOf: '2026-01-02T15:00:03Z' })
    s.getState().setPositions({ ...positions, asOfVersion: 3 })
    expect(s.getState().live.p1?.value).toBe('1701')
    // A trade (a later version) changes the value at the same prices: it wins.
    s.getState().setPositions({ ...positions, asOfVersion: 4, totals: { marketValue: '1861.25' } })
    expect(s.getState().live.p1?.value).toBe('1861.25')
  })

  it('keeps the newest quote per symbol', () => {
    const s = createAppStore()
    s.getState().applyMessage({ type: 'price', quotes: [{ symbol: 'AAPL', price: '161', asOf: '2026-01-02T15:00:05Z' }] })
    s.getState().applyMessage({ type: 'price', quotes: [{ symbol: 'AAPL', price: '159', asOf: '2026-01-02T15:00:04Z' }] })
    expect(s.getState().quotes.AAPL?.price).toBe('161')
    s.getState().applyMessage({ type: 'price', quotes: [{ symbol: 'AAPL', price: 'bad', asOf: '2026-01-02T15:00:09Z' }] })
    expect(s.getState().quotes.AAPL?.price).toBe('161')
  })

  it('turns an alert push into one toast, even when pushed twice', () => {
    const s = createAppStore()
    const firing = { key: 'r1#1', ruleId: 'r1', kind: 'price_above' as const, symbol: 'AAPL', observed: '201.5', threshold: '200', at: '2026-01-02T15:00:00Z' }
    s.getState().applyMessage({ type: 'alert', firing })
    s.getState().applyMessage({ type: 'alert', firing })
    expect(s.getState().toasts).toHaveLength(1)
    expect(s.getState().toasts[0]?.tone).toBe('alert')
    expect(s.getState().toasts[0]?.text).toBe(describeFiring(firing))
    expect(describeFiring(firing)).toBe('Alert: AAPL rose above 200 (now 201.5).')
    // Moves are fractions on the wire: 0.05 reads 5%.
    expect(describeFiring({ ...firing, kind: 'percent_move', threshold: '0.05', observed: '0.0612' })).toBe('Alert: AAPL moved by 5% (now 6.12%).')
    s.getState().dismissToast('alert:r1#1')
    expect(s.getState().toasts).toHaveLength(0)
  })

  it('keeps at most five toasts', () => {
    const s = createAppStore()
    for (let i = 0; i < 8; i++) s.getState().pushToast({ tone: 'info', text: `t${i}` })
    expect(s.getState().toasts.map((t) => t.text)).toEqual(['t3', 't4', 't5', 't6', 't7'])
  })

  it('manages portfolios and alert rules', () => {
    const s = createAppStore()
    s.getState().upsertPortfolio({ id: 'a', name: 'A', baseCurrency: 'USD' })
    s.getState().upsertPortfolio({ id: 'a', name: 'A2', baseCurrency: 'USD' })
    expect(s.getState().portfolios).toEqual([{ id: 'a', name: 'A2', baseCurrency: 'USD' }])
    s.getState().upsertAlert({ id: 'r', active: true, createdAt: 'x' })
    s.getState().upsertAlert({ id: 'r', active: false, createdAt: 'x' })
    expect(s.getState().alerts).toEqual([{ id: 'r', active: false, createdAt: 'x' }])
    s.getState().removeAlert('r')
    expect(s.getState().alerts).toEqual([])
    s.getState().reset()
    expect(s.getState().portfolios).toBeNull()
  })
})

describe('holdingViews', () => {
  it('revalues base-currency holdings at the live quote exactly and keeps weights of the total', () => {
    const rows = holdingViews(positions, {
      AAPL: { symbol: 'AAPL', price: '170.10', previousClose: '165', asOf: '2026-01-02T15:00:05Z' },
      VOD: { symbol: 'VOD', price: '80', previousClose: '70', asOf: '2026-01-02T15:00:05Z', currency: 'GBp' },
    })
    expect(rows.map((r) => r.symbol)).toEqual(['AAPL', 'VOD'])
    const [aapl, vod] = rows
    expect(aapl?.value).toBe('1701.00')
    expect(aapl?.unrealizedPnL).toBe('201.00')
    expect(aapl?.dayChange).toBe('51.00')
    // Another currency: the price is live, the base value is the server's.
    expect(vod?.price).toBe('80')
    expect(vod?.value).toBe('95.25')
    expect(vod?.dayChange).toBeUndefined()
    expect(aapl?.weight).toBe('94.70')
    expect(vod?.weight).toBe('5.30')
    expect(dayChangeTotal(rows)).toBe('51.00')
  })

  it('survives a broken positions answer and a broken push', () => {
    const s = createAppStore()
    const broken = {
      portfolioId: 'p1',
      baseCurrency: 'USD',
      positions: [
        { symbol: 'AAPL', quantity: '10', costBasis: 12, marketPrice: 'NaN', previousClose: null, marketValue: '1500' },
        { symbol: 'BAD', quantity: 1e21 },
        null,
      ],
      totals: { marketValue: '1500', unrealizedPnL: 'oops', realizedPnL: '3' },
    } as unknown as Positions
    s.getState().setPositions(broken)
    const p = s.getState().positions.p1
    expect(p?.positions.map((x) => x.symbol)).toEqual(['AAPL'])
    expect(p?.positions[0]?.costBasis).toBeUndefined()
    expect(p?.totals?.unrealizedPnL).toBeUndefined()
    s.getState().applyMessage({ type: 'price', quotes: [{ symbol: 'AAPL', price: '151', asOf: '2026-01-02T15:00:00Z', previousClose: 'x' } as Quote] })
    const rows = holdingViews(p, s.getState().quotes)
    expect(rows[0]).toMatchObject({ symbol: 'AAPL', value: '1510', weight: '100.00' })
    expect(rows[0]?.unrealizedPnL).toBeUndefined()
    s.getState().setPositions({ positions: 'none' } as unknown as Positions)
    s.getState().applyMessage({ type: 'alert' } as unknown as ServerMessage)
    s.getState().applyMessage({ type: 'valuation', portfolioId: 'p1', marketValue: '1600', unrealizedPnL: 7, asOf: '2026-01-02T15:00:01Z' } as unknown as ServerMessage)
    expect(s.getState().toasts).toEqual([])
    expect(s.getState().live.p1).toMatchObject({ value: '1600', unrealizedPnL: undefined })
  })
})
