'use client'

// The portfolio's header: its name and its live value (pushed valuations, else the positions'
// total), the day change and the P&L.

import Link from 'next/link'
import { isNegative, add } from '@/lib/decimal'
import { formatDateTime, formatMoney } from '@/lib/format'
import type { Portfolio } from '@/lib/types'
import { dayChangeTotal, holdingViews, useApp } from '@/store/store'

export function PortfolioHeader({ portfolio, current }: { portfolio: Portfolio; current: 'overview' | 'transactions' }) {
  const live = useApp((s) => s.live[portfolio.id])
  const positions = useApp((s) => s.positions[portfolio.id])
  const quotes = useApp((s) => s.quotes)
  const ccy = portfolio.baseCurrency
  const day = dayChangeTotal(holdingViews(positions, quotes))
  const totals = positions?.totals
  const unrealized = live?.unrealizedPnL ?? totals?.unrealizedPnL
  const pnl = unrealized || totals?.realizedPnL ? add(unrealized ?? '0', totals?.realizedPnL ?? '0') : undefined
  const id = encodeURIComponent(portfolio.id)
  return (
    <>
      <p className="muted">
        <Link href="/portfolios/">Portfolios</Link> / {portfolio.name}
      </p>
      <h1>{current === 'overview' ? portfolio.name : `${portfolio.name}: transactions`}</h1>
      <section aria-label="Value" className="card value-header">
        <div>
          <div className="muted">Market value</div>
          <div className="big" data-testid="portfolio-value" aria-live="off">
            {formatMoney(live?.value ?? totals?.marketValue ?? '0', ccy)}
          </div>
          {live?.asOf && <div className="muted">as of {formatDateTime(live.asOf)}</div>}
        </div>
        <div>
          <div className="muted">Day change</div>
          <div className={day ? (isNegative(day) ? 'down' : 'up') : ''}>{day ? formatMoney(day, ccy, { signed: true }) : '—'}</div>
        </div>
        <div>
          <div className="muted">Profit / loss</div>
          <div className={pnl ? (isNegative(pnl) ? 'down' : 'up') : ''}>{pnl ? formatMoney(pnl, ccy, { signed: true }) : '—'}</div>
        </div>
        {totals?.cash && (
          <div>
            <div className="muted">Cash</div>
            <div>{formatMoney(totals.cashValue ?? totals.cash, ccy)}</div>
          </div>
        )}
      </section>
      <nav aria-label="Portfolio" className="subnav">
        <Link href={`/portfolio/?id=${id}`} aria-current={current === 'overview' ? 'page' : undefined}>
          Overview
        </Link>
        <Link href={`/portfolio/transactions/?id=${id}`} aria-current={current === 'transactions' ? 'page' : undefined}>
          Transactions
        </Link>
      </nav>
      {totals?.unpriced && totals.unpriced.length > 0 && (
        <p className="warn">No price yet for {totals.unpriced.join(', ')}: not included in the value.</p>
      )}
    </>
  )
}
