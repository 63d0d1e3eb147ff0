'use client'

import { useSearchParams } from 'next/navigation'

/** usePortfolioId reads ?id= (a static export has no dynamic routes); call it inside <Suspense>. */
export function usePortfolioId(): string {
  return useSearchParams().get('id') ?? ''
}
