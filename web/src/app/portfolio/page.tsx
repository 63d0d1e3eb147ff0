'use client'

// A portfolio: the live value header, holdings, allocation, value history with the benchmark,
// performance and risk figures, the rebalancing plan and the targets editor. The ID is ?id=
// (a static export has no dynamic routes).

import { Suspense, useCallback, useState } from 'react'
import { AfterPaint } from '@/components/AfterPaint'
import { ErrorNote, Loading, Page } from '@/components/Shell'
import { Figures } from '@/components/portfolio/Figures'
import { PortfolioHeader } from '@/components/portfolio/Header'
import { History } from '@/components/portfolio/History'
import { Allocation, Holdings } from '@/components/portfolio/Holdings'
import { RebalancingPlan, TargetsEditor } from '@/components/portfolio/Rebalancing'
import { usePortfolioId } from '@/components/portfolio/usePortfolioId'
import { usePortfolio } from '@/components/portfolio/usePortfolio'
import { holdingViews, useApp } from '@/store/store'

export default function PortfolioPage() {
  return (
    <Page>
      <Suspense fallback={<Loading label="Loading the portfolio" heading />}>
        <PortfolioView />
      </Suspense>
    </Page>
  )
}

function PortfolioView() {
  const id = usePortfolioId()
  const data = usePortfolio(id)
  const portfolio = useApp((s) => s.portfolios?.find((p) => p.id === id))
  const positions = useApp((s) => s.positions[id])
  const quotes = useApp((s) => s.quotes)
  const [targetsVersion, setTargetsVersion] = useState(0)
  const targetsSaved = useCallback(() => setTargetsVersion((v) => v + 1), [])
  if (!id) return <ErrorNote message="No portfolio was chosen. Pick one on the Portfolios page." />
  if (data.loading && !portfolio) return <Loading label="Loading the portfolio" heading />
  if (data.error && !portfolio)
    return (
      <>
        <h1>Portfolio</h1>
        <ErrorNote message={data.error} onRetry={data.reload} />
      </>
    )
  if (!portfolio) return null
  const rows = holdingViews(positions, quotes)
  const base = portfolio.baseCurrency
  return (
    <>
      <PortfolioHeader portfolio={portfolio} current="overview" />
      {/* The header (the value, the page's largest paint) first; the rest a frame later. */}
      <AfterPaint>
        <section aria-labelledby="holdings-h">
          <h2 id="holdings-h">Holdings</h2>
          <Holdings rows={rows} base={base} />
        </section>
        <section aria-labelledby="alloc-h">
          <h2 id="alloc-h">Allocation</h2>
          <Allocation rows={rows} />
        </section>
        <History id={id} benchmark={portfolio.settings?.benchmark} />
        <section aria-labelledby="figures-h">
          <h2 id="figures-h">Performance and risk</h2>
          <Figures id={id} />
        </section>
        <section aria-labelledby="rebalance-h">
          <h2 id="rebalance-h">Rebalancing</h2>
          <RebalancingPlan id={id} base={base} version={targetsVersion} />
          <TargetsEditor id={id} symbolKey={rows.map((r) => r.symbol).join(',')} onSaved={targetsSaved} />
        </section>
      </AfterPaint>
    </>
  )
}
