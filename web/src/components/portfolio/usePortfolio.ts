'use client'

import { useEffect } from 'react'
import { useServices } from '../AppProvider'
import { useLoad } from '@/lib/useLoad'
import { appStore, useApp } from '@/store/store'

/** usePortfolio loads the portfolio and its positions, and keeps the live subscription. */
export function usePortfolio(id: string) {
  const { api, live } = useServices()
  const data = useLoad(
    id
      ? async () => {
          const [p, pos] = await Promise.all([api.getPortfolio(id), api.getPositions(id)])
          appStore.getState().upsertPortfolio(p)
          appStore.getState().setPositions(pos)
          return p
        }
      : null,
    [api, id],
  )
  const positions = useApp((s) => s.positions[id])
  const symbols = (positions?.positions ?? []).map((p) => p.symbol).sort().join(',')
  // One subscription per portfolio while the page shows it; symbols join it as the positions
  // arrive (a subscribe adds to what the connection has, so nothing is dropped in between).
  useEffect(() => {
    if (!id) return
    live.subscribe(id)
    return () => live.unsubscribe(id)
  }, [id, live])
  useEffect(() => {
    if (id && symbols) live.subscribe(id, symbols.split(','))
  }, [id, symbols, live])
  return data
}

