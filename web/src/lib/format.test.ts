import { describe, expect, it } from 'vitest'
import { displayLocale, formatDate, formatMoney, formatNumber, formatPercent, formatRatio, setDisplayLocale } from './format'

describe('formatMoney', () => {
  it('formats by currency and locale with exact rounding', () => {
    expect(formatMoney('1234.565', 'USD')).toBe('$1,234.57')
    expect(formatMoney('1234.565', 'EUR', { locale: 'de-DE' })).toBe('1.234,57\u00a0€')
    expect(formatMoney('1234.5', 'JPY', { locale: 'ja-JP' })).toBe('￥1,235')
  })
  it('keeps digits a float would lose', () => {
    expect(formatMoney('90071992547409.99', 'USD')).toBe('$90,071,992,547,409.99')
    expect(formatMoney('0.30000000000000004', 'USD')).toBe('$0.30')
  })
  it('signs changes', () => {
    expect(formatMoney('12.5', 'USD', { signed: true })).toBe('+$12.50')
    expect(formatMoney('-12.5', 'USD', { signed: true })).toBe('-$12.50')
  })
  it('shows pence for quote units', () => {
    expect(formatMoney('123.45', 'GBp')).toBe('123.45p')
  })
  it('says unknown for missing values', () => {
    expect(formatMoney(undefined, 'USD')).toBe('—')
    expect(formatMoney('abc', 'USD')).toBe('—')
  })
})

describe('formatNumber and percentages', () => {
  it('formats quantities with up to 8 decimals', () => {
    expect(formatNumber('1250.125')).toBe('1,250.125')
    expect(formatNumber('0.123456789')).toBe('0.12345679')
    expect(formatNumber('1250.5', { locale: 'fr-FR' })).toBe('1\u202f250,5')
  })
  it('formats percent strings and ratios', () => {
    expect(formatPercent('12.5')).toBe('12.50%')
    expect(formatPercent('3.1', { signed: true })).toBe('+3.10%')
    expect(formatRatio(0.1234)).toBe('12.34%')
    expect(formatRatio(null)).toBe('—')
  })
})

describe('displayLocale', () => {
  it("formats in the profile's locale once it is known, ignoring an unknown one", () => {
    expect(displayLocale()).toBe('en-US')
    try {
      setDisplayLocale('de-DE')
      setDisplayLocale('not a locale!')
      expect(displayLocale()).toBe('de-DE')
      expect(formatMoney('1234.5', 'EUR')).toBe('1.234,50\u00a0€')
      expect(formatNumber('1250.125')).toBe('1.250,125')
      expect(formatDate('2026-01-31')).toBe('31.01.2026')
    } finally {
      setDisplayLocale('en-US')
    }
    expect(formatMoney('1234.5', 'USD')).toBe('$1,234.50')
  })
})
