import { describe, expect, it } from 'vitest'
import { previewStatus, toInput } from './Transactions'

const blank = { type: 'BUY' as const, date: '2026-01-02', symbol: '', quantity: '', price: '', amount: '', fee: '', currency: '', ratio: '', note: '' }

describe('toInput', () => {
  it('sends what the type takes, as decimal strings', () => {
    expect(toInput({ ...blank, symbol: ' aapl ', quantity: '10', price: '150,25', fee: '1' })).toEqual({
      type: 'BUY',
      date: '2026-01-02',
      symbol: 'AAPL',
      quantity: '10',
      price: '150.25',
      fee: '1',
    })
    expect(toInput({ ...blank, type: 'DEPOSIT', amount: '1000', quantity: '5' })).toEqual({ type: 'DEPOSIT', date: '2026-01-02', amount: '1000' })
    // "1,250" is refused, not read as 1.25 (or 1250): passed on as typed for submit to refuse.
    expect(toInput({ ...blank, symbol: 'AAPL', quantity: '1,250', price: '1 250,5' })).toMatchObject({ quantity: '1,250', price: '1250.5' })
    expect(toInput({ ...blank, type: 'SPLIT', symbol: 'NVDA', ratio: '10:1' })).toEqual({ type: 'SPLIT', date: '2026-01-02', symbol: 'NVDA', ratio: '10:1' })
  })
})

describe('previewStatus', () => {
  it('names errors, voids and ready rows', () => {
    const rows = [
      { index: 0, line: 2, status: 'ok' as const, voidedBy: 2 },
      { index: 1, line: 3, status: 'error' as const, message: 'price: not a number' },
      { index: 2, line: 4, status: 'ok' as const, voids: 0 },
      { index: 3, line: 5, status: 'ok' as const },
    ]
    expect(rows.map((r) => previewStatus(r, rows))).toEqual(['Voided by row 4', 'Error: price: not a number', 'Voids row 2', 'Ready'])
  })
})
