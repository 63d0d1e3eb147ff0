import { describe, expect, it } from 'vitest'
import { chartLines } from './chartLines'
import { rangeFrom } from './ranges'

describe('chartLines', () => {
  it('orders the days, keeps one point a day and drops points the chart would refuse', () => {
    const r = chartLines([
      { date: '2026-01-05', value: '101' },
      { date: '2026-01-02', value: '100' },
      { date: '2026-01-05', value: '102' },
      { date: 'yesterday', value: '1' },
      { date: '2026-01-06', value: 'NaN' },
    ])
    expect(r.lines[0]?.points).toEqual([['2026-01-02', 100], ['2026-01-05', 102]])
  })
  it('draws the value when there is no benchmark', () => {
    const r = chartLines([
      { date: '2026-01-02', value: '100.5' },
      { date: '2026-01-05', value: '101' },
    ])
    expect(r).toEqual({ percent: false, lines: [{ kind: 'main', points: [['2026-01-02', 100.5], ['2026-01-05', 101]] }] })
  })
  it('compares returns in percent with a benchmark, skipping days the benchmark has no close', () => {
    const r = chartLines([
      { date: '2026-01-02', value: '100', return: 0, benchmarkReturn: 0 },
      { date: '2026-01-05', value: '110', return: 0.1 },
      { date: '2026-01-06', value: '105', return: 0.05, benchmarkReturn: 0.02 },
    ])
    expect(r.percent).toBe(true)
    expect(r.lines[0]?.points.map((p) => p[0])).toEqual(['2026-01-02', '2026-01-05', '2026-01-06'])
    expect(r.lines[1]?.points).toEqual([
      ['2026-01-02', 0],
      ['2026-01-06', 2],
    ])
  })
})

describe('rangeFrom', () => {
  const today = new Date('2026-03-31T22:00:00Z')
  it('counts back from today in UTC', () => {
    expect(rangeFrom('1M', today)).toBe('2026-02-28')
    expect(rangeFrom('3M', today)).toBe('2025-12-31')
    expect(rangeFrom('YTD', today)).toBe('2026-01-01')
    expect(rangeFrom('1Y', today)).toBe('2025-03-31')
    expect(rangeFrom('5Y', today)).toBe('2021-03-31')
    expect(rangeFrom('ALL', today)).toBeUndefined()
    expect(rangeFrom('1Y', new Date('2024-02-29T12:00:00Z'))).toBe('2023-02-28')
  })
})
