import { describe, expect, it } from 'vitest'
import { formatAlertValue } from './alertValues'

describe('formatAlertValue', () => {
  it('shows fractions as percentages and prices as they are', () => {
    expect(formatAlertValue('percent_move', '0.05')).toBe('5%')
    expect(formatAlertValue('percent_move', '-0.06125')).toBe('-6.13%')
    expect(formatAlertValue('drawdown', '0.2')).toBe('20%')
    expect(formatAlertValue('price_above', '1250.5')).toBe('1,250.5')
    expect(formatAlertValue('var_breach', '1200')).toBe('1,200')
  })
  it('says nothing is known for what is not a decimal', () => {
    expect(formatAlertValue('percent_move', undefined)).toBe('—')
    expect(formatAlertValue('price_above', 'NaN')).toBe('—')
  })
})
