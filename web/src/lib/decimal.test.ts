import { describe, expect, it } from 'vitest'
import { add, compare, divide, fromInput, mul, normalize, parse, percentOf, round, sub, sum } from './decimal'

describe('decimal strings', () => {
  it('adds without float error', () => {
    expect(add('0.1', '0.2')).toBe('0.3')
    expect(sum(['1234567890123456789.01', '0.99'])).toBe('1234567890123456790.00')
  })
  it('subtracts and multiplies exactly', () => {
    expect(sub('10', '10.0001')).toBe('-0.0001')
    expect(mul('3.333', '3')).toBe('9.999')
    expect(mul('-0.5', '0.5')).toBe('-0.25')
  })
  it('rounds half away from zero', () => {
    expect(round('2.345', 2)).toBe('2.35')
    expect(round('-2.345', 2)).toBe('-2.35')
    expect(round('2.344', 2)).toBe('2.34')
    expect(round('7', 2)).toBe('7.00')
    expect(round('0.005', 2)).toBe('0.01')
  })
  it('divides to a fixed number of places', () => {
    expect(divide('1', '3', 4)).toBe('0.3333')
    expect(divide('2', '3', 2)).toBe('0.67')
    expect(divide('-2', '3', 2)).toBe('-0.67')
    expect(divide('1', '0', 2)).toBeNull()
    expect(percentOf('25', '200')).toBe('12.50')
  })
  it('compares and normalizes', () => {
    expect(compare('1.50', '1.5')).toBe(0)
    expect(compare('-1', '0.1')).toBe(-1)
    expect(normalize('1.500')).toBe('1.5')
    expect(normalize('-0.00')).toBe('0')
  })
  it('refuses what is not a decimal', () => {
    expect(() => parse('1e5')).toThrow()
    expect(() => parse('NaN')).toThrow()
  })
  it('reads what a person typed, refusing an ambiguous thousands separator', () => {
    expect(fromInput(' 12.5 ')).toBe('12.5')
    expect(fromInput('12,5')).toBe('12.5')
    expect(fromInput('0,1234')).toBe('0.1234')
    expect(fromInput('1 250')).toBe('1250')
    // 1,250 is 1250 in en-US and 1.25 elsewhere: neither is guessed.
    expect(fromInput('1,250')).toBeNull()
    expect(fromInput('1,250.50')).toBeNull()
    expect(fromInput('1.250,50')).toBeNull()
    expect(fromInput('1e3')).toBeNull()
    expect(fromInput('')).toBeNull()
    expect(fromInput('abc')).toBeNull()
  })
})
