'use client'

// The holdings table (live prices) and the allocation chart (a stacked bar of the weights).

import { isNegative } from '@/lib/decimal'
import { formatMoney, formatNumber, formatPercent } from '@/lib/format'
import type { HoldingView } from '@/store/store'
import { Empty } from '../Shell'

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

function signed(v: string | undefined, ccy: string) {
  if (!v) return <td className="num">—</td>
  return <td className={`num ${isNegative(v) ? 'down' : 'up'}`}>{formatMoney(v, ccy, { signed: true })}</td>
}

export function Holdings({ rows, base }: { rows: HoldingView[]; base: string }) {
  if (rows.length === 0) return <Empty>No holdings yet. Record a trade on the Transactions tab.</Empty>
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Holdings">
      <table>
        <caption className="sr-only">Holdings</caption>
        <thead>
          <tr>
            <th scope="col">Symbol</th>
            <th scope="col" className="num">Quantity</th>
            <th scope="col" className="num">Average cost</th>
            <th scope="col" className="num">Price</th>
            <th scope="col" className="num">Value</th>
            <th scope="col" className="num">Day change</th>
            <th scope="col" className="num">Unrealized P&amp;L</th>
            <th scope="col" className="num">Realized P&amp;L</th>
            <th scope="col" className="num">Weight</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.symbol} data-testid="holding-row" data-symbol={r.symbol}>
              <th scope="row">{r.symbol}</th>
              <td className="num">{formatNumber(r.quantity)}</td>
              <td className="num">{formatMoney(r.averagePrice, r.currency ?? base, { digits: 4 })}</td>
              <td className="num">{formatMoney(r.price, r.currency ?? base)}</td>
              <td className="num">{formatMoney(r.value, base)}</td>
              {signed(r.dayChange, base)}
              <td className="num">{r.unrealizedPnL ? formatMoney(r.unrealizedPnL, base, { signed: true }) : '—'}</td>
              <td className="num">{r.realizedPnL ? formatMoney(r.realizedPnL, base, { signed: true }) : '—'}</td>
              <td className="num">{formatPercent(r.weight)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

export function Allocation({ rows }: { rows: HoldingView[] }) {
  const weighted = rows.filter((r) => r.weight && !isNegative(r.weight))
  if (weighted.length === 0) return <Empty>The allocation appears once your holdings have prices.</Empty>
  return (
    <figure className="card flush">
      <div className="alloc" role="img" aria-label={`Allocation: ${weighted.map((r) => `${r.symbol} ${formatPercent(r.weight)}`).join(', ')}`}>
        {weighted.map((r, i) => (
          <span key={r.symbol} style={{ width: `${r.weight}%`, background: COLORS[i % COLORS.length] }} />
        ))}
      </div>
      <ul className="alloc-legend">
        {weighted.map((r, i) => (
          <li key={r.symbol}>
            <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
            {r.symbol} {formatPercent(r.weight)}
          </li>
        ))}
      </ul>
    </figure>
  )
}
