// Formatting of decimal strings by locale and currency. The string is rounded exactly
// (decimal.ts) and handed to Intl.NumberFormat as a string, which formats it digit for digit
// (ECMA-402 "Intl.NumberFormat v3"): no float in between, so 0.1 + 0.2 shows as 0.30.

import { isDecimal, round } from './decimal'

const FALLBACK_LOCALE = 'en-US'
const STORED_LOCALE_KEY = 'pt-locale'
let chosenLocale: string | null = null

function supportedLocale(locale: unknown): string | null {
  if (typeof locale !== 'string' || !locale) return null
  try {
    return Intl.NumberFormat.supportedLocalesOf([locale]).length > 0 ? locale : null
  } catch {
    return null
  }
}

function storedLocale(): string | null {
  try {
    return window.localStorage.getItem(STORED_LOCALE_KEY)
  } catch {
    return null
  }
}

/**
 * displayLocale is the locale amounts and dates are shown in: the profile's (setDisplayLocale,
 * remembered in this browser so that every page has it without asking the API), else the
 * browser's language, else en-US (and en-US outside a browser: the unit tests, the build).
 */
export function displayLocale(): string {
  if (chosenLocale) return chosenLocale
  if (typeof window === 'undefined') return FALLBACK_LOCALE
  chosenLocale = supportedLocale(storedLocale()) ?? supportedLocale(window.navigator?.language) ?? FALLBACK_LOCALE
  return chosenLocale
}

/** setDisplayLocale makes the profile's locale the one shown from now on; an unknown one is ignored. */
export function setDisplayLocale(locale: string | null | undefined): void {
  const l = supportedLocale(locale)
  if (!l) return
  chosenLocale = l
  try {
    window.localStorage.setItem(STORED_LOCALE_KEY, l)
  } catch {
    // No storage (a private window, or no browser): this page load keeps it.
  }
}

// Quote units: prices in hundredths of a currency (the API's GBp, GBX, ZAc, ZAC, ILA).
const QUOTE_UNITS: Record<string, { suffix: string }> = {
  GBp: { suffix: 'p' },
  GBX: { suffix: 'p' },
  ZAc: { suffix: 'c' },
  ZAC: { suffix: 'c' },
  ILA: { suffix: 'ag' },
}

const cache = new Map<string, Intl.NumberFormat>()

function numberFormat(locale: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`
  let f = cache.get(key)
  if (!f) {
    f = new Intl.NumberFormat(locale, options)
    cache.set(key, f)
  }
  return f
}

/** currencyDigits is the currency's usual number of decimals (2 for USD, 0 for JPY). */
export function currencyDigits(currency: string, locale = displayLocale()): number {
  try {
    return numberFormat(locale, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  } catch {
    return 2
  }
}

export interface MoneyOptions {
  locale?: string
  /** decimals to show; the currency's own by default */
  digits?: number
  /** "+" on positive amounts, for changes */
  signed?: boolean
}

/** formatMoney formats a decimal string as an amount of currency, e.g. "$1,234.57". */
export function formatMoney(value: string | undefined | null, currency: string, opts: MoneyOptions = {}): string {
  if (value == null || !isDecimal(value)) return '—'
  const locale = opts.locale ?? displayLocale()
  const unit = QUOTE_UNITS[currency]
  if (unit) {
    const digits = opts.digits ?? 2
    return `${formatNumber(value, { locale, maxDigits: digits, minDigits: 0, signed: opts.signed })}${unit.suffix}`
  }
  const digits = opts.digits ?? currencyDigits(currency, locale)
  let f: Intl.NumberFormat
  try {
    f = numberFormat(locale, {
      style: 'currency',
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
      signDisplay: opts.signed ? 'exceptZero' : 'auto',
    })
  } catch {
    return `${formatNumber(value, { locale, maxDigits: digits, minDigits: digits, signed: opts.signed })} ${currency}`
  }
  return f.format(round(value, digits) as Intl.StringNumericLiteral)
}

export interface NumberOptions {
  locale?: string
  maxDigits?: number
  minDigits?: number
  signed?: boolean
}

/** formatNumber formats a decimal string with grouping, e.g. a quantity "1,250.125". */
export function formatNumber(value: string | undefined | null, opts: NumberOptions = {}): string {
  if (value == null || !isDecimal(value)) return '—'
  const maxDigits = opts.maxDigits ?? 8
  const f = numberFormat(opts.locale ?? displayLocale(), {
    minimumFractionDigits: Math.min(opts.minDigits ?? 0, maxDigits),
    maximumFractionDigits: maxDigits,
    signDisplay: opts.signed ? 'exceptZero' : 'auto',
  })
  return f.format(round(value, maxDigits) as Intl.StringNumericLiteral)
}

/** formatPercent formats a percentage given in percent ("12.5" → "12.50%"). */
export function formatPercent(value: string | undefined | null, opts: NumberOptions = {}): string {
  if (value == null || !isDecimal(value)) return '—'
  const digits = opts.maxDigits ?? 2
  return `${formatNumber(value, { locale: opts.locale, maxDigits: digits, minDigits: opts.minDigits ?? digits, signed: opts.signed })}%`
}

/** formatRatio formats a float ratio from the analytics (0.1234 → "12.34%"); floats are fine for returns. */
export function formatRatio(value: number | null | undefined, locale = displayLocale(), digits = 2): string {
  if (value == null || !Number.isFinite(value)) return '—'
  return numberFormat(locale, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value)
}

/** formatFloat formats an analytics float (a beta, a Sharpe ratio). */
export function formatFloat(value: number | null | undefined, locale = displayLocale(), digits = 2): string {
  if (value == null || !Number.isFinite(value)) return '—'
  return numberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value)
}

/** formatDate formats an ISO date ("2026-01-31") or instant for people, in UTC for dates. */
export function formatDate(value: string | undefined | null, locale = displayLocale()): string {
  if (!value) return '—'
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value)
  const d = new Date(dateOnly ? `${value}T00:00:00Z` : value)
  if (Number.isNaN(d.getTime())) return value
  return d.toLocaleDateString(locale, dateOnly ? { timeZone: 'UTC', dateStyle: 'medium' } : { dateStyle: 'medium' })
}

export function formatDateTime(value: string | undefined | null, locale = displayLocale()): string {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return value
  return d.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' })
}
