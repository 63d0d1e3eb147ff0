'use client'

// A portfolio's transactions (?id=): list, record, void, import with preview.

import { Suspense } from 'react'
import { useServices } from '@/components/AppProvider'
import { ErrorNote, Loading, Page } from '@/components/Shell'
import { PortfolioHeader } from '@/components/portfolio/Header'
import { TransactionsPanel } from '@/components/portfolio/Transactions'
import { usePortfolio } from '@/components/portfolio/usePortfolio'
import { usePortfolioId } from '@/components/portfolio/usePortfolioId'
import { appStore, useApp } from '@/store/store'

export default function TransactionsPage() {
  return (
    <Page>
      <Suspense fallback={<Loading label="Loading the transactions" heading />}>
        <TransactionsView />
      </Suspense>
    </Page>
  )
}

function TransactionsView() {
  const id = usePortfolioId()
  const { api } = useServices()
  const data = usePortfolio(id)
  const portfolio = useApp((s) => s.portfolios?.find((p) => p.id === id))
  if (!id) return <ErrorNote message="No portfolio was chosen. Pick one on the Portfolios page." />
  if (data.loading && !portfolio) return <Loading label="Loading the portfolio" heading />
  if (data.error && !portfolio)
    return (
      <>
        <h1>Transactions</h1>
        <ErrorNote message={data.error} onRetry={data.reload} />
      </>
    )
  if (!portfolio) return null
  const refreshPositions = () => {
    api.getPositions(id).then(
      (p) => appStore.getState().setPositions(p),
      () => undefined,
    )
  }
  return (
    <>
      <PortfolioHeader portfolio={portfolio} current="transactions" />
      <TransactionsPanel id={id} base={portfolio.baseCurrency} onChanged={refreshPositions} />
    </>
  )
}
